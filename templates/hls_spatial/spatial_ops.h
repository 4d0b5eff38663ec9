// spatial_ops.h: the operator kernels of the spatial (dataflow) top, one per operator.
//
// The arithmetic is docs/overlay.md's (overlay/arith.py): int8 activations, int W4/W8
// weights with integer group scales, requantisation sat8((acc*M + 2^(sh-1)) >> sh),
// LayerNorm/RMSNorm with an integer square root, LUT softmax and activations, Q1.14 RoPE.
// Kernels talk through hls::stream<act_t>, one int8 element per word, token-major; a GEMV
// reads a whole tile of TILE tokens before it emits, so each weight row is used by the
// tile. The other kernels work token by token; every kernel runs all tokens of a call.
#ifndef SPATIAL_OPS_H
#define SPATIAL_OPS_H

#include <cstdint>

#include "dse_types.h"
#include "hls_stream_shim.h"

typedef dse_int<8> act_t;
typedef hls::stream<act_t> astream;
#ifdef __SYNTHESIS__
typedef ap_int<96> wide_t;
#else
typedef __int128 wide_t;
#endif

static inline int64_t sat8(int64_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); }

// sat8((acc * M + 2^(sh-1)) >> sh), floor shift: round half up.
static inline int64_t requant(int64_t acc, const int32_t* rq) {
    const wide_t p = static_cast<wide_t>(acc) * rq[0] + (static_cast<wide_t>(1) << (rq[1] - 1));
    return sat8(static_cast<int64_t>(p >> rq[1]));
}

