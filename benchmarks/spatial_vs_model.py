"""Spatial family: the generated HLS top's cycle estimate vs the cost model's prediction.

    .venv/bin/python benchmarks/spatial_vs_model.py

For each point (tiny GPT-2-, LLaMA- and BERT-style models, weights on chip, U280 data):
``spatial.cycles`` (the schedule of the generated loops at II = 1; an estimate, not an
RTL or co-simulation measurement) against ``cost_models.evaluate`` (arch spatial) for the
same workload: prefill of PROMPT tokens (LM head of the last one included) and one decode
step at KV length KV; an encoder (BERT-style) has only its one pass over the PROMPT tokens
(head on the first). Nothing here was fitted, but the two are not independent: both read
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

``--stream`` runs only the streamed-weight points of ``sim_vs_model.py --family spatial``
(``stream_points``: 3 Verilator builds cold) and prints that section's last lines for them.
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

import cost_models
from cost_models import Workload
from overlay.flow import TINY_SHAPES, default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model, run_reference
from spatial.cycles import estimate
from spatial.hls import build_csim, run_csim
from spatial.plan import TINY_BERT, SpatialPlan, build_plan
from spatial.rtl import simulate
from spatial.rtl_stream import DISJOINT

PROMPT, KV, MAX_POS, FREQ = 8, 16, 32, 200.0
SHAPES = ("tiny-gpt2", "tiny-llama", "tiny-bert")
SHAPE_OF = {**TINY_SHAPES, "tiny-bert": TINY_BERT}
KNOBS = {  # (m_qkv, m_attn, m_ffn): compute balance from attention- to FFN-bound
    "small": (4, 2, 8),
    "balanced": (16, 8, 32),
    "wide": (64, 16, 128),
}


def points(knobs: tuple[str, ...] = tuple(KNOBS)) -> list[tuple[str, dict]]:
    """(shape name, spatial point with its ``_name``) for every shape, parallelism level
    in ``knobs``, C in {1, 2} and tile in {2, 8}."""
    out = []
    levels = [(k, KNOBS[k]) for k in knobs]
    for shape, (kname, (mq, ma, mf)), c, tile in itertools.product(SHAPES, levels, (1, 2), (2, 8)):
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


# Streamed weights (spatial/rtl_stream.py): one plan a model (W4 dense C = 1 with two
# passes; W8 with N:M FFN C = N; a W8 encoder), each under three memories the harness serves
# as the cost model prices them: HBM channels at the default port (compute-bound), and one
# channel a group behind a 128-bit or a 64-bit port (memory-bound). One Verilator build a
# model: the memory is the run's, not the RTL's. quant_group 0: the RTL keeps the per-row
# scales in ROMs, as the model prices them (a group scale's 16 bits would be streamed).
STREAM_PLANS = {
    "tiny-gpt2": {"quant": "w4a8", "layers_per_fpga": 1, "tile_tokens": 2},
    "tiny-llama": {"quant": "w8a8", "layers_per_fpga": 2, "tile_tokens": 8, "sparsity": "nm",
                   "nm_m": 4, "density_ffn": 0.5},
    "tiny-bert": {"quant": "w8a8", "layers_per_fpga": 2, "tile_tokens": 8},
}  # fmt: skip
ONE_CHANNEL = {f"hbm_ch_{g}": 1 for g in ("wqkv", "wo", "wffn", "kv", "act")}
MEMORIES = {
    "hbm": DISJOINT,
    "ch1-128b": {**ONE_CHANNEL, "axi_port_bits": 128},
    "ch1-64b": {**ONE_CHANNEL, "axi_port_bits": 64},
}


def stream_points() -> list[tuple[str, dict]]:
    """(shape name, streamed point with its ``_name``): every plan under every memory."""
    out = []
    for (shape, plan), (mname, mem) in itertools.product(STREAM_PLANS.items(), MEMORIES.items()):
        pt = {
            "quant_group": 0,
            "m_qkv": 16,
            "m_attn": 8,
            "m_ffn": 32,
            "fifo_depth": 32,
            "weight_storage": "stream",
            "freq_mhz": FREQ,
            **DISJOINT,
            **plan,
            **mem,
        }
        out.append((shape, {**pt, "_name": f"stream-{mname}"}))
    return out


def bit_exact(plan: SpatialPlan) -> bool:
    prompt = default_prompt(plan.shape, PROMPT)
    qm = quantise_model(make_float_model(plan.shape, 5, MAX_POS), plan.quant_spec(), prompt)
    csim, words = build_csim(plan, qm)
    n_new = 1 if plan.encoder else 9  # an encoder runs its one pass
    got = run_csim(csim, words, prompt, n_new)
    _, want = run_reference(qm, prompt, n_new)
    return all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def rtl_run(plan: SpatialPlan, pt: dict | None = None) -> tuple[bool, float, float]:
    """(bit-exact, prefill cycles, cycles of the decode step at KV) measured in Verilator
    (streamed weights served as the cost model prices ``pt``'s memory); an encoder's pass
    is its prefill (its decode is reported as 0)."""
    prompt = default_prompt(plan.shape, PROMPT)
    qm = quantise_model(make_float_model(plan.shape, 5, MAX_POS), plan.quant_spec(), prompt)
    n_new = 1 if plan.encoder else KV - PROMPT + 2  # the last call decodes at position KV
    run = simulate(plan, qm, prompt, n_new, pt)
    _, want = run_reference(qm, prompt, n_new)
    ok = all(np.array_equal(g, w) for g, w in zip(run.accs, want, strict=True))
    return ok, float(run.cycles[0]), 0.0 if plan.encoder else float(run.cycles[-1])


def model_cycles(plan: SpatialPlan, pt: dict) -> dict[str, float]:
    """The cost model's cycles of the same calls (prefill; decode for decoders only)."""
    wl = Workload(plan.shape, batch=1, prompt_len=PROMPT, gen_len=2 * KV, kv_len_override=KV)
    row = cost_models.evaluate(wl, "u280", pt, arch="spatial", baseline=None, detail=True)
    phases = ("prefill",) if plan.encoder else ("prefill", "decode")
    return {ph: float(row.iloc[0][f"{ph}_latency_s"]) * pt["freq_mhz"] * 1e6 for ph in phases}


def rtl_section(knobs: tuple[str, ...]) -> int:
    """RTL cycles vs the cost model at ``points(knobs)`` and the streamed ``stream_points``,
    per point and phase (the spatial section of benchmarks/sim_vs_model.py); last lines
    spatial_points, spatial_bit_exact, spatial_median_err_pct, spatial_max_err_pct over
    every phase of every point (an encoder's pass counts as its prefill; the streamed
    points' errors also on their own, spatial_stream_*). Returns the number of points not
    bit-exact."""
    errs: dict[str, list[float]] = {"prefill": [], "decode": [], "encoder": [], "stream": []}
    n_points = exact = 0
    print(f"{'model':10} {'point':16} {'exact':5} {'phase':7} {'rtl':>8} {'model':>8} "
          f"{'err%':>6} {'wall_s':>6}")  # fmt: skip
    for shape_name, pt in points(knobs) + stream_points():
        name = pt.pop("_name")
        plan = build_plan(pt, SHAPE_OF[shape_name], max_pos=MAX_POS)
        t0 = time.monotonic()
        ok, pre, dec = rtl_run(plan, pt)
        wall = time.monotonic() - t0
        n_points += 1
        exact += ok
        measured = {"prefill": pre, "decode": dec}
        for phase, pred in model_cycles(plan, pt).items():
            err = 100.0 * (pred - measured[phase]) / measured[phase]
            errs["encoder" if plan.encoder else phase].append(abs(err))
            if not plan.weights_onchip:  # also on their own
                errs["stream"].append(abs(err))
            print(f"{shape_name:10} {name:16} {ok!s:5} {phase:7} {measured[phase]:8.0f} "
                  f"{pred:8.0f} {err:+6.1f} {wall:6.1f}", flush=True)  # fmt: skip
    for key, v in errs.items():
        print(f"spatial_{key}_median_err_pct={np.median(v):.2f}")
        print(f"spatial_{key}_max_err_pct={np.max(v):.2f}")
    every = [e for k, v in errs.items() if k != "stream" for e in v]  # each phase once
    print(f"spatial_stream_points={len(stream_points())}")
    print(f"spatial_points={n_points}")
    print(f"spatial_bit_exact={exact}")
    print(f"spatial_median_err_pct={np.median(every):.2f}")
    print(f"spatial_max_err_pct={np.max(every):.2f}")
    return n_points - exact


def main() -> None:
    argv = sys.argv[1:]
    if "--stream" in argv:  # the streamed points of sim_vs_model's spatial section alone
        sys.exit(min(1, rtl_section(())))
    csim = "--no-csim" not in argv
    rtl = "--rtl" in argv or "--rtl-only" in argv
    only = argv[argv.index("--rtl-only") + 1] if "--rtl-only" in argv else None
    errs: list[float] = []
    rtl_errs: list[float] = []
    est_errs: list[float] = []
    exact = rtl_exact = n_points = 0
    head = f"{'shape':11s} {'point':17s} {'phase':7s} {'estimate':>10s} {'model':>10s} {'err%':>7s}"
    print(head + (f" {'rtl':>8s} {'est%':>6s} {'model%':>7s} exact" if rtl else ""))
    for shape_name, pt in points():
        name = pt.pop("_name")
        if only and shape_name != only:
            continue
        shape = SHAPE_OF[shape_name]
        plan = build_plan(pt, shape, max_pos=MAX_POS)
        n_points += 1
        est = estimate(plan, PROMPT, KV)
        exact += csim and bit_exact(plan)
        measured: dict[str, float] = {}
        rtl_ok = False
        if rtl:
            ok, pre, dec = rtl_run(plan)
            rtl_exact += ok
            measured = {"prefill": pre, "decode": dec}
            rtl_ok = ok
        models = model_cycles(plan, pt)
        for phase, got in (("prefill", est.prefill), ("decode", est.decode)):
            if phase not in models:
                continue
            model = models[phase]
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
    print(f"spatial_points={n_points}")
    print(f"spatial_bit_exact={exact if csim else 'not run'}")
    print(f"spatial_median_err_pct={np.median(errs):.1f}")
    print(f"spatial_max_err_pct={np.max(errs):.1f}")
    if rtl:
        print(f"spatial_rtl_points={n_points}")
        print(f"spatial_rtl_bit_exact={rtl_exact}")
        print(f"spatial_rtl_median_err_pct={np.median(rtl_errs):.1f}")
        print(f"spatial_rtl_max_err_pct={np.max(rtl_errs):.1f}")
        print(f"spatial_rtl_est_median_err_pct={np.median(est_errs):.1f}")
        print(f"spatial_rtl_est_max_err_pct={np.max(est_errs):.1f}")


if __name__ == "__main__":
    main()
