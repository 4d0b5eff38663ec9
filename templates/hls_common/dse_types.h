// dse_types.h: fixed-width integer types and math shared by the HLS templates.
//
// Under Vitis HLS (__SYNTHESIS__ defined) dse_int<W> / dse_uint<W> are ap_int<W> /
// ap_uint<W>. Everywhere else (plain g++ C simulation, no Xilinx headers needed) they are a
// small class holding an int64_t that wraps to W bits on every store, which reproduces
// ap_int's behaviour for the kernels here: operands convert to int64_t, so a product or a sum
// is computed exactly (as ap_int widens its result) and is truncated with sign extension
// (signed) or zero extension (unsigned) only when stored into a W-bit variable.
// Keep kernels to +, -, *, comparisons, casts and compound assignment; ap_int extras such as
// range() or bit slicing have no equivalent here.
#ifndef DSE_TYPES_H
#define DSE_TYPES_H

#include <cstdint>

#ifdef __SYNTHESIS__
#include <ap_int.h>
#include <hls_math.h>

template <int W>
using dse_int = ap_int<W>;
template <int W>
using dse_uint = ap_uint<W>;

inline float dse_expf(float x) { return hls::exp(x); }

#else
#include <cmath>

template <int W, bool Signed>
class dse_fixed_int {
    static_assert(W >= 1 && W <= 64, "dse_int width must be in [1, 64]");

  public:
    constexpr dse_fixed_int() : v_(0) {}
    // Implicit, like ap_int: storing any integer wraps it to W bits.
    constexpr dse_fixed_int(int64_t v) : v_(wrap(v)) {}  // NOLINT(google-explicit-constructor)
    template <int W2, bool S2>
    constexpr dse_fixed_int(dse_fixed_int<W2, S2> o) : v_(wrap(static_cast<int64_t>(o))) {}

    constexpr operator int64_t() const { return v_; }  // NOLINT(google-explicit-constructor)

    dse_fixed_int& operator+=(int64_t o) { v_ = wrap(v_ + o); return *this; }
    dse_fixed_int& operator-=(int64_t o) { v_ = wrap(v_ - o); return *this; }
    dse_fixed_int& operator*=(int64_t o) { v_ = wrap(v_ * o); return *this; }
    dse_fixed_int& operator++() { return *this += 1; }
    dse_fixed_int& operator--() { return *this -= 1; }

  private:
    static constexpr int64_t wrap(int64_t v) {
        if (W == 64) return v;
        // Shifts are done on uint64_t: well defined for every bit pattern.
        const uint64_t mask = (W == 64) ? ~uint64_t{0} : ((uint64_t{1} << (W % 64)) - 1);
        uint64_t u = static_cast<uint64_t>(v) & mask;
        if (Signed && ((u >> (W - 1)) & 1u)) u |= ~mask;
        return static_cast<int64_t>(u);
    }

    int64_t v_;
};

template <int W>
using dse_int = dse_fixed_int<W, true>;
template <int W>
using dse_uint = dse_fixed_int<W, false>;

inline float dse_expf(float x) { return std::exp(x); }

#endif  // __SYNTHESIS__
#endif  // DSE_TYPES_H
