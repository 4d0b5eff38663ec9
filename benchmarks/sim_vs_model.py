"""Overlay cycles: Verilator simulation of the generated RTL vs the cost model's prediction.

For 3 model families × 9 hardware points × 2 memory systems (54 points), simulates
prefill (the prompt's 4 tokens batched on the MM mode: one chunk of ``tile_tokens`` = 4,
each weight tile fetched once and applied to the 4 tokens, one a cycle or ``mm_t`` a cycle
on the two token-lane points; on the three separate-MM-engine points, ``unified_engine``
false, the prefill's maps run on their own ``mm_n × mm_k`` array and weight copy) and 7
decode steps of the tiny
model through the AXI memory model, checks every token and residual stream against the
bit-exact reference, and compares the measured prefill and decode cycles with
``cost_models._overlay_cycles.run_cycles`` for the same shape, point and per-port memory
rates. The model has no per-point constants; its terms were
written from the RTL's structure (docs/models.md, "Overlay cycles"), so every point is
held out in the sense that none was fitted.

Memory systems: ``u280`` HBM (one pseudo-channel per port at 200 MHz: the port width binds,
engine-bound) and ``ecp5-85`` DDR3 (6.4 B/cycle at 200 MHz: memory-bound).

Run: ``python benchmarks/sim_vs_model.py [NAME ...]`` (only the hardware points whose name
contains one of the NAMEs, e.g. ``sep``; Verilator builds are cached per hardware parameter
set under ~/.cache/dse/overlay-sim; a cold run builds 9 models). ``--family spatial`` (or
``all``: both, spatial last) runs the spatial family's RTL against its cost model (``run``).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from cost_models._overlay_cycles import run_cycles
from overlay import sim
from overlay.flow import TINY_SHAPES, prepare
from overlay.reference import run_reference
from overlay.simflow import memory_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spatial_vs_model as svm  # the spatial family's points and runs

HW: dict[str, dict[str, Any]] = {
    "dense-w8-8x8": {"quant": "w8a8", "quant_group": 0, "mv_k": 8, "mv_n": 8},
    "dense-w4-4x16-p64-noovl": {
        "quant": "w4a8", "quant_group": 32, "mv_k": 4, "mv_n": 16, "axi_port_bits": 64,
        "overlap": False,
    },
    "nm-w4-8x4": {
        "quant": "w4a8", "quant_group": 32, "sparsity": "nm", "nm_m": 4, "density_qk": 0.25,
        "density_ffn": 0.5, "mv_k": 8, "mv_n": 4, "axi_port_bits": 128,
    },
    "log-w4-16x8-p256": {
        "quant": "w4a8", "quant_group": 64, "sparsity": "log", "density_vo": 0.5,
        "density_ffn": 0.25, "mv_k": 16, "mv_n": 8, "axi_port_bits": 256, "sfu_lanes": 8,
    },
}  # fmt: skip
# The MM mode's token lanes (mm_t): a fetched weight tile serves mm_t of the chunk's tokens
# a cycle (DSP-packed W4 on two lanes; N:M on four, the whole 4-token chunk in one cycle).
HW_MM: dict[str, dict[str, Any]] = {
    "dense-w4-4x16-p64-mt2": {
        "quant": "w4a8", "quant_group": 32, "mv_k": 4, "mv_n": 16, "axi_port_bits": 64,
        "mm_t": 2,
    },
    "nm-w4-8x4-mt4": {**HW["nm-w4-8x4"], "mm_t": 4},
}  # fmt: skip
# A separate MM engine (unified_engine false) of another shape than the MV engine: W8
# 4x16 with two lanes beside an 8x8 MV; N:M W4 8x4 beside 4x8; DSP-packed W4 2x16 with four
# lanes beside 16x4, no overlap.
HW_SEP: dict[str, dict[str, Any]] = {
    "sep-w8-mm16x4-mt2": {
        **HW["dense-w8-8x8"], "unified_engine": False, "mm_k": 16, "mm_n": 4, "mm_t": 2,
    },
    "sep-nm-w4-mm4x8": {**HW["nm-w4-8x4"], "unified_engine": False, "mm_k": 4, "mm_n": 8},
    "sep-w4-mm16x2-mt4-noovl": {
        **HW["dense-w4-4x16-p64-noovl"], "unified_engine": False, "mm_k": 16, "mm_n": 2,
        "mm_t": 4,
    },
}  # fmt: skip
MEMORY: dict[str, dict[str, Any]] = {
    "u280": {"platform": "u280", "freq_mhz": 200.0},
    "ecp5": {"platform": "ecp5-85"},
}
N_NEW = 8
SPATIAL_KNOBS = ("small", "wide")  # parallelism levels of svm.KNOBS: 8 points a model
FAMILIES = ("temporal", "spatial", "all")


def _err(pred: float, meas: float) -> float:
    return 100.0 * abs(pred - meas) / meas


def main(names: list[str]) -> int:
    rows, exact = [], 0
    hws = {
        k: v
        for k, v in {**HW, **HW_MM, **HW_SEP}.items()
        if not names or any(n in k for n in names)
    }
    print(f"{'model':13} {'hardware':24} {'mem':5} {'exact':5} {'dec_sim':>8} {'dec_model':>9} "
          f"{'err%':>6} {'pre_sim':>8} {'pre_model':>9} {'err%':>6} {'wall_s':>6}")  # fmt: skip
    for model, shape in TINY_SHAPES.items():
        for hw_name, hw in hws.items():
            for mem_name, mem_keys in MEMORY.items():
                point = {**hw, **mem_keys, "freq_mhz": 200.0}
                prep = prepare(shape, point)
                traces: list[dict] = []
                ref, _ = run_reference(prep.qm, prep.prompt, N_NEW, traces)
                mem = memory_of(point, prep.cfg, sim.DEFAULT_LATENCY)
                t0 = time.monotonic()
                run = sim.simulate(prep.comp, prep.prompt, N_NEW, rates=dict(mem.rates))
                wall = time.monotonic() - t0
                last = f"l{shape.n_layers - 1}.x"
                ok = run.tokens == ref and all(
                    (x == t[last]).all() for x, t in zip(run.xs, traces, strict=True)
                )
                exact += ok
                n_p = len(prep.prompt)
                pre_m, dec_m = run_cycles(shape, point, n_p, N_NEW, mem)
                dec_s = statistics.mean(run.step_cycles[n_p:])
                pre_s = sum(run.step_cycles[:n_p])
                dm = statistics.mean(dec_m)
                rows.append((_err(dm, dec_s), _err(pre_m, pre_s)))
                print(f"{model:13} {hw_name:24} {mem_name:5} {ok!s:5} {dec_s:8.0f} {dm:9.0f} "
                      f"{rows[-1][0]:6.1f} {pre_s:8.0f} {pre_m:9.0f} {rows[-1][1]:6.1f} "
                      f"{wall:6.1f}", flush=True)  # fmt: skip
    dec = [r[0] for r in rows]
    pre = [r[1] for r in rows]
    print(f"temporal_prefill_median_err_pct={statistics.median(pre):.2f}")
    print(f"temporal_prefill_max_err_pct={max(pre):.2f}")
    print(f"temporal_points={len(rows)}")
    print(f"temporal_bit_exact={exact}")
    print(f"temporal_median_err_pct={statistics.median(dec):.2f}")
    print(f"temporal_max_err_pct={max(dec):.2f}")
    return 0


def run(argv: list[str]) -> int:
    """``--family temporal`` (the default: the overlay section above), ``spatial`` or
    ``all`` (temporal, then spatial, whose lines come last). The spatial section
    (``svm.rtl_section``): the generated spatial RTL of tiny GPT-2-, LLaMA- and BERT-style
    models at ``SPATIAL_KNOBS`` × C ∈ {1, 2} × tile ∈ {2, 8} (24 points, weights on chip)
    and one streamed-weight plan a model under three memories (9 points,
    ``svm.stream_points``) in Verilator, bit-exact against overlay/reference.py, its
    cycles against the spatial cost model's: the prompt's call (8 tokens, pipeline fill
    included; an encoder's one pass) and the decoders' decode step at KV 16. Nothing
    fitted. Last lines spatial_points, spatial_bit_exact, spatial_median_err_pct,
    spatial_max_err_pct."""
    family = "temporal"
    if "--family" in argv:
        i = argv.index("--family")
        family = argv[i + 1] if i + 1 < len(argv) else ""
        argv = argv[:i] + argv[i + 2 :]
    if family not in FAMILIES:
        print(f"sim_vs_model: --family: expected one of {', '.join(FAMILIES)}, got {family!r}")
        return 2
    rc = main(argv) if family != "spatial" else 0
    if family != "temporal":
        svm.rtl_section(SPATIAL_KNOBS)
    return rc


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