// floor(sqrt(v)), bit-serial restoring square root.
static inline uint64_t isqrt_u(uint64_t v) {
    uint64_t r = 0, bit = uint64_t{1} << 62;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

// LayerNorm (ln) or RMSNorm of one int8 vector; p: gamma[D], beta[D], then (M, sh).
template <int D>
void norm_vec(const int64_t x[D], const int32_t* g, const int32_t* b, const int32_t* rq,
              bool ln, int64_t y[D]) {
    int64_t s = 0, q = 0;
    for (int i = 0; i < D; ++i) {
        s += x[i];
        q += x[i] * x[i];
    }
    if (!ln) s = 0;
    const int64_t v = D * q - s * s;
    const uint64_t r = isqrt_u(static_cast<uint64_t>(v + 1));
    const int64_t inv = (int64_t{1} << 30) / static_cast<int64_t>(r ? r : 1);
    for (int i = 0; i < D; ++i) {
        const int64_t t = ((D * x[i] - s) * inv + (int64_t{1} << 17)) >> 18;
        const int64_t z = (t * g[i] * rq[0] + (int64_t{1} << (rq[1] - 1))) >> rq[1];
        y[i] = sat8(z + b[i]);
    }
}

// Norm kernel: a tile of T vectors in; the normalised vector to NOUT consumers and the
// input itself to the residual (skip) stream (SKIP 1) — or the normalised vector, which is
// the residual stream of a post-LN encoder (SKIP 2), or nothing (SKIP 0).
template <int D, int NOUT, int SKIP = 1>
void k_norm(astream& in, astream& skip, astream& o0, astream& o1, astream& o2, int T,
            const int32_t* g, const int32_t* b, const int32_t* rq, bool ln) {
norm_tok:
    for (int t = 0; t < T; ++t) {
        int64_t x[D], y[D];
        for (int i = 0; i < D; ++i) {
#pragma HLS pipeline II=1
            x[i] = in.read();
            if (SKIP == 1) skip.write(x[i]);
        }
        norm_vec<D>(x, g, b, rq, ln, y);
        for (int i = 0; i < D; ++i) {
#pragma HLS pipeline II=1
            if (SKIP == 2) skip.write(y[i]);
            o0.write(y[i]);
            if (NOUT > 1) o1.write(y[i]);
            if (NOUT > 2) o2.write(y[i]);
        }
    }
}

// y = requant(W x) for a tile of T tokens. W is ROWS x K, GROUP weights per scale; SPARSE
// stores NN values of every MM with their in-block offsets. STREAM reads each row from the
// memory port into a double buffer (the next row loads while this one is used by T tokens);
// otherwise the rows are read from the on-chip weight memory.
template <int ROWS, int K, int GROUP, bool SPARSE, int NN, int MM, int UNROLL, bool STREAM,
          int TILE>
void gemv_tile(astream& in, astream& out, int T, const int32_t* w, const int32_t* ix,
               const int32_t* sc, const int32_t* rq) {
    constexpr int KS = SPARSE ? K / MM * NN : K;  // stored weights per row
    constexpr int GS = SPARSE ? GROUP / MM * NN : GROUP;
    constexpr int NG = K / GROUP;
    act_t xb[TILE][K];
#pragma HLS array_partition variable=xb cyclic factor=UNROLL dim=2
    act_t yb[TILE][ROWS];
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < K; ++c) {
#pragma HLS pipeline II=1
            xb[t][c] = in.read();
        }
    int32_t wbuf[STREAM ? 2 : 1][KS], ibuf[STREAM ? 2 : 1][KS];
#pragma HLS array_partition variable=wbuf cyclic factor=UNROLL dim=2
    auto load = [&](int r, int slot) {
        for (int j = 0; j < KS; ++j) {
#pragma HLS pipeline II=1
            wbuf[slot][j] = w[r * KS + j];
            ibuf[slot][j] = SPARSE ? ix[r * KS + j] : 0;
        }
    };
    if (STREAM) load(0, 0);
rows:
    for (int r = 0; r < ROWS; ++r) {
        const int cur = r & 1;
        if (STREAM && r + 1 < ROWS) load(r + 1, cur ^ 1);  // overlaps the row's MACs
        // On chip the row is read in place; streamed, from the buffer loaded last row.
        const int32_t* wr = STREAM ? wbuf[cur] : w + r * KS;
        const int32_t* ir = STREAM ? ibuf[cur] : (SPARSE ? ix + r * KS : nullptr);
        for (int t = 0; t < T; ++t) {
            int64_t acc = 0;
            for (int g = 0; g < NG; ++g) {
                int64_t part = 0;
            macs:
                for (int j = 0; j < GS; ++j) {
#pragma HLS pipeline II=1
#pragma HLS unroll factor=UNROLL
#ifdef SPATIAL_BREAK_SPARSE  // deliberately broken: the in-block offset is ignored
                    const int off = 0;
#else
                    const int off = SPARSE ? ir[g * GS + j] : 0;
#endif
                    const int col = SPARSE ? g * GROUP + (j / NN) * MM + off : g * GROUP + j;
                    part += static_cast<int64_t>(wr[g * GS + j]) * xb[t][col];
                }
#ifdef SPATIAL_BREAK_SCALE  // deliberately broken: the group scale is dropped
                acc += part;
#else
                acc += part * sc[r * NG + g];
#endif
            }
            yb[t][r] = requant(acc, rq);
            if (T == 1) out.write(yb[0][r]);  // one token: each row leaves as it is done
        }
    }
    if (T > 1)  // token-major order for the next kernel
        for (int t = 0; t < T; ++t)
            for (int r = 0; r < ROWS; ++r) {
#pragma HLS pipeline II=1
                out.write(yb[t][r]);
            }
}

