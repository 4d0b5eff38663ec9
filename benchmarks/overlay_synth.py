"""Whole-overlay synthesis points: measure (real Yosys), cache as CSV, fit, leave-one-out.

A measurement is one ``yosys-xilinx`` / ``yosys-ecp5`` build of ``templates/overlay`` at a
point of ``overlay_points.whole_points``. Each is cached in ``benchmarks/data/overlay_synth.csv``
with the point, the flow, the Yosys version, the RTL revision (sha256 of the synthesised
Verilog, as copied into the build folder) and the counts: a ``whole`` row and, where the
netlist keeps the hierarchy (``synth_xilinx``), one row per unit of
``cost_models._overlay_resources`` (measured from the per-module ``stat``).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yosys_stat as ys
from scipy.optimize import nnls

from cost_models import _overlay_resources as ov

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "benchmarks" / "data" / "overlay_synth.csv"
COUNTS = ("lut", "ff", "dsp", "bram")
COLUMNS = ("flow", "rtl", "commit", "yosys", *ov.HW_KEYS, "unit", "instances", *COUNTS, "yosys_s")
# Template parameter -> point key (templates/overlay/manifest.yaml).
PARAM_KEYS = {
    "MV_K": "mv_k", "MV_N": "mv_n", "WBITS": "w_bits", "SFU_LANES": "sfu_lanes",
    "BEAT": "beat_bytes", "CAP": "stream_cap", "SPAD": "spad_words", "IMEM": "imem_words",
    "BURST": "burst_bytes", "OVERLAP": "overlap", "IDXB": "idx_bits", "XBUF": "xbuf_words",
    "TT": "prefill_slots", "MT": "mm_lanes",
}  # fmt: skip
RAM_UNITS = ("stream_buffer", "spad_replica", "x_buffer")


def rtl_hash(folder: Path) -> str:
    """sha256 (12 hex) of the Verilog sources a build synthesised, by name and content."""
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.v")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def rtl_at(rev: str) -> tuple[str, dict[str, str]]:
    """RTL revision hash and Verilog sources of ``templates/overlay`` at git ``rev``."""
    files = {n: text for n, text in template_at(rev).items() if n.endswith(".v")}
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:12], files


# The Verilog of each unit's module (``core``: overlay_core and the top's glue). synth_xilinx
# maps every module of the hierarchy on its own, so a unit row of another RTL revision whose
# files are byte-identical to this one's is the same measurement (checked: the four units
# of the K16xN1 point came out identical at ccdbc2b's and e8bebc0's RTL).
UNIT_FILES = {
    "core": ("overlay_core.v", "overlay_top.v"),
    "stream_port": ("ov_rdstream.v",),
    "mm_lanes": ("ov_mm_lanes.v",),
    **{u: ("ov_bankram.v",) for u in RAM_UNITS},
}


def with_reused(rows: Sequence[Mapping[str, Any]], rtl: str) -> list[Mapping[str, Any]]:
    """The rows of revision ``rtl``, plus unit rows of other revisions whose module sources
    are the same (``UNIT_FILES``) at a point ``rtl`` has no row of that unit for."""
    own = [r for r in rows if r["rtl"] == rtl]
    have = {(point_key(r)[2:], r["flow"], r["unit"]) for r in own}
    files = _sources(rtl)
    out = list(own)
    for r in rows:
        if r["rtl"] == rtl or r["unit"] not in UNIT_FILES or not files:
            continue
        theirs = _sources(str(r["rtl"]))
        key = (point_key(r)[2:], r["flow"], r["unit"])
        if key not in have and all(theirs.get(f) == files.get(f) for f in UNIT_FILES[r["unit"]]):
            out.append(r)
            have.add(key)
    return out


@functools.cache
def _sources(rtl: str) -> dict[str, str]:
    """Verilog files of RTL revision ``rtl`` (by name; {} if no recent commit has it)."""
    rev = commit_of(rtl)
    return rtl_at(rev)[1] if rev else {}


@functools.cache
def commit_of(rtl: str, depth: int = 30) -> str:
    """The commit whose templates/overlay is RTL revision ``rtl`` ("" if none of the last
    ``depth`` commits that touched it)."""
    for rev in _git("log", f"-{depth}", "--format=%h", "--", "templates/overlay").split():
        if rtl_at(rev)[0] == rtl:
            return rev
    return ""


def template_at(rev: str) -> dict[str, str]:
    """Every file of ``templates/overlay`` at git ``rev`` (name -> text)."""
    names = _git("ls-tree", "--name-only", rev, "templates/overlay/").split()
    return {Path(n).name: _git("show", f"{rev}:{n}") for n in names}


def newest(revs: Iterable[str], depth: int = 30) -> str | None:
    """The revision among ``revs`` of the latest commit that touched templates/overlay."""
    want = set(revs)
    for rev in _git("log", f"-{depth}", "--format=%h", "--", "templates/overlay").split():
        if (h := rtl_at(rev)[0]) in want:
            return h
    return None


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout


def _counts(cells: Mapping[str, int], flow: str) -> dict[str, float]:
    """The counts as the resource benchmark measures them (``yosys_stat.counts``, the CSV's
    columns)."""
    got = ys.counts(cells, flow)
    return {k: got[k] for k in ("lut", "ff", "dsp", "bram")}


def _unit_rows(stat: Mapping[str, Any], log: str, flow: str) -> dict[str, dict[str, float]]:
    """Per-unit measured counts of a hierarchical netlist (instances x per-module cells)."""
    mods = ys.module_cells(stat)
    params = ys.paramods(log)
    top = next(m for m in mods if m.endswith("overlay_top"))
    inst: dict[str, float] = defaultdict(float)
    parent: dict[str, str] = {}

    def walk(mod: str, n: float) -> None:
        inst[mod] += n
        for child, k in mods[mod].items():
            c = child.lstrip("\\")
            if c in mods:
                parent[c] = mod
                walk(c, n * k)

    walk(top, 1.0)
    out: dict[str, dict[str, float]] = {}
    for mod, n in inst.items():
        own = {t: c for t, c in mods[mod].items() if t.lstrip("\\") not in mods}
        if mod.endswith("ov_bankram"):
            dw = params.get(mod, {}).get("DW")
            unit = (
                "stream_buffer"
                if parent.get(mod, "").endswith("ov_rdstream")
                else "spad_replica"
                if dw == ov.DW_SPAD
                else "x_buffer"
            )
        elif mod.endswith("ov_rdstream"):
            unit = "stream_port"
        elif mod.endswith("ov_mm_lanes"):
            unit = "mm_lanes"
        else:
            unit = "core"  # overlay_core and the top's glue (axi_err)
        row = out.setdefault(unit, {"instances": 0.0, **dict.fromkeys(COUNTS, 0.0)})
        for r, v in _counts(own, flow).items():
            row[r] += n * v
        if unit != "core" or mod.endswith("overlay_core"):
            row["instances"] += n
    return out


def harvest(folder: Path, flow: str) -> list[dict[str, Any]]:
    """CSV rows of one finished build folder (``synth.ys``, ``stat.json``, ``yosys.log``)."""
    script = (folder / "synth.ys").read_text(encoding="utf-8")
    chparam = dict(re.findall(r"-set (\w+) (\d+)", script))
    point = {PARAM_KEYS[k]: int(v) for k, v in chparam.items() if k in PARAM_KEYS}
    stat = json.loads((folder / "stat.json").read_text(encoding="utf-8"))
    log = (folder / "yosys.log").read_text(encoding="utf-8", errors="replace")
    version = re.search(r"Yosys (\d+\.\d+\S*)", str(stat.get("creator", "")))
    rtl = rtl_hash(folder)
    took = re.search(r"End of script\. .*time: ([\d.]+)s", log)
    head = {
        "yosys_s": round(float(took.group(1))) if took else "",
        "flow": flow,
        "rtl": rtl,
        "commit": commit_of(rtl),
        "yosys": version.group(1) if version else "?",
        **point,
    }
    whole = _counts(stat["design"]["num_cells_by_type"], flow)
    rows = [{**head, "unit": "whole", "instances": 1, **whole}]
    if len(stat["modules"]) > 1:
        for unit, r in sorted(_unit_rows(stat, log, flow).items()):
            rows.append({**head, "unit": unit, **r})
    return rows


def point_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["flow"], row["rtl"], *(int(float(_key(row, k))) for k in ov.HW_KEYS))


def _key(row: Mapping[str, Any], k: str) -> Any:
    return row[k] if k in row else ov.HW_DEFAULTS[k]


def load(path: Path = CSV_PATH) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:  # rows cached before a key existed: its default (one token slot, ...)
        for k, v in ov.HW_DEFAULTS.items():
            if r.get(k) in (None, ""):
                r[k] = str(v)
    return rows


def store(new: Iterable[dict[str, Any]], path: Path = CSV_PATH) -> None:
    """Add rows, replacing those of the same flow, RTL revision and point (atomic write)."""
    new = list(new)
    keys = {point_key(r) for r in new}
    rows = [r for r in load(path) if point_key(r) not in keys] + new
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (r["flow"], r["rtl"], str(point_key(r)), r["unit"])):
            w.writerow({k: _fmt(r.get(k, "")) for k in COLUMNS})
    tmp.replace(path)


def _fmt(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


# ------------------------------------------------------------------------------- fitting
def _point(row: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(_key(row, k)) for k in ov.HW_KEYS}


def _coef_key(unit: str) -> str:
    return "bankram" if unit in RAM_UNITS else unit


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative relative least squares: each point weighs by 1/y (the target is a
    percentage), and no feature may cost negative hardware (with as few points as features,
    a free fit trades one feature against another and extrapolates below zero)."""
    w = 1.0 / np.maximum(np.abs(y), 1.0)
    coef, _ = nnls(x * w[:, None], y * w)
    return np.asarray(coef, dtype=float)


