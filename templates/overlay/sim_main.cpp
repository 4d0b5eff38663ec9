// Verilator harness of the overlay core: AXI memory model per port (latency, bytes per
// cycle), program load, init, prefill, then greedy decode token by token. Prefill is the
// prompt's tokens through the step program, or (run-file lines batch/embed/body/head) in
// chunks of `batch` tokens: each slot's embedding entry started with its token, the
// chunk's body, after the last chunk the LM head of its last slot; a chunk's cycles are
// reported on its last token's step line (0 on the others). Reads a run file, writes:
//   init_cycles N
//   step <i> <pos> <tok> <out> <cycles>
//   x <i> v0 v1 ...          (residual stream after the last layer, from the debug port)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "Voverlay_core.h"
#include "verilated.h"
#include "ov_axi_mem.h"

struct Port {
    std::vector<uint8_t> mem;
    ReadQueue rd;  // latency and rate from the run file's port line
};

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: sim RUNFILE\n"); return 2; }
    Verilated::commandArgs(1, argv);
    std::ifstream run(argv[1]);
    if (!run) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    int beat = 0, init_pc = 0, step_pc = 0, xaddr = 0, d = 0, mut = 0, n_new = 0, wlat = 40;
    std::vector<Port> ports(5);
    std::vector<std::vector<uint32_t>> prog;
    std::vector<int> prompt, embed_pc, body_pc, head_pc;
    int slots = 1, xbatch = 0;
    std::string out_path, line;
    while (std::getline(run, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "beat") ls >> beat;
        else if (key == "port") {
            int i; std::string file;
            ls >> i;
            ls >> ports[i].rd.latency >> ports[i].rd.bpc >> file;
            std::ifstream f(file, std::ios::binary);
            ports[i].mem.assign(std::istreambuf_iterator<char>(f), {});
        } else if (key == "wlat") ls >> wlat;
        else if (key == "prog") {
            std::string file; ls >> file;
            std::ifstream f(file);
            std::string w;
            while (f >> w) {
                std::vector<uint32_t> words(8);
                for (int k = 0; k < 8; k++)
                    words[7 - k] = (uint32_t)std::stoul(w.substr(8 * k, 8), nullptr, 16);
                prog.push_back(words);
            }
        } else if (key == "init") ls >> init_pc;
        else if (key == "step") ls >> step_pc;
        else if (key == "xaddr") ls >> xaddr >> d;
        else if (key == "batch") ls >> slots >> xbatch;
        else if (key == "embed" || key == "body" || key == "head") {
            std::vector<int>& v = key == "embed" ? embed_pc : key == "body" ? body_pc : head_pc;
            for (int pc; ls >> pc;) v.push_back(pc);
        }
        else if (key == "mut") ls >> mut;
        else if (key == "tokens") {
            int np; ls >> np >> n_new;
            prompt.resize(np);
            for (int& t : prompt) ls >> t;
        } else if (key == "out") ls >> out_path;
    }
    FILE* out = fopen(out_path.c_str(), "w");
    if (!out) { fprintf(stderr, "cannot write %s\n", out_path.c_str()); return 2; }

    Voverlay_core* top = new Voverlay_core;
    uint64_t now = 0;
    std::deque<uint64_t> bq;  // write responses: cycle they are due
    auto tick = [&]() {
        // present memory responses
        for (int p = 0; p < 5; p++) {
            Port& P = ports[p];
            bool rv = P.rd.present(now, beat);
            top->rvalid = (top->rvalid & ~(1u << p)) | ((rv ? 1u : 0u) << p);
            top->rlast = (top->rlast & ~(1u << p)) | (((rv && P.rd.last()) ? 1u : 0u) << p);
            if (rv) {
                uint64_t a = P.rd.addr();
                for (int b = 0; b < beat; b++)
                    put_byte(top->rdata, p * beat + b, a + b < P.mem.size() ? P.mem[a + b] : 0);
            }
            top->arready = (top->arready & ~(1u << p)) | ((P.rd.accepts() ? 1u : 0u) << p);
        }
        top->awready = 1;
        top->wready = 1;
        top->bvalid = (!bq.empty() && bq.front() <= now) ? 1 : 0;
        top->clk = 0;
        top->eval();
        // sample requests, then the clock edge
        uint8_t arv = top->arvalid, arr = top->arready, rv = top->rvalid;
        uint64_t req_addr[5]; int req_len[5];
        for (int p = 0; p < 5; p++) {
            req_addr[p] = get_word(top->araddr, p);
            req_len[p] = get_byte(top->arlen, p) + 1;
        }
        bool wr = top->awvalid && top->wvalid;
        uint64_t waddr = top->awaddr;
        int lane = -1; uint8_t wbyte = 0;
        for (int b = 0; b < beat; b++)
            if ((get_byte(top->wstrb, b / 8) >> (b % 8)) & 1) { lane = b; wbyte = get_byte(top->wdata, b); }
        bool bv = top->bvalid;
        top->clk = 1;
        top->eval();
        for (int p = 0; p < 5; p++) {
            Port& P = ports[p];
            if ((arv >> p) & 1 & (arr >> p)) P.rd.request(req_addr[p], req_len[p], now);
            if ((rv >> p) & 1) P.rd.take(beat);
        }
        if (wr && lane >= 0) {
            if (waddr < ports[3].mem.size()) ports[3].mem[waddr] = wbyte;
            bq.push_back(now + wlat);
        }
        if (bv) bq.pop_front();
        now++;
    };
    // reset, program load
    top->rst = 1;
    top->mut = mut;
    for (int i = 0; i < 4; i++) tick();
    top->rst = 0;
    for (size_t i = 0; i < prog.size(); i++) {
        top->imem_we = 1;
        top->imem_addr = (uint16_t)i;
        for (int k = 0; k < 8; k++) top->imem_wdata[k] = prog[i][k];
        tick();
    }
    top->imem_we = 0;
    auto run_from = [&](int pc, int pos, int tok) -> uint64_t {
        top->start_pc = pc;
        top->pos_in = pos;
        top->tok_in = tok;
        top->start = 1;
        uint64_t t0 = now;
        tick();
        top->start = 0;
        while (!top->done) {
            tick();
            if (now - t0 > 200000000ull) { fprintf(stderr, "timeout at pc\n"); exit(3); }
        }
        return now - t0;
    };
    fprintf(out, "init_cycles %llu\n", (unsigned long long)run_from(init_pc, 0, 0));
    auto dump_x = [&](int i, int base) {
        fprintf(out, "x %d", i);
        for (int j = 0; j < d; j++) {
            top->dbg_addr = base + j;
            tick();  // the scratchpad read is synchronous
            fprintf(out, " %d", (int)(int32_t)top->dbg_data);
        }
        fprintf(out, "\n");
    };
    std::vector<int> seq(prompt);
    int total = (int)prompt.size() + n_new - 1, first = 0, np = (int)prompt.size();
    if (slots > 1) {
        for (int p0 = 0; p0 < np; p0 += slots) {
            int n = std::min(slots, np - p0), tok = -1;
            uint64_t cyc = 0;
            for (int t = 0; t < n; t++) cyc += run_from(embed_pc[t], p0 + t, seq[p0 + t]);
            cyc += run_from(body_pc[n - 1], p0, 0);
            bool last = p0 + n >= np;
            if (last) {
                cyc += run_from(head_pc[n - 1], p0 + n - 1, 0);
                tok = top->out_token;
            }
            for (int t = 0; t < n; t++) {
                int i = p0 + t;
                fprintf(out, "step %d %d %d %d %llu\n", i, i, seq[i], t == n - 1 ? tok : -1,
                        (unsigned long long)(t == n - 1 ? cyc : 0));
                dump_x(i, xbatch + t * d);
            }
            if (last) seq.push_back(tok);
        }
        first = np;
    }
    for (int i = first; i < total; i++) {
        uint64_t cyc = run_from(step_pc, i, seq[i]);
        int tok = top->out_token;
        fprintf(out, "step %d %d %d %d %llu\n", i, i, seq[i], tok, (unsigned long long)cyc);
        dump_x(i, xaddr);
        if (i + 1 >= (int)prompt.size() && (int)seq.size() == i + 1) seq.push_back(tok);
    }
    for (int p = 0; p < 5; p++) fprintf(out, "bytes %d %llu\n", p, (unsigned long long)ports[p].rd.bytes);
    fclose(out);
    top->final();
    delete top;
    return 0;
}