// One token, consumed as it arrives (after a kernel that streams its output: attention,
// the activation): a block of CH inputs updates every row's partial sum, UNROLL MACs a
// cycle across rows; the outputs leave after the last block. Same sums as gemv_tile.
template <int ROWS, int K, int GROUP, bool SPARSE, int NN, int MM, int UNROLL, int CH>
void gemv_columns(astream& in, astream& out, const int32_t* w, const int32_t* ix,
                  const int32_t* sc, const int32_t* rq) {
    constexpr int KS = SPARSE ? K / MM * NN : K;
    constexpr int GS = SPARSE ? GROUP / MM * NN : GROUP;
    constexpr int NG = K / GROUP;
    constexpr int CHS = SPARSE ? CH / MM * NN : CH;  // stored weights of a block
    static_assert(GROUP % CH == 0 && (!SPARSE || CH % MM == 0), "blocks tile the groups");
    int64_t part[ROWS], acc[ROWS];
#pragma HLS array_partition variable=part cyclic factor=UNROLL
    for (int r = 0; r < ROWS; ++r) part[r] = acc[r] = 0;
blocks:
    for (int b = 0; b < K / CH; ++b) {
        act_t xc[CH];
        for (int c = 0; c < CH; ++c) xc[c] = in.read();
        const int g = b * CH / GROUP;
        const int j0 = g * GS + (b * CH % GROUP) / CH * CHS;  // first stored weight of the block
        for (int r = 0; r < ROWS; ++r) {
#pragma HLS pipeline II=1
#pragma HLS unroll factor=UNROLL
            for (int j = 0; j < CHS; ++j) {
#ifdef SPATIAL_BREAK_SPARSE
                const int off = 0;
#else
                const int off = SPARSE ? ix[r * KS + j0 + j] : 0;
#endif
                const int col = SPARSE ? (j / NN) * MM + off : j;
                part[r] += static_cast<int64_t>(w[r * KS + j0 + j]) * xc[col];
            }
            if ((b + 1) * CH % GROUP == 0) {  // the group is complete: scale it
#ifdef SPATIAL_BREAK_SCALE
                acc[r] += part[r];
#else
                acc[r] += part[r] * sc[r * NG + g];
#endif
                part[r] = 0;
            }
        }
    }
    for (int r = 0; r < ROWS; ++r) {
#pragma HLS pipeline II=1
        out.write(requant(acc[r], rq));
    }
}

// The GEMV kernel: the tokens of a call in tiles of TILE, one after another (the kernels
// downstream work on tile i while this one computes tile i + 1).
// COLS (on-chip weights only, CH inputs a block): a single token is consumed as it arrives.
template <int ROWS, int K, int GROUP, bool SPARSE, int NN, int MM, int UNROLL, bool STREAM,
          int TILE, int COLS_CH = 0>
void k_gemv(astream& in, astream& out, int n, const int32_t* w, const int32_t* ix,
            const int32_t* sc, const int32_t* rq) {
    if (COLS_CH > 0 && n == 1) {
        gemv_columns<ROWS, K, GROUP, SPARSE, NN, MM, UNROLL, (COLS_CH > 0 ? COLS_CH : GROUP)>(
            in, out, w, ix, sc, rq);
        return;
    }
tiles:
    for (int t0 = 0; t0 < n; t0 += TILE)
        gemv_tile<ROWS, K, GROUP, SPARSE, NN, MM, UNROLL, STREAM, TILE>(
            in, out, n - t0 < TILE ? n - t0 : TILE, w, ix, sc, rq);
}

// Rotate-half RoPE per head with Q1.14 tables (row pos of cos/sin, HD/2 each).
template <int NH, int HD>
void k_rope(astream& in, astream& out, int T, int pos0, const int32_t* cs, const int32_t* sn) {
    for (int t = 0; t < T; ++t) {
        const int32_t* c = cs + (pos0 + t) * (HD / 2);
        const int32_t* s = sn + (pos0 + t) * (HD / 2);
        for (int h = 0; h < NH; ++h) {
            int64_t x[HD];
            for (int i = 0; i < HD; ++i) x[i] = in.read();
            for (int i = 0; i < HD; ++i) {
#pragma HLS pipeline II=1
                const int j = i % (HD / 2);
#ifdef SPATIAL_BREAK_ROPE  // a deliberately broken operator (the tests must catch it)
                const int64_t sgn = -1;
#else
                const int64_t sgn = 1;
#endif
                const int64_t v = i < HD / 2 ? x[j] * c[j] - sgn * x[j + HD / 2] * s[j]
                                             : x[j + HD / 2] * c[j] + sgn * x[j] * s[j];
                out.write(sat8((v + (1 << 13)) >> 14));
            }
        }
    }
}

