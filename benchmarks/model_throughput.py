"""Cost-model throughput: design points evaluated per second on one core.

Random points over the spatial and temporal spaces (U280, GPT-2 medium / LLaMA2-7B), at
10^5 and 10^6 points per call; median of 5 runs each. Last line: ``points_per_s=<n>``
(the smallest median over the four cases, so the figure holds for both families).

Run: ``python benchmarks/model_throughput.py``
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the figure claims

import numpy as np

import cost_models as cm


def random_points(arch: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    pow2 = lambda lo, hi: 2 ** rng.integers(lo, hi + 1, n)  # noqa: E731
    common = {
        "freq_mhz": rng.uniform(150, 400, n),
        "quant": rng.choice(np.array(cm.QUANTS), n),
        "sparsity": rng.choice(np.array(["none", "nm", "log"]), n),
        "density_ffn": rng.uniform(0.1, 1.0, n),
        "density_qk": rng.uniform(0.1, 1.0, n),
        "hbm_ch_wqkv": rng.integers(1, 33, n),
        "hbm_ch_wffn": rng.integers(1, 33, n),
        "hbm_ch_kv": rng.integers(1, 9, n),
        "hbm_placement": rng.choice(np.array(["local", "global"]), n),
    }
    if arch == "spatial":
        return {
            **common,
            "m_qkv": pow2(5, 10),
            "m_attn": pow2(3, 8),
            "m_ffn": pow2(6, 12),
            "layers_per_fpga": rng.integers(1, 9, n),
            "tile_tokens": pow2(0, 8),
        }
    return {
        **common,
        "cores": rng.integers(1, 4, n),
        "mv_k": pow2(3, 7),
        "mv_n": pow2(4, 8),
        "mm_n": pow2(5, 8),
        "overlap": rng.random(n) < 0.8,
    }


def main() -> None:
    # Wall-clock figures: other work on the machine lowers them, so say how busy it was.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, 1-min load average {load:.2f}")
    rng = np.random.default_rng(0)
    cases = [("spatial", "gpt2-medium"), ("temporal", "llama-2-7b")]
    worst = float("inf")
    for arch, model in cases:
        for n in (100_000, 1_000_000):
            pts = random_points(arch, n, rng)
            cm.evaluate(model, "u280", {k: v[:1000] for k, v in pts.items()}, arch=arch)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                df = cm.evaluate(model, "u280", pts, arch=arch)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            rate = n / med
            worst = min(worst, rate)
            print(
                f"{arch:8s} {model:12s} n={n:>9,d} median {med * 1e3:8.1f} ms "
                f"-> {rate:>12,.0f} points/s  (feasible {df.feasible.mean():.1%})"
            )
    print(f"points_per_s={worst:.0f}")


if __name__ == "__main__":
    main()
