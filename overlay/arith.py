"""Integer primitives shared by the reference, the ISA executor and (in RTL) the overlay.

Every function here is the exact arithmetic of one hardware operation; docs/overlay.md
states them as formulas. Python ints / int64 numpy arrays, arithmetic shifts (floor).
"""

from __future__ import annotations

import math

import numpy as np

I8_MIN, I8_MAX = -128, 127
M_BITS = 15  # requant multipliers are in [2^14, 2^15): 15-bit unsigned
NORM_Z_BITS = 12  # normalised value z is carried as z * 2^12
INV_BITS = 30  # norm reciprocal: floor(2^30 / sqrt(v))
EXP_BITS = 15  # softmax exp LUT: round(2^15 * exp(-j * s))
ROPE_BITS = 14  # cos/sin tables in Q1.14
P_BITS = 7  # attention probabilities in Q0.7


def sat8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, I8_MIN, I8_MAX).astype(np.int64)


def requant_params(ratio: float) -> tuple[int, int]:
    """(M, sh) with M / 2^sh ≈ ratio and M in [2^14, 2^15) (M = 0 for ratio 0)."""
    if ratio <= 0:
        return 0, 1
    sh = M_BITS - 1 - math.floor(math.log2(ratio))
    m = round(ratio * 2.0**sh)
    if m >= 1 << M_BITS:  # rounding crossed the top: one bit less
        sh -= 1
        m = round(ratio * 2.0**sh)
    if sh < 1:
        raise ValueError(f"requant ratio {ratio} too large for a {M_BITS}-bit multiplier")
    return int(m), int(sh)


def requant(acc: np.ndarray, m: int, sh: int) -> np.ndarray:
    """sat8((acc * M + 2^(sh-1)) >> sh): round half up, saturate."""
    a = np.asarray(acc, dtype=object) if _big(acc, m) else np.asarray(acc, dtype=np.int64)
    return sat8(np.asarray((a * m + (1 << (sh - 1))) >> sh, dtype=np.int64))


def _big(acc: np.ndarray, m: int) -> bool:
    a = np.asarray(acc)
    return a.size > 0 and int(np.max(np.abs(a.astype(np.int64)))) * max(m, 1) >= 1 << 62


def isqrt(v: int) -> int:
    """floor(sqrt(v)) for v >= 0 (the RTL's bit-serial restoring square root)."""
    return math.isqrt(int(v))


def norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, m: int, sh: int, ln: bool):
    """LayerNorm (ln) or RMSNorm of an int8 vector; gamma int8, beta int8 (output scale).

    c = d*x - S (LN) | d*x (RMS); v = d*Q - S^2 (LN) | d*Q (RMS); inv = 2^30 // isqrt(v+1);
    t = (c*inv + 2^17) >> 18  (z * 2^12); y = sat8(((t*g*M + 2^(sh-1)) >> sh) + beta).
    """
    x = x.astype(np.int64)
    d = x.size
    s = int(x.sum()) if ln else 0
    q = int((x * x).sum())
    c = d * x - s
    v = d * q - s * s
    inv = (1 << INV_BITS) // max(isqrt(v + 1), 1)
    sh_t = INV_BITS - NORM_Z_BITS
    t = (c * inv + (1 << (sh_t - 1))) >> sh_t
    y = (t * gamma.astype(np.int64) * m + (1 << (sh - 1))) >> sh
    return sat8(y + beta.astype(np.int64))


def exp_lut(s_score: float) -> np.ndarray:
    """EXP[j] = round(2^15 * exp(-j * s_score)), j = max - x in 0..255."""
    return np.round((1 << EXP_BITS) * np.exp(-np.arange(256) * s_score)).astype(np.int64)


def softmax(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """int8 scores -> Q0.7 probabilities: e = EXP[max-x]; R = 2^31 // max(sum(e), 1);
    p = min(127, (e*R + 2^23) >> 24)."""
    x = x.astype(np.int64)
    e = lut[int(x.max()) - x]
    r = (1 << 31) // max(int(e.sum()), 1)
    return np.minimum(127, (e * r + (1 << 23)) >> 24)


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate-half RoPE on one head of int8 values with Q1.14 tables of length hd/2."""
    x = x.astype(np.int64)
    h = x.size // 2
    a, b = x[:h], x[h:]
    rnd = 1 << (ROPE_BITS - 1)
    ra = (a * cos - b * sin + rnd) >> ROPE_BITS
    rb = (b * cos + a * sin + rnd) >> ROPE_BITS
    return sat8(np.concatenate([ra, rb]))


def rope_tables(max_pos: int, head_dim: int, theta: float = 10000.0):
    """Q1.14 cos and sin, shape (max_pos, head_dim/2), and their float originals."""
    half = head_dim // 2
    inv = theta ** (-np.arange(half) * 2.0 / head_dim)
    ang = np.arange(max_pos)[:, None] * inv[None, :]
    c, s = np.cos(ang), np.sin(ang)
    q = float(1 << ROPE_BITS)
    return np.round(c * q).astype(np.int64), np.round(s * q).astype(np.int64), c, s


def act_lut(fn, s_in: float, s_out: float) -> np.ndarray:
    """256-entry int8 -> int8 table of fn, indexed by the input byte (x & 0xff)."""
    x = np.arange(256)
    x = np.where(x >= 128, x - 256, x)
    return sat8(np.round(fn(x * s_in) / s_out))


def lut_apply(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    return lut[x.astype(np.int64) & 0xFF]


def mulq(a: np.ndarray, b: np.ndarray, m: int, sh: int) -> np.ndarray:
    return requant(a.astype(np.int64) * b.astype(np.int64), m, sh)


def add8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return sat8(a.astype(np.int64) + b.astype(np.int64))
