// tb_spatial: C-simulation testbench of spatial_top. Reads the memory image and a prompt,
// runs the prefill and n_new - 1 greedy decode steps, and prints the LM-head accumulators
// after each (one line of VOCAB integers), the same values overlay/reference.py returns.
//   usage: tb image.txt prompt.txt out.txt
#include <cstdio>
#include <vector>

#include "spatial_top.h"

static bool read_ints(const char* path, std::vector<int64_t>& out) {
    FILE* f = std::fopen(path, "r");
    if (!f) return false;
    long long v;
    while (std::fscanf(f, "%lld", &v) == 1) out.push_back(v);
    std::fclose(f);
    return true;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s image.txt prompt.txt out.txt\n", argv[0]);
        return 2;
    }
    std::vector<int64_t> img, pr;
    if (!read_ints(argv[1], img) || !read_ints(argv[2], pr) || pr.size() < 2) {
        std::fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    std::vector<int32_t> mem(img.begin(), img.end());
    const int n_new = static_cast<int>(pr[0]);
    std::vector<int32_t> toks(pr.begin() + 1, pr.end());
    const int n_prompt = static_cast<int>(toks.size());
    if (n_prompt + n_new - 1 > MAXPOS) {
        std::fprintf(stderr, "prompt + new tokens exceed MAXPOS=%d\n", MAXPOS);
        return 2;
    }
    FILE* out = std::fopen(argv[3], "w");
    if (!out) return 2;
    std::vector<int64_t> logits(VOCAB);
    spatial_top(mem.data(), toks.data(), n_prompt, 0, logits.data());
    for (int step = 0; step < n_new; ++step) {
        int best = 0;
        for (int v = 0; v < VOCAB; ++v) {
            std::fprintf(out, "%lld%c", static_cast<long long>(logits[v]), v + 1 < VOCAB ? ' ' : '\n');
            if (logits[v] > logits[best]) best = v;
        }
        if (step + 1 == n_new) break;
        int32_t tok = best;
        spatial_top(mem.data(), &tok, 1, n_prompt + step, logits.data());
    }
    std::fclose(out);
    return 0;
}
