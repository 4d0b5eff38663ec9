"""Seeded stimulus and numpy reference results for the RTL templates.

Each generator returns a ``Stream``: the beats a unit sees (valid, last, payload laid out as
the unit's input ports concatenated, first port in the most significant bits) and the result
vectors the unit must produce. Invalid beats carry random junk the unit must ignore.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Beat = tuple[int, int, int]  # (valid, last, payload)


@dataclass
class Stream:
    payload_bits: int
    beats: list[Beat] = field(default_factory=list)
    expected: list[list[int]] = field(default_factory=list)
    floats: list[np.ndarray] = field(default_factory=list)  # float references (softmax)


def wrap(values: np.ndarray, bits: int) -> list[int]:
    """Two's-complement wrap to ``bits`` bits, as the hardware accumulators do."""
    half = 1 << (bits - 1)
    return [int(v) for v in ((values.astype(np.int64) + half) % (1 << bits)) - half]


def pack_lanes(values: np.ndarray | list[int], bits: int) -> int:
    """Pack values into one bus, element 0 in the least significant bits."""
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def _bubbles(rng: np.random.Generator, s: Stream, p: float = 0.3) -> None:
    while rng.random() < p:
        s.beats.append(
            (0, int(rng.integers(2)), int(rng.integers(1 << 62)) % (1 << s.payload_bits))
        )


def gemv_stream(rng: np.random.Generator, lanes: int, wbits: int, accbits: int) -> Stream:
    """y = W x per pass; the first column uses the extreme values (-2^(w-1) * -128)."""
    s = Stream(8 + lanes * wbits)
    lo, hi = -(1 << (wbits - 1)), 1 << (wbits - 1)
    for _ in range(3):
        cols = int(rng.integers(1, 13))
        w = rng.integers(lo, hi, size=(lanes, cols))
        x = rng.integers(-128, 128, size=cols)
        w[:, 0], x[0] = lo, -128
        for j in range(cols):
            _bubbles(rng, s)
            payload = (int(x[j]) & 0xFF) << (lanes * wbits) | pack_lanes(w[:, j], wbits)
            s.beats.append((1, int(j == cols - 1), payload))
        s.expected.append(wrap(w @ x, accbits))
    return s


def systolic_stream(rng: np.random.Generator, mt: int, nt: int, accbits: int) -> Stream:
    """C = A B per stream; lasts are padded to be >= MT + NT - 1 cycles apart."""
    s = Stream(8 * (mt + nt))
    for _ in range(4):
        k_len = int(rng.integers(1, 10))
        a = rng.integers(-128, 128, size=(mt, k_len))
        b = rng.integers(-128, 128, size=(k_len, nt))
        a[0, 0], b[0, 0] = -128, -128
        start = len(s.beats)
        for k in range(k_len):
            _bubbles(rng, s)
            if k == k_len - 1:
                s.beats.extend([(0, 0, 0)] * max(0, mt + nt - 2 - (len(s.beats) - start)))
            payload = pack_lanes(a[:, k], 8) << (8 * nt) | pack_lanes(b[k, :], 8)
            s.beats.append((1, int(k == k_len - 1), payload))
        s.expected.append(wrap((a @ b).reshape(-1), accbits))
    return s


def sparse_stream(rng: np.random.Generator, lanes: int, n: int, m: int, accbits: int) -> Stream:
    """N:M sparse y = W x; W is built densely from the stored weights and indices."""
    iw = (m - 1).bit_length()
    s = Stream(8 * m + lanes * n * (8 + iw))
    for _ in range(3):
        groups = int(rng.integers(1, 6))
        x = rng.integers(-128, 128, size=groups * m)
        vals = rng.integers(-128, 128, size=(lanes, groups, n))
        idx = np.array(
            [
                [np.sort(rng.choice(m, n, replace=False)) for _ in range(groups)]
                for _ in range(lanes)
            ]
        )
        vals[0, 0, 0], x[:m] = -128, -128
        dense = np.zeros((lanes, groups * m), dtype=np.int64)
        for lane in range(lanes):
            for g in range(groups):
                dense[lane, g * m + idx[lane, g]] = vals[lane, g]
        for g in range(groups):
            _bubbles(rng, s)
            xs = pack_lanes(x[g * m : (g + 1) * m], 8)
            ws = pack_lanes(vals[:, g, :].reshape(-1), 8)
            ids = pack_lanes(idx[:, g, :].reshape(-1), iw)
            payload = (xs << (lanes * n * (8 + iw))) | (ws << (lanes * n * iw)) | ids
            s.beats.append((1, int(g == groups - 1), payload))
        s.expected.append(wrap(dense @ x, accbits))
    return s


# 2^(-k/32) in Q1.19, the softmax_fx exp LUT.
_EXP_LUT = [round((1 << 19) * 2 ** (-k / 32)) for k in range(33)]


def softmax_model(x: list[int], xfrac: int) -> list[int]:
    """Bit-exact integer model of softmax_fx (see the arithmetic in softmax_fx.v)."""
    top, es = max(x), []
    for v in x:
        t12 = ((top - v) * 23637 + (1 << (xfrac + 1))) >> (xfrac + 2)
        tint, seg, frac = t12 >> 12, (t12 >> 7) & 31, t12 & 127
        lo, hi = _EXP_LUT[seg], _EXP_LUT[seg + 1]
        ef = lo - (((lo - hi) * frac + 64) >> 7)
        es.append(0 if tint > 19 else (ef + ((1 << tint) >> 1)) >> tint)
    recip = (1 << 46) // sum(es)
    return [(e * recip + (1 << 30)) >> 31 for e in es]


def softmax_bound(length: int) -> float:
    """Documented error bound of softmax_fx versus float softmax."""
    return 2.0**-12 + length * 2.0**-19


def softmax_stream(rng: np.random.Generator, xbits: int, xfrac: int, maxlen: int) -> Stream:
    """Vectors of random length; narrow and full-range scores both appear."""
    s = Stream(xbits)
    lo, hi = -(1 << (xbits - 1)), 1 << (xbits - 1)
    for i in range(5):
        length = maxlen if i == 0 else int(rng.integers(1, maxlen + 1))
        spread = [hi, 4 << xfrac, 1 << xfrac][i % 3]
        x = np.clip(rng.integers(-spread, spread, size=length), lo, hi - 1)
        for j in range(length):
            _bubbles(rng, s)
            s.beats.append((1, int(j == length - 1), int(x[j]) & ((1 << xbits) - 1)))
        s.expected.append(softmax_model([int(v) for v in x], xfrac))
        real = x / 2.0**xfrac
        ref = np.exp(real - real.max())
        s.floats.append(ref / ref.sum())
    return s
