"""Spatial family: the generated HLS top's cycle estimate vs the cost model's prediction.

    .venv/bin/python benchmarks/spatial_vs_model.py

For each point (tiny GPT-2- and LLaMA-style models, weights on chip, U280 platform data):
``spatial.cycles`` (the schedule of the generated loops at II = 1; an estimate, not an
RTL or co-simulation measurement) against ``cost_models.evaluate`` (arch spatial) for the
same workload: prefill of PROMPT tokens (LM head of the last one included) and one decode
step at KV length KV. Nothing here was fitted, but the two are not independent: both read
the generated loops (the model as a closed-form chain per tile, cost_models/_spatial_chain;
the estimate tile by tile), so agreement shows the model prices what is built, not that
the loops' schedule is what Vitis HLS gives (no co-simulation here).
Each point's generated top is also built with g++ and run in C simulation (prefill + 8
decode steps) against overlay/reference.py: spatial_bit_exact counts the points that match
(``--no-csim`` skips it; binaries are cached, a cold run compiles 24 of them).
Last lines: spatial_points, spatial_bit_exact, spatial_median_err_pct, spatial_max_err_pct
(errors over both phases).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

import cost_models
from cost_models import Workload
from overlay.flow import TINY_SHAPES, default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model, run_reference
from spatial.cycles import estimate
from spatial.hls import build_csim, run_csim
from spatial.plan import SpatialPlan, build_plan

PROMPT, KV, MAX_POS, FREQ = 8, 16, 32, 200.0
SHAPES = ("tiny-gpt2", "tiny-llama")
KNOBS = {  # (m_qkv, m_attn, m_ffn): compute balance from attention- to FFN-bound
    "small": (4, 2, 8),
    "balanced": (16, 8, 32),
    "wide": (64, 16, 128),
}


def points() -> list[tuple[str, dict]]:
    out = []
    for shape, (kname, (mq, ma, mf)), c, tile in itertools.product(
        SHAPES, KNOBS.items(), (1, 2), (2, 8)
    ):
        pt = {
            "quant": "w8a8" if c == 2 else "w4a8",
            "quant_group": 0,
            "m_qkv": mq,
            "m_attn": ma,
            "m_ffn": mf,
            "layers_per_fpga": c,
            "weight_storage": "onchip",
            "tile_tokens": tile,
            "fifo_depth": 32,
            "freq_mhz": FREQ,
        }
        out.append((shape, {**pt, "_name": f"{kname}-C{c}-t{tile}"}))
    return out


def bit_exact(plan: SpatialPlan) -> bool:
    prompt = default_prompt(plan.shape, PROMPT)
    qm = quantise_model(make_float_model(plan.shape, 5, MAX_POS), plan.quant_spec(), prompt)
    csim, words = build_csim(plan, qm)
    got = run_csim(csim, words, prompt, 9)
    _, want = run_reference(qm, prompt, 9)
    return all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def main() -> None:
    csim = "--no-csim" not in sys.argv[1:]
    errs: list[float] = []
    exact = 0
    print(f"{'shape':11s} {'point':17s} {'phase':7s} {'estimate':>10s} {'model':>10s} {'err%':>7s}")
    for shape_name, pt in points():
        name = pt.pop("_name")
        shape = TINY_SHAPES[shape_name]
        plan = build_plan(pt, shape, max_pos=MAX_POS)
        est = estimate(plan, PROMPT, KV)
        exact += csim and bit_exact(plan)
        wl = Workload(shape, batch=1, prompt_len=PROMPT, gen_len=2 * KV, kv_len_override=KV)
        row = cost_models.evaluate(wl, "u280", pt, arch="spatial", baseline=None, detail=True).iloc[
            0
        ]
        for phase, got in (("prefill", est.prefill), ("decode", est.decode)):
            model = float(row[f"{phase}_latency_s"]) * FREQ * 1e6
            err = (model - got) / got * 100
            errs.append(abs(err))
            print(f"{shape_name:11s} {name:17s} {phase:7s} {got:10.0f} {model:10.0f} {err:+7.1f}")
    print(f"spatial_points={len(errs) // 2}")
    print(f"spatial_bit_exact={exact if csim else 'not run'}")
    print(f"spatial_median_err_pct={np.median(errs):.1f}")
    print(f"spatial_max_err_pct={np.max(errs):.1f}")


if __name__ == "__main__":
    main()