# Features fitted per resource (the rest of a unit's features are structural or unused).
FEATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "lut": {
        "core": (
            "one",
            "sfu",
            "lanes",
            "acc_mux",
            "win_bits",
            "decode",
            "lane_addr",
            "words",
            "pack_pairs",
        ),
        "stream_port": ("one", "shift_bits", "caw"),
        "bankram": ("mux", "rot", "addr_bits", "tile_mux"),
        "mm_lanes": ("lanes",),
    },
    "ff": {
        "core": ("one", "rows", "beat_bits", "lanes", "words", "sfu", "win_bits", "pack_pairs"),
        "stream_port": ("one",),
    },
}


def _usable(names: tuple[str, ...], n: int) -> tuple[str, ...]:
    """The leading features that ``n`` points determine (no spare point: with the few
    points a whole-design run allows, a spare point per feature would leave the structural
    features out; chosen on the first three Xilinx points' leave-one-out error)."""
    return names[: max(1, min(len(names), n))]


def _unit_xy(
    rows: Sequence[Mapping[str, Any]], flow: str, r: str, names: tuple[str, ...], done: Any
) -> tuple[list[list[float]], list[float]]:
    """Features ``names`` and measured ``r`` per instance, less the structural part and
    what ``done`` (coefficients fitted already) predicts."""
    xs, ys = [], []
    for row in rows:
        n, feats = ov.units(_point(row), flow)[row["unit"]]
        fixed = sum(w * feats.get(f, 0.0) for f, w in ov.FIXED.get(r, {}).items())
        fixed += sum(w * feats.get(f, 0.0) for f, w in done.items())
        xs.append([float(feats[f]) for f in names])
        ys.append(float(row[r]) / float(n) - float(fixed))
    return xs, ys


