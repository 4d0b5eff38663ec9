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

``--rtl`` adds the RTL column: each point's generated RTL (spatial/rtl.py) runs in
Verilator (prefill, then greedy decode up to the step at KV), bit-exact against the
reference, and its measured cycles are compared with the estimate and with the model.
Extra last lines: spatial_rtl_points, spatial_rtl_bit_exact, spatial_rtl_median_err_pct,
spatial_rtl_max_err_pct (model vs RTL), spatial_rtl_est_median_err_pct (estimate vs RTL).
A cold run verilates 24 designs (about a minute each on a 2-core machine); ``--rtl-only
SHAPE`` limits it to one shape.
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
from spatial.rtl import simulate

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


def rtl_run(plan: SpatialPlan) -> tuple[bool, float, float]:
    """(bit-exact, prefill cycles, cycles of the decode step at KV) measured in Verilator."""
    prompt = default_prompt(plan.shape, PROMPT)
    qm = quantise_model(make_float_model(plan.shape, 5, MAX_POS), plan.quant_spec(), prompt)
    n_new = KV - PROMPT + 2  # the last call decodes at position KV
    run = simulate(plan, qm, prompt, n_new)
    _, want = run_reference(qm, prompt, n_new)
    ok = all(np.array_equal(g, w) for g, w in zip(run.accs, want, strict=True))
    return ok, float(run.cycles[0]), float(run.cycles[-1])


def main() -> None:
    argv = sys.argv[1:]
    csim = "--no-csim" not in argv
    rtl = "--rtl" in argv or "--rtl-only" in argv
    only = argv[argv.index("--rtl-only") + 1] if "--rtl-only" in argv else None
    errs: list[float] = []
    rtl_errs: list[float] = []
    est_errs: list[float] = []
    exact = rtl_exact = 0
    head = f"{'shape':11s} {'point':17s} {'phase':7s} {'estimate':>10s} {'model':>10s} {'err%':>7s}"
    print(head + (f" {'rtl':>8s} {'est%':>6s} {'model%':>7s} exact" if rtl else ""))
    for shape_name, pt in points():
        name = pt.pop("_name")
        if only and shape_name != only:
            continue
        shape = TINY_SHAPES[shape_name]
        plan = build_plan(pt, shape, max_pos=MAX_POS)
        est = estimate(plan, PROMPT, KV)
        exact += csim and bit_exact(plan)
        measured: dict[str, float] = {}
        rtl_ok = False
        if rtl:
            ok, pre, dec = rtl_run(plan)
            rtl_exact += ok
            measured = {"prefill": pre, "decode": dec}
            rtl_ok = ok
        wl = Workload(shape, batch=1, prompt_len=PROMPT, gen_len=2 * KV, kv_len_override=KV)
        row = cost_models.evaluate(wl, "u280", pt, arch="spatial", baseline=None, detail=True).iloc[
            0
        ]
        for phase, got in (("prefill", est.prefill), ("decode", est.decode)):
            model = float(row[f"{phase}_latency_s"]) * FREQ * 1e6
            err = (model - got) / got * 100
            errs.append(abs(err))
            line = f"{shape_name:11s} {name:17s} {phase:7s} {got:10.0f} {model:10.0f} {err:+7.1f}"
            if measured:
                meas = measured[phase]
                e_est = (got - meas) / meas * 100
                e_mod = (model - meas) / meas * 100
                est_errs.append(abs(e_est))
                rtl_errs.append(abs(e_mod))
                line += f" {meas:8.0f} {e_est:+6.1f} {e_mod:+7.1f} {rtl_ok!s:5s}"
            print(line, flush=True)
    print(f"spatial_points={len(errs) // 2}")
    print(f"spatial_bit_exact={exact if csim else 'not run'}")
    print(f"spatial_median_err_pct={np.median(errs):.1f}")
    print(f"spatial_max_err_pct={np.max(errs):.1f}")
    if rtl:
        print(f"spatial_rtl_points={len(rtl_errs) // 2}")
        print(f"spatial_rtl_bit_exact={rtl_exact}")
        print(f"spatial_rtl_median_err_pct={np.median(rtl_errs):.1f}")
        print(f"spatial_rtl_max_err_pct={np.max(rtl_errs):.1f}")
        print(f"spatial_rtl_est_median_err_pct={np.median(est_errs):.1f}")
        print(f"spatial_rtl_est_max_err_pct={np.max(est_errs):.1f}")


if __name__ == "__main__":
    main()
