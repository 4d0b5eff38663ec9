"""The whole-overlay design points the resource benchmark synthesises (a seeded spread).

Every hardware parameter of ``templates/overlay`` varies; the engine is kept at 8..32
multipliers so one Yosys run stays within minutes on a shared machine. Points are in a
fixed order: a run that stops early has measured a spread, not one corner.
"""

from __future__ import annotations

import random
from typing import Any


def stream_cap(mv_k: int, mv_n: int, sfu: int, beat: int) -> int:
    """The manifest's ``stream_cap`` rule (two tiles + 56 beats of latency + a burst)."""
    return 2 * max(mv_n * 2 + mv_n * mv_k * 12 // 8, mv_k * mv_n, sfu * 2) + beat * 56 + 256


def stream_cap_mm(mm_k: int, mm_n: int, beat: int) -> int:
    """The manifest's ``stream_cap_mm`` rule: two MM tiles + 56 beats + a burst."""
    return 2 * (mm_n * 2 + mm_n * mm_k * 12 // 8) + beat * 56 + 256


# The points measured first, in order: the first three as drawn below with a W4-packed
# point second, then the engine's size and the SFU's width at the ends of the range (few
# points must still span them).
def _point(k: int, n: int, w: int, sfu: int, beat: int, **rest: int) -> dict[str, Any]:
    lb = beat.bit_length() - 1
    p = {"mv_k": k, "mv_n": n, "w_bits": w, "sfu_lanes": sfu, "beat_bytes": beat,
         "log_beat": lb, "stream_cap": stream_cap(k, n, sfu, beat)}  # fmt: skip
    return p | rest


FIRST = [
    _point(16, 1, 4, 2, 8, spad_words=256, imem_words=256, burst_bytes=64, overlap=1,
           idx_bits=0, xbuf_words=128),
    # W4 DSP packing (dense, even mv_n: one multiplier per row pair), early in the order
    _point(2, 8, 4, 1, 8, spad_words=256, imem_words=128, burst_bytes=256, overlap=0,
           idx_bits=0, xbuf_words=128),
    _point(4, 4, 8, 2, 16, spad_words=1024, imem_words=128, burst_bytes=64, overlap=0,
           idx_bits=2, xbuf_words=512),
    _point(4, 4, 8, 1, 64, spad_words=2048, imem_words=128, burst_bytes=64, overlap=1,
           idx_bits=4, xbuf_words=512),
    _point(8, 1, 8, 1, 32, spad_words=512, imem_words=64, burst_bytes=256, overlap=1,
           idx_bits=0, xbuf_words=256),
    _point(8, 4, 4, 2, 16, spad_words=1024, imem_words=256, burst_bytes=256, overlap=1,
           idx_bits=4, xbuf_words=1024),
    _point(4, 4, 8, 4, 8, spad_words=512, imem_words=128, burst_bytes=64, overlap=0,
           idx_bits=0, xbuf_words=256),
]  # fmt: skip


# Batched points (prefill_slots = TT token slots per weight tile, mm_lanes = MT token lanes
# of the MM mode): each follows a point of FIRST of the same engine, so a pair differs in
# TT and MT only; MT = 1 with TT > 1 isolates the TT x mv_n accumulators, MT > 1 adds the
# lanes' multipliers, products and x buffers (ov_mm_lanes).
def _batched(base: dict[str, Any], tt: int, mt: int, xbuf: int) -> dict[str, Any]:
    return base | {"xbuf_words": xbuf, "prefill_slots": tt, "mm_lanes": mt}


# FIRST's index -> its batched variants (TT, MT, xbuf_words)
BATCHED = {0: [(4, 2, 256)], 1: [(2, 2, 256)], 2: [(2, 1, 512)], 4: [(4, 4, 1024)]}


def whole_points(n: int = 40, seed: int = 15) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i, base in enumerate(FIRST):
        out += [dict(base), *(_batched(base, *b) for b in BATCHED.get(i, ()))]
    seen: set[tuple[Any, ...]] = {tuple(b.values()) for b in FIRST}
    while len(out) < n:
        # Mostly small engines and SFUs: Yosys time grows with both (a point in minutes).
        k, m = rng.choice((2, 4, 8, 16)), rng.choice((1, 2, 4, 8))
        top = 32 if rng.random() < 0.2 else 16
        if (k * m) % 8 or not 8 <= k * m <= top:
            continue
        sfu = rng.choice((1, 2, 3, 4)) if rng.random() < 0.25 else rng.choice((1, 2))
        log_beat = rng.choice((2, 3, 4, 5, 6))
        beat = 1 << log_beat
        p: dict[str, Any] = {
            "mv_k": k,
            "mv_n": m,
            "w_bits": rng.choice((4, 8)),
            "sfu_lanes": sfu,
            "beat_bytes": beat,
            "log_beat": log_beat,
            "stream_cap": stream_cap(k, m, sfu, beat),
            "spad_words": rng.choice((256, 512, 1024, 2048)),
            "imem_words": rng.choice((64, 128, 256)),
            "burst_bytes": max(rng.choice((64, 256)), beat),
            "overlap": rng.choice((0, 1)),
            "idx_bits": rng.choice((0, 2, 4)),
            "xbuf_words": rng.choice((128, 256, 512, 1024)),
        }
        key = tuple(p.values())
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
