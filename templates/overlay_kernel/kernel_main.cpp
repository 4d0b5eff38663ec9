// Verilator harness of overlay_kernel as XRT drives it: every buffer argument in its own
// region of one device memory, each AXI4 master served by a memory model (fixed latency,
// one beat a cycle, bursts queued, rready honoured, write strobes), the arguments written
// and ap_start set through s_axi_control, ap_done polled there, the token read back from
// the out buffer. Run file (one key a line):
//   beat B | buf NAME FILE (prog, wqkv, wo, wffn, kv, act) | prog_len N | init PC | step PC
//   tokens NP NNEW t0 t1 ... | out FILE
//   batch SLOTS, embed PC.., body PC.., head PC.. (batched prefill, as the host runner calls
//   it: per chunk each slot's embedding entry with its token, the chunk's body, after the
//   last chunk the LM head of its last slot; without them the prompt runs through step)
// Output: "step <i> <tok in> <tok out>" per prompt position and generated token (-1: a
// batched prefill position whose call returns no token).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "Voverlay_kernel.h"
#include "verilated.h"
#include "../overlay/ov_axi_mem.h"

static std::map<uint64_t, uint8_t> dev;  // device memory, sparse
static const int LATENCY = 12;
static uint64_t now = 0;

// One AXI4 master's memory model; its signals are bound by reference.
template <class D, class S> struct Master {
    uint64_t &araddr; CData &arlen, &arvalid, &arready; D& rdata; CData &rvalid, &rlast, &rready;
    uint64_t* awaddr; CData *awvalid, *awready; D* wdata; S* wstrb; CData *wvalid, *wready;
    CData *bvalid, *bready;
    int bytes;
    ReadQueue rd{LATENCY};  // a beat a cycle
    std::deque<uint64_t> resp;
    bool ar_take = false, r_take = false, w_take = false, b_take = false;
    uint64_t ar_addr = 0; int ar_len = 0;
    void drive() {  // outputs of the memory, before the clock edge
        arready = rd.accepts();
        bool rv = rd.present(now, bytes);
        rvalid = rv;
        rlast = rv && rd.last();
        if (rv)
            for (int b = 0; b < bytes; b++) put_byte(rdata, b, dev[rd.addr() + b]);
        if (awaddr) { *awready = 1; *wready = 1; *bvalid = !resp.empty() && resp.front() <= now; }
    }
    void sample() {  // what the kernel asked for this cycle
        ar_take = arvalid && arready;
        ar_addr = araddr;
        ar_len = arlen + 1;
        r_take = rvalid && rready;
        w_take = awaddr && *awvalid && *wvalid;
        if (w_take) {
            uint64_t base = *awaddr & ~(uint64_t)(bytes - 1);
            for (int b = 0; b < bytes; b++)
                if (strobe(*wstrb, b)) dev[base + b] = get_byte(*wdata, b);
        }
        b_take = awaddr && *bvalid && *bready;
    }
    void commit() {  // state after the edge
        if (ar_take) rd.request(ar_addr, ar_len, now);
        if (r_take) rd.take(bytes);
        if (w_take) resp.push_back(now + 4);
        if (b_take) resp.pop_front();
    }
};