def fit_units(rows: Sequence[Mapping[str, Any]], flow: str) -> dict[str, Any]:
    """Coefficients per unit from per-unit rows (hierarchical netlists)."""
    coef: dict[str, Any] = {}
    for r, per in FEATURES.items():
        for key, names in per.items():
            # batched points (TT, MT > 1) with the others: the core's slot-indexed
            # accumulators (``acc_mux``) are one feature over both
            mine = [w for w in rows if w["unit"] != "whole" and _coef_key(w["unit"]) == key]
            xs, ys = _unit_xy(mine, flow, r, names, {})
            if not xs:
                continue
            names = _usable(names, len(xs))
            c = _lstsq(np.array([x[: len(names)] for x in xs]), np.array(ys))
            fitted = {f: round(float(v), 4) for f, v in zip(names, c, strict=True)}
            coef.setdefault(key, {}).setdefault(r, {}).update(fitted)
    return {u: coef[_coef_key(u)] for u in ov.UNITS if _coef_key(u) in coef}


def fit_whole(
    rows: Sequence[Mapping[str, Any]], flow: str, base: Mapping[str, Any]
) -> dict[str, Any]:
    """Coefficients from whole-design rows only (a flat netlist, e.g. ``synth_ecp5``):
    each unit's logic is ``base``'s (a hierarchical flow's fit) times one scale per unit
    group and resource, plus a constant where points allow (DSPs are structural,
    ``_overlay_resources.DSP``)."""
    whole = [r for r in rows if r["unit"] == "whole"]
    if not whole or any(r not in base.get("core", {}) for r in ("lut", "ff")):
        return {}
    groups = _groups(len(whole))
    const = len(whole) >= len(groups) + 3
    coef: dict[str, Any] = {u: {} for u in ov.UNITS}
    for r in ("lut", "ff"):
        xs, ys = [], []
        for row in whole:
            p = _point(row)
            fixed = ov.predict_units(p, flow, {})
            logic = []
            for g in groups:
                per = ov.predict_units(p, flow, _part(base, g, r, groups))
                logic.append(sum(float(per[u][r] - fixed[u][r]) for u in per))
            xs.append([1.0, *logic] if const else logic)
            ys.append(float(row[r]) - sum(float(fixed[u][r]) for u in fixed))
        fit = _lstsq(np.array(xs), np.array(ys))
        offset, scales = (fit[0], fit[1:]) if const else (0.0, fit)
        for g, s in zip(groups, scales, strict=True):
            for u, res in _part(base, g, r, groups).items():
                coef[u].setdefault(r, {}).update(
                    {f: round(float(s) * w, 4) for f, w in res[r].items()}
                )
        core = coef["core"].setdefault(r, {})
        core["one"] = round(core.get("one", 0.0) + float(offset), 4)
    return coef


