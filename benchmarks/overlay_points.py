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


# The first point measured (kept first so its cached builds stay in the list).
FIRST = {
    "mv_k": 16, "mv_n": 1, "w_bits": 4, "sfu_lanes": 2, "beat_bytes": 8, "log_beat": 3,
    "stream_cap": 756, "spad_words": 256, "imem_words": 256, "burst_bytes": 64, "overlap": 1,
    "idx_bits": 0, "xbuf_words": 128,
}  # fmt: skip


def whole_points(n: int = 40, seed: int = 15) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = [FIRST]
    seen: set[tuple[Any, ...]] = {tuple(FIRST.values())}
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