#define RD(g, D) Master<D, CData>{top->m_axi_##g##_araddr, top->m_axi_##g##_arlen, \
    top->m_axi_##g##_arvalid, top->m_axi_##g##_arready, top->m_axi_##g##_rdata, \
    top->m_axi_##g##_rvalid, top->m_axi_##g##_rlast, top->m_axi_##g##_rready, \
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, beat}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: kernel RUNFILE\n"); return 2; }
    Verilated::commandArgs(1, argv);
    std::ifstream run(argv[1]);
    int beat = 0, prog_len = 0, init_pc = 0, step_pc = 0, n_new = 0;
    std::vector<int> prompt, embed_pc, body_pc, head_pc;
    int slots = 1;
    std::map<std::string, uint64_t> base;
    std::string out_path, line;
    const char* names[] = {"prog", "out", "wqkv", "wo", "wffn", "kv", "act"};
    for (int i = 0; i < 7; i++) base[names[i]] = (uint64_t)(i + 1) << 28;
    while (std::getline(run, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "beat") ls >> beat;
        else if (key == "buf") {
            std::string name, file;
            ls >> name >> file;
            std::ifstream f(file, std::ios::binary);
            std::vector<uint8_t> data(std::istreambuf_iterator<char>(f), {});
            for (size_t i = 0; i < data.size(); i++) dev[base[name] + i] = data[i];
        } else if (key == "prog_len") ls >> prog_len;
        else if (key == "init") ls >> init_pc;
        else if (key == "step") ls >> step_pc;
        else if (key == "batch") ls >> slots;
        else if (key == "embed" || key == "body" || key == "head") {
            std::vector<int>& v = key == "embed" ? embed_pc : key == "body" ? body_pc : head_pc;
            for (int pc; ls >> pc;) v.push_back(pc);
        }
        else if (key == "tokens") {
            int np; ls >> np >> n_new;
            prompt.resize(np);
            for (int& t : prompt) ls >> t;
        } else if (key == "out") ls >> out_path;
    }
    FILE* out = fopen(out_path.c_str(), "w");
    if (!out || beat == 0) { fprintf(stderr, "bad run file\n"); return 2; }

    auto* top = new Voverlay_kernel;
    using DW = std::remove_reference_t<decltype(top->m_axi_wqkv_rdata)>;
    using SW = std::remove_reference_t<decltype(top->m_axi_kv_wstrb)>;
    using PW = std::remove_reference_t<decltype(top->m_axi_prog_rdata)>;
    using OW = std::remove_reference_t<decltype(top->m_axi_out_wdata)>;
    Master<DW, CData> wqkv = RD(wqkv, DW), wo = RD(wo, DW), wffn = RD(wffn, DW), act = RD(act, DW);
    Master<DW, SW> kv{top->m_axi_kv_araddr, top->m_axi_kv_arlen, top->m_axi_kv_arvalid,
        top->m_axi_kv_arready, top->m_axi_kv_rdata, top->m_axi_kv_rvalid, top->m_axi_kv_rlast,
        top->m_axi_kv_rready, &top->m_axi_kv_awaddr, &top->m_axi_kv_awvalid,
        &top->m_axi_kv_awready, &top->m_axi_kv_wdata, &top->m_axi_kv_wstrb,
        &top->m_axi_kv_wvalid, &top->m_axi_kv_wready, &top->m_axi_kv_bvalid,
        &top->m_axi_kv_bready, beat};
    Master<PW, CData> prog{top->m_axi_prog_araddr, top->m_axi_prog_arlen,
        top->m_axi_prog_arvalid, top->m_axi_prog_arready, top->m_axi_prog_rdata,
        top->m_axi_prog_rvalid, top->m_axi_prog_rlast, top->m_axi_prog_rready, nullptr,
        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 32};
    // The out master only writes: its read channel is tied to the unused locals below.
    uint64_t no_ar = 0; CData zero = 0, sink = 0; OW no_r{};
    Master<OW, CData> outm{no_ar, zero, zero, sink, no_r, sink, sink, zero,
        &top->m_axi_out_awaddr, &top->m_axi_out_awvalid, &top->m_axi_out_awready,
        &top->m_axi_out_wdata, &top->m_axi_out_wstrb, &top->m_axi_out_wvalid,
        &top->m_axi_out_wready, &top->m_axi_out_bvalid, &top->m_axi_out_bready, 4};

    auto tick = [&]() {
        wqkv.drive(); wo.drive(); wffn.drive(); kv.drive(); act.drive(); prog.drive(); outm.drive();
        top->ap_clk = 0;
        top->eval();
        wqkv.sample(); wo.sample(); wffn.sample(); kv.sample(); act.sample(); prog.sample();
        outm.sample();
        top->ap_clk = 1;
        top->eval();
        wqkv.commit(); wo.commit(); wffn.commit(); kv.commit(); act.commit(); prog.commit();
        outm.commit();
        now++;
        if (now > 2000000000ull) { fprintf(stderr, "timeout\n"); exit(3); }
    };
    auto write_reg = [&](int addr, uint32_t data) {
        top->s_axi_control_awaddr = addr;
        top->s_axi_control_wdata = data;
        top->s_axi_control_wstrb = 0xf;
        top->s_axi_control_awvalid = 1;
        top->s_axi_control_wvalid = 1;
        top->s_axi_control_bready = 1;
        top->eval();
        while (!(top->s_axi_control_awready && top->s_axi_control_wready)) { tick(); top->eval(); }
        tick();
        top->s_axi_control_awvalid = 0;
        top->s_axi_control_wvalid = 0;
        while (top->s_axi_control_bvalid) tick();
    };
    auto read_reg = [&](int addr) -> uint32_t {
        top->s_axi_control_araddr = addr;
        top->s_axi_control_arvalid = 1;
        top->s_axi_control_rready = 0;
        top->eval();
        while (!top->s_axi_control_arready) { tick(); top->eval(); }
        tick();
        top->s_axi_control_arvalid = 0;
        while (!top->s_axi_control_rvalid) tick();
        uint32_t v = top->s_axi_control_rdata;
        top->s_axi_control_rready = 1;
        tick();
        top->s_axi_control_rready = 0;
        return v;
    };
    auto write64 = [&](int addr, uint64_t v) {
        write_reg(addr, (uint32_t)v);
        write_reg(addr + 4, (uint32_t)(v >> 32));
    };
    top->ap_rst_n = 0;
    for (int i = 0; i < 4; i++) tick();
    top->ap_rst_n = 1;
    tick();
    // buffer arguments: once, as XRT sets them for every run
    write64(0x10, base["prog"]);
    write_reg(0x18, prog_len);
    write64(0x38, base["out"]);
    const char* ports[] = {"wqkv", "wo", "wffn", "kv", "act"};
    for (int i = 0; i < 5; i++) write64(0x40 + 8 * i, base[ports[i]]);
    auto call = [&](int pc, int pos, int tok) -> int {
        write_reg(0x20, pc);
        write_reg(0x28, pos);
        write_reg(0x30, tok);
        if (!(read_reg(0x00) & 4)) { fprintf(stderr, "kernel not idle\n"); exit(4); }
        write_reg(0x00, 1);
        while (!(read_reg(0x00) & 2)) for (int i = 0; i < 64; i++) tick();
        uint64_t o = base["out"];
        return dev[o] | dev[o + 1] << 8 | dev[o + 2] << 16 | dev[o + 3] << 24;
    };
    call(init_pc, 0, 0);
    std::vector<int> seq(prompt);
    int first = 0, np = (int)prompt.size();
    if (slots > 1) {
        if ((int)embed_pc.size() != slots || (int)body_pc.size() != slots
            || (int)head_pc.size() != slots) { fprintf(stderr, "bad batch entries\n"); return 2; }
        for (int p0 = 0; p0 < np; p0 += slots) {
            int n = std::min(slots, np - p0), tok = -1;
            for (int t = 0; t < n; t++) call(embed_pc[t], p0 + t, seq[p0 + t]);
            call(body_pc[n - 1], p0, 0);
            bool last = p0 + n >= np;
            if (last) tok = call(head_pc[n - 1], np - 1, 0);
            for (int t = 0; t < n; t++)
                fprintf(out, "step %d %d %d\n", p0 + t, seq[p0 + t], t == n - 1 ? tok : -1);
            if (last) seq.push_back(tok);
        }
        first = np;
    }
    for (int i = first; i < np + n_new - 1; i++) {
        int tok = call(step_pc, i, seq[i]);
        fprintf(out, "step %d %d %d\n", i, seq[i], tok);
        if (i >= (int)prompt.size() - 1) seq.push_back(tok);
    }
    fclose(out);
    top->final();
    delete top;
    return 0;
}
