// Verilator harness of the spatial RTL (sp_top): reset, then the prompt as one call and
// n_new - 1 greedy decode calls of one token each. The ROMs load rom/*.hex from the
// working directory, so one binary serves every model of a plan. Reads a run file
//   vocab V
//   tokens <n_prompt> <n_new> t0 t1 ...
//   out <path>
// and writes, per call:
//   call <i> <n_tok> <pos0> <cycles from start to done>
//   logits v0 v1 ... (the LM-head accumulators of the call's last token)
// A point with streamed weights (spatial/rtl.py renders this file with SP_STREAM defined)
// has GEMVs that read their rows from memory ports; the run file then also names
//   mem <image file> <bits of a port's slot of wm_r_d>
//   group <g> <latency cycles> <bytes a cycle>   (per tensor group: shared by its ports)
//   port <i> <g> <bytes a beat> <beats a burst>
// and the harness serves them (spatial/rtl_stream.py says what the numbers are): a burst's
// first beat comes `latency` cycles after its request, a port takes a beat a cycle at most,
// and a group delivers its bytes a cycle over its ports, round robin.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "Vsp_top.h"
#include "verilated.h"

// A bit field of a Verilator port: an integer up to 64 bits, else 32-bit words.
template <class T> static bool get_bit(const T& v, int i) {
    if constexpr (std::is_integral_v<T>) return ((uint64_t)v >> i) & 1;
    else return (v[i / 32] >> (i % 32)) & 1;
}
template <class T> static void set_bit(T& v, int i, bool b) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t m = (uint64_t)1 << i;
        v = (T)(b ? ((uint64_t)v | m) : ((uint64_t)v & ~m));
    } else {
        uint32_t m = 1u << (i % 32);
        v[i / 32] = b ? (v[i / 32] | m) : (v[i / 32] & ~m);
    }
}
template <class T> static uint32_t get_word(const T& v, int i) {
    if constexpr (std::is_integral_v<T>) return (uint32_t)((uint64_t)v >> (32 * i));
    else return v[i];
}
template <class T> static void set_word(T& v, int i, uint32_t w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t m = (uint64_t)0xffffffffu << (32 * i);
        v = (T)(((uint64_t)v & ~m) | ((uint64_t)w << (32 * i)));
    } else v[i] = w;
}

struct Burst { uint64_t addr; int beats; uint64_t ready; };
struct MemPort { int group = 0, bb = 1, beats = 1; std::deque<Burst> q; };
struct MemGroup { int latency = 0; double bpc = 1, credit = 0; size_t rr = 0; std::vector<int> ports; };

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: sim RUNFILE\n"); return 2; }
    Verilated::commandArgs(1, argv);
    std::ifstream run(argv[1]);
    if (!run) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    int vocab = 0, n_new = 0, slot = 32;
    std::vector<int> prompt;
    std::vector<uint8_t> mem;
    std::vector<MemPort> mports;
    std::vector<MemGroup> groups;
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
        else if (key == "mem") {
            std::string file; ls >> file >> slot;
            std::ifstream f(file, std::ios::binary);
            mem.assign(std::istreambuf_iterator<char>(f), {});
        } else if (key == "group") {
            int g; ls >> g;
            if (g >= (int)groups.size()) groups.resize(g + 1);
            ls >> groups[g].latency >> groups[g].bpc;
        } else if (key == "port") {
            int i; ls >> i;
            if (i >= (int)mports.size()) mports.resize(i + 1);
            ls >> mports[i].group >> mports[i].bb >> mports[i].beats;
        }
    }
    for (size_t i = 0; i < mports.size(); i++) {
        if (mports[i].group >= (int)groups.size()) { fprintf(stderr, "bad port group\n"); return 2; }
        groups[mports[i].group].ports.push_back((int)i);
    }
    FILE* out = fopen(out_path.c_str(), "w");
    if (!out || vocab <= 0 || prompt.empty()) { fprintf(stderr, "bad run file\n"); return 2; }
    Vsp_top* top = new Vsp_top;
    std::vector<int64_t> logits;
    uint64_t now = 0;
    // The memory ports, before an edge: requests (the RTL bounds the bursts in flight),
    // then beats where a port is ready, its group has the bytes, and its
    // oldest burst's latency has passed.
    auto serve = [&]() {
#ifdef SP_STREAM
        for (size_t i = 0; i < mports.size(); i++) {
            MemPort& p = mports[i];
            set_bit(top->wm_ar_r, (int)i, true);  // a request is always taken
            set_bit(top->wm_r_v, (int)i, false);
            if (get_bit(top->wm_ar_v, (int)i)) {
                uint64_t a = get_word(top->wm_ar_a, (int)i);
                p.q.push_back({a, p.beats, now + (uint64_t)groups[p.group].latency});
            }
        }
        for (MemGroup& g : groups) {
            double most = 0;
            for (int i : g.ports) most = std::max(most, (double)mports[i].bb);
            g.credit = std::min(g.credit + g.bpc, most + g.bpc);
            size_t n = g.ports.size(), first = g.rr;
            for (size_t k = 0; k < n; k++) {
                int i = g.ports[(first + k) % n];
                MemPort& p = mports[i];
                if (p.q.empty() || p.q.front().ready > now || !get_bit(top->wm_r_r, i)) continue;
                if (g.credit < p.bb) break;  // the group's bytes this cycle are spent
                Burst& b = p.q.front();
                for (int w = 0; w < slot / 32; w++) {
                    uint32_t v = 0;
                    for (int j = 0; j < 4 && 4 * w + j < p.bb; j++)
                        if (b.addr + 4 * w + j < mem.size()) v |= (uint32_t)mem[b.addr + 4 * w + j] << (8 * j);
                    set_word(top->wm_r_d, i * slot / 32 + w, v);
                }
                set_bit(top->wm_r_v, i, true);
                g.credit -= p.bb;
                b.addr += p.bb;
                if (--b.beats == 0) p.q.pop_front();
                g.rr = (first + k + 1) % n;  // the next cycle starts after the last served
            }
        }
#endif
    };
    auto tick = [&]() {
        top->clk = 0;
        top->eval();
        if (top->lg_v) logits.push_back((int64_t)top->lg_d);  // taken at this edge
        if (!mports.empty()) {
            serve();
            top->eval();
        }
        ++now;
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