# Groups of the Xilinx fit's logic that a flat flow scales, by the points it has: one scale
# for the design; from 6 points the stream ports apart (their skip shifter and burst queue
# map least alike on LUT4 and LUT6). Chosen on the ECP5 points' held-out LUT error
# (median / max %), so in sample as a choice; at 7, 8, 9, 11 points: one scale 3.4 / 14.5,
# 2.6 / 11.9, 3.6 / 10.9, 4.9 / 15.5; ports apart 4.1 / 11.5, 4.4 / 12.3, 4.1 / 8.4,
# 3.7 / 9.1; the core's ``acc_mux`` apart 2.1 / 8.5, 3.6 / 12.2, 3.7 / 10.4, 4.8 / 18.7;
# both apart 2.6 / 7.6, 2.3 / 10.2, 4.4 / 15.7, 4.7 / 16.9. A group: (unit, feature)
# patterns, "*" for any; each coefficient goes to the most specific pattern of the set
# that names it. A constant only where two points are spare.
_ALL = ("*", "*")
GROUP_SETS = (
    (6, ((("stream_port", "*"),), (_ALL,))),
    (0, ((_ALL,),)),
)


def _groups(n: int) -> tuple[tuple[tuple[str, str], ...], ...]:
    return next(g for need, g in GROUP_SETS if n >= need)


def _part(base: Mapping[str, Any], group: Any, r: str, groups: Any) -> dict[str, Any]:
    """``base``'s coefficients of resource ``r`` in ``group`` of the set ``groups``."""
    pairs = {p for g in groups for p in g if "*" not in p}
    units = {gu for g in groups for gu, gf in g if gu != "*" and gf == "*"}

    def owner(u: str, f: str) -> tuple[str, str]:  # the most specific pattern naming it
        return (u, f) if (u, f) in pairs else (u, "*") if u in units else _ALL

    out: dict[str, Any] = {}
    for u in base:
        for f, w in base[u].get(r, {}).items():
            if owner(u, f) in group:
                out.setdefault(u, {r: {}})[r][f] = w
    return out


def committed_errors(rows: Sequence[Mapping[str, Any]], flow: str) -> dict[str, list[float]]:
    """Errors of the committed coefficients (``data/overlay_resources.yaml``) on the whole
    rows given: out of sample where the rows are of another RTL revision than the fit's."""
    errs: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row["unit"] == "whole" and ov.coefficients(flow):
            pred = ov.predict(_point(row), flow)
            for r in ("lut", "ff"):
                errs[r].append(pct(float(pred[r]), float(row[r])))
    return errs


def pct(pred: float, meas: float) -> float:
    return abs(pred - meas) / meas * 100 if meas else (0.0 if abs(pred) < 0.5 else float("inf"))


def summary(errs: Sequence[float]) -> tuple[float, float]:
    return (statistics.median(errs), max(errs)) if errs else (float("nan"), float("nan"))