// Attention of a tile. CAUSAL: each token appends its K, V at pos0 + t and attends to
// positions 0..pos0 + t. Else (an encoder): every token's q, K, V are read first, then each
// attends to all positions pos0..pos0 + T - 1 (no mask). UNROLL MACs/cycle per matmul.
template <int NH, int NKV, int HD, int MAXPOS, int UNROLL, bool CAUSAL = true>
void k_attention(astream& qs, astream& ks, astream& vs, astream& out, int T, int pos0,
                 act_t* kbuf, act_t* vbuf, const int32_t* rq_score, const int32_t* rq_ctx,
                 const int32_t* lut_exp) {
    constexpr int DKV = NKV * HD, GRP = NH / NKV, DQ = NH * HD;
    act_t qall[CAUSAL ? DQ : MAXPOS * DQ];
    auto read_tok = [&](int t) {
        const int pos = pos0 + t;
        for (int i = 0; i < DQ; ++i) qall[(CAUSAL ? 0 : t * DQ) + i] = qs.read();
        for (int i = 0; i < DKV; ++i) kbuf[pos * DKV + i] = ks.read();
        for (int i = 0; i < DKV; ++i) vbuf[pos * DKV + i] = vs.read();
    };
    if (!CAUSAL)
        for (int t = 0; t < T; ++t) read_tok(t);
    for (int t = 0; t < T; ++t) {
        if (CAUSAL) read_tok(t);
#ifdef SPATIAL_BREAK_MASK  // a deliberately causal encoder (the tests must catch it)
        const int pos = pos0 + t;
#else
        const int pos = CAUSAL ? pos0 + t : pos0 + T - 1;  // the last position attended to
#endif
        const act_t* q = qall + (CAUSAL ? 0 : t * DQ);
        for (int h = 0; h < NH; ++h) {
            const int g = (h / GRP) * HD;
            int64_t sc[MAXPOS], e[MAXPOS];
            int64_t mx = -128;
            for (int j = 0; j <= pos; ++j) {
                int64_t acc = 0;
                for (int d = 0; d < HD; ++d) {
#pragma HLS unroll factor=UNROLL
                    acc += static_cast<int64_t>(kbuf[j * DKV + g + d]) * q[h * HD + d];
                }
                sc[j] = requant(acc, rq_score);
                mx = sc[j] > mx ? sc[j] : mx;
            }
            int64_t sum = 0;
            for (int j = 0; j <= pos; ++j) {
                e[j] = lut_exp[mx - sc[j]];
                sum += e[j];
            }
            const int64_t r = (int64_t{1} << 31) / (sum > 1 ? sum : 1);
            for (int j = 0; j <= pos; ++j) {
                const int64_t p = (e[j] * r + (int64_t{1} << 23)) >> 24;
                e[j] = p < 127 ? p : 127;
            }
            for (int d = 0; d < HD; ++d) {
                int64_t acc = 0;
                for (int j = 0; j <= pos; ++j) {
#pragma HLS unroll factor=UNROLL
                    acc += e[j] * vbuf[j * DKV + g + d];
                }
                out.write(requant(acc, rq_ctx));
            }
        }
    }
}

// GELU (GPT) from the up stream, or SwiGLU: requant(SiLU(gate) * up).
template <int N, bool GLU>
void k_act(astream& up, astream& gate, astream& out, int T, const int32_t* lut,
           const int32_t* rq_mid) {
    for (int i = 0; i < T * N; ++i) {
#pragma HLS pipeline II=1
        const int64_t u = up.read();
        if (GLU) {
            const int64_t a = lut[static_cast<int64_t>(gate.read()) & 0xff];
            out.write(requant(a * u, rq_mid));
        } else {
            out.write(lut[u & 0xff]);
        }
    }
}

// A post-LN encoder layer's input to the residual stream and the three q/k/v GEMVs.
template <int N>
void k_fork(astream& in, astream& o0, astream& o1, astream& o2, astream& o3, int T) {
    for (int i = 0; i < T * N; ++i) {
#pragma HLS pipeline II=1
        const act_t x = in.read();
        o0.write(x);
        o1.write(x);
        o2.write(x);
        o3.write(x);
    }
}

// Residual add, saturating.
template <int N>
void k_add(astream& a, astream& b, astream& out, int T) {
    for (int i = 0; i < T * N; ++i) {
#pragma HLS pipeline II=1
        out.write(sat8(static_cast<int64_t>(a.read()) + b.read()));
    }
}

#endif  // SPATIAL_OPS_H
