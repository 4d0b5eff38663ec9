// Verilator harness of the spatial RTL (sp_top): reset, then the prompt as one call and
// n_new - 1 greedy decode calls of one token each. The ROMs load rom/*.hex from the
// working directory, so one binary serves every model of a plan. Reads a run file
//   vocab V
//   tokens <n_prompt> <n_new> t0 t1 ...
//   out <path>
// and writes, per call:
//   call <i> <n_tok> <pos0> <cycles from start to done>
//   logits v0 v1 ... (the LM-head accumulators of the call's last token)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "Vsp_top.h"
#include "verilated.h"

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: sim RUNFILE\n"); return 2; }
    Verilated::commandArgs(1, argv);
    std::ifstream run(argv[1]);
    if (!run) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    int vocab = 0, n_new = 0;
    std::vector<int> prompt;
    std::string out_path, line;
    while (std::getline(run, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "vocab") ls >> vocab;
        else if (key == "tokens") {
            int np; ls >> np >> n_new;
            prompt.resize(np);
            for (int& t : prompt) ls >> t;
        } else if (key == "out") ls >> out_path;
    }
    FILE* out = fopen(out_path.c_str(), "w");
    if (!out || vocab <= 0 || prompt.empty()) { fprintf(stderr, "bad run file\n"); return 2; }
    Vsp_top* top = new Vsp_top;
    std::vector<int64_t> logits;
    auto tick = [&]() {
        top->clk = 0;
        top->eval();
        if (top->lg_v) logits.push_back((int64_t)top->lg_d);  // taken at this edge
        top->clk = 1;
        top->eval();
    };
    top->rst = 1;
    for (int i = 0; i < 4; i++) tick();
    top->rst = 0;
    auto call = [&](const std::vector<int>& toks, int pos0) -> uint64_t {
        for (size_t i = 0; i < toks.size(); i++) {
            top->tok_we = 1;
            top->tok_wa = (uint16_t)i;
            top->tok_wd = (uint16_t)toks[i];
            tick();
        }
        top->tok_we = 0;
        logits.clear();
        top->n_tok = (uint16_t)toks.size();
        top->pos0 = (uint16_t)pos0;
        top->start = 1;
        uint64_t cycles = 0;
        tick();
        top->start = 0;
        while (!top->done) {
            tick();
            if (++cycles > 100000000ull) { fprintf(stderr, "timeout\n"); exit(3); }
        }
        return cycles + 1;  // the start edge included
    };
    std::vector<int> seq = prompt;
    int pos = 0;
    std::vector<int> toks = prompt;
    for (int i = 0; i < n_new; i++) {
        uint64_t cyc = call(toks, pos);
        if ((int)logits.size() != vocab) {
            fprintf(stderr, "call %d: %zu logits, expected %d\n", i, logits.size(), vocab);
            return 3;
        }
        fprintf(out, "call %d %zu %d %llu\nlogits", i, toks.size(), pos, (unsigned long long)cyc);
        int best = 0;
        for (int v = 0; v < vocab; v++) {
            fprintf(out, " %lld", (long long)logits[v]);
            if (logits[v] > logits[best]) best = v;
        }
        fprintf(out, "\n");
        pos += (int)toks.size();
        toks.assign(1, best);
    }
    fclose(out);
    top->final();
    delete top;
    return 0;
}