# ------------------------------------------------------------------------------- reporting
def _short(row: Mapping[str, Any]) -> str:
    p = _point(row)
    return (
        f"K{p['mv_k']:.0f}xN{p['mv_n']:.0f} w{p['w_bits']:.0f} sfu{p['sfu_lanes']:.0f} "
        f"B{p['beat_bytes']:.0f} sp{p['spad_words']:.0f} im{p['imem_words']:.0f} "
        f"x{p['xbuf_words']:.0f} i{p['idx_bits']:.0f} o{p['overlap']:.0f}"
        + (f" TT{p['prefill_slots']:.0f}MT{p['mm_lanes']:.0f}" if p["prefill_slots"] > 1 else "")
    )


def _by_point(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], list[Mapping[str, Any]]]:
    out: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        out[point_key(r)[2:]].append(r)
    return out


def fit_flow(
    rows: Sequence[Mapping[str, Any]], flow: str, base_rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Coefficients of ``flow`` from its rows (and, for a flat flow, ``base_rows`` of the
    hierarchical flow that gives the units' shape)."""
    if any(r["unit"] != "whole" for r in rows):
        return fit_units(rows, flow)
    base = fit_units(base_rows, "yosys-xilinx")
    return fit_whole(rows, flow, base) if base else {}


def report(
    flow: str, rows: Sequence[Mapping[str, Any]], base_rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[float]]:
    """Print measured vs leave-one-out predictions per point and per unit; return errors."""
    pts = _by_point(rows)
    base_pts = _by_point(base_rows)
    errs: dict[str, list[float]] = defaultdict(list)
    unit_errs: dict[tuple[str, str], list[float]] = defaultdict(list)
    n = sum(r["unit"] == "whole" for r in rows)
    print(f"\n{flow}: whole overlay, measured / leave-one-out prediction ({n} points)")
    print(f"  {'point':56s} {'lut':>13s} {'ff':>13s} {'dsp':>9s} {'bram':>11s}")
    for key, prow in pts.items():
        others = [r for k, rs in pts.items() if k != key for r in rs]
        base = [r for k, rs in base_pts.items() if k != key for r in rs]
        coef = fit_flow(others, flow, base)
        whole = next((r for r in prow if r["unit"] == "whole"), None)
        if not coef or whole is None:
            continue
        p = _point(whole)
        pred = {r: float(v) for r, v in ov.predict(p, flow, coef).items()}
        meas = {r: float(whole[r]) for r in COUNTS}
        for r in ("lut", "ff"):
            errs[r].append(pct(pred[r], meas[r]))
        errs["dsp_exact"].append(float(round(pred["dsp"]) == meas["dsp"]))
        errs["bram_ok"].append(
            float(abs(pred["bram"] - meas["bram"]) <= max(1.0, 0.1 * meas["bram"]))
        )
        cells = " ".join(
            f"{meas[r]:6.0f}/{pred[r]:<6.0f}"
            if r in ("lut", "ff")
            else f"{meas[r]:4.0f}/{pred[r]:<4.0f}"
            for r in ("lut", "ff", "dsp")
        )
        print(f"  {_short(whole):56s} {cells} {meas['bram']:5.1f}/{pred['bram']:<5.1f}")
        per = ov.predict_units(p, flow, coef)
        for urow in prow:
            if urow["unit"] in per:
                for r in ("lut", "ff"):
                    unit_errs[(urow["unit"], r)].append(
                        pct(float(per[urow["unit"]][r]), float(urow[r]))
                    )
    if any(r["unit"] != "whole" for r in rows):
        print(f"{flow}: per unit, leave-one-out error % (median / max over points)")
        for u in ("core", "stream_port", *RAM_UNITS, "mm_lanes"):
            if unit_errs.get((u, "lut")):
                lut, ff = summary(unit_errs[(u, "lut")]), summary(unit_errs[(u, "ff")])
                print(
                    f"  {u:14s} lut {lut[0]:5.1f} / {lut[1]:5.1f}   ff {ff[0]:5.1f} / {ff[1]:5.1f}"
                )
    elif pts:
        print(f"{flow}: flat netlist (no per-unit counts); the model's units at the first point:")
        first = _point(next(iter(pts.values()))[0])
        coef = fit_flow([r for rs in pts.values() for r in rs], flow, base_rows)
        for u, res in ov.predict_units(first, flow, coef).items():
            print(f"  {u:14s} " + "  ".join(f"{r} {float(v):7.0f}" for r, v in res.items()))
    return errs
