"""Fitting the spatial whole-design model's LUT/FF coefficients to cached builds: per kind
on the hierarchical (Xilinx) flow's instance rows, a scale of that shape on a flat flow
(ECP5), and writing them to ``cost_models/data/spatial_resources.yaml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import nnls
from spatial_points import insts_of

from cost_models import _spatial_resources as sr
from cost_models._spatial_params import KINDS

ROOT = Path(__file__).resolve().parents[1]


def fit(rows: list[dict[str, Any]], flow: str) -> dict[str, Any]:
    """LUT/FF coefficients per kind: non-negative least squares over the measured
    per-instance rows (Xilinx) of ``rows``; a flat flow's: ``fit_flat``."""
    if flow in sr.FLAT:
        return fit_flat(rows, flow, fit(rows, sr.FLAT[flow]))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["flow"] == flow and r["unit"] in KINDS:
            by_kind.setdefault(r["unit"], []).append(r)
    coef: dict[str, Any] = {}
    for kind, rs in by_kind.items():
        feats = [sr.features(kind, {**json.loads(r["params"])}, flow) for r in rs]
        if kind == "top":  # the top's parameters are the point's
            feats = [sr.features("top", _top_params(r), flow) for r in rs]
        names = sorted({k for f in feats for k in f})
        a = np.array(
            [
                [f.get(k, 0.0) * float(r["inst"]) for k in names]
                for f, r in zip(feats, rs, strict=True)
            ]
        )
        coef[kind] = {}
        for res in ("lut", "ff"):
            b = np.array([float(r[res]) for r in rs])
            use = [i for i, k in enumerate(names) if k not in sr.FIXED]
            fixed = {k: w[flow] for k, (r, w) in sr.FIXED.items() if r == res and k in names}
            for k, w in fixed.items():  # priced by rule: taken off before the fit
                b = b - w * a[:, names.index(k)]
            w, _ = nnls(a[:, use], b)
            coef[kind][res] = {
                names[i]: round(float(v), 4) for i, v in zip(use, w, strict=True) if v > 0
            } | {k: round(v, 4) for k, v in fixed.items()}
    return coef


# Points before a flat flow's fit takes a constant: the first four ECP5 builds (35 to 44 k
# LUT) gave LUT = 1.83 x shape - 16 k, a slope that a small or large design would carry
# far off; a scale alone held out at 3.8 / 7.9 % (median / max) on them.
FLAT_CONST_POINTS = 6
RESIDENT_POINTS = 2


def fit_flat(rows: list[dict[str, Any]], flow: str, shape: dict[str, Any]) -> dict[str, Any]:
    """A flat flow's coefficients from its whole rows: per resource, least squares of the
    measured counts, less the rule-priced features (``sr.FIXED``), on ``shape``'s
    prediction (the hierarchical fit's): a scale, a resident points' scale (from
    ``RESIDENT_POINTS`` of them) and, from ``FLAT_CONST_POINTS`` points, a constant; {}
    without rows or shape."""
    whole = [r for r in rows if r["flow"] == flow and r["unit"] == "whole"]
    if not whole or not shape:
        return {}
    unit = sr.flat_coefficients(shape, {"lut": 1.0, "ff": 1.0}, {})
    none = sr.flat_coefficients(shape, {"lut": 0.0, "ff": 0.0}, {})  # the FIXED part only
    insts = [insts_of(r) for r in whole]  # each point's plan, built once
    xs = [sr.predict(i, flow, unit) for i in insts]
    fixed = [sr.predict(i, flow, none) for i in insts]
    # resident points (C = N: the pass register folds away) take a scale of their own
    # from RESIDENT_POINTS of them
    res_of = np.array([float(sr.resident(i)) for i in insts])
    split = res_of.sum() >= RESIDENT_POINTS
    scale, const, scale_res = {}, {}, {}
    for res in ("lut", "ff"):
        x = np.array([p[res] - q[res] for p, q in zip(xs, fixed, strict=True)])
        y = np.array([float(r[res]) - q[res] for r, q in zip(whole, fixed, strict=True)])
        cols = [x * (1 - res_of), x * res_of] if split else [x]
        with_const = len(whole) >= FLAT_CONST_POINTS
        c = np.linalg.lstsq(
            np.stack([*cols, np.ones_like(x)][: len(cols) + with_const], axis=1), y, rcond=None
        )[0]
        scale[res] = round(float(c[0]), 4)
        if split:
            scale_res[res] = round(float(c[1]), 4)
        const[res] = round(float(c[-1]), 1) if with_const else 0.0
    return sr.flat_coefficients(shape, scale, const, scale_res or None)


def _top_params(row: dict[str, Any]) -> dict[str, int]:
    return next(p for k, p, _ in insts_of(row) if k == "top")


def write(coef: dict[str, Any], rtl: str) -> None:
    head = (
        "# Coefficients of cost_models._spatial_resources per flow -> kind -> resource ->\n"
        "# feature, fitted to whole Yosys builds of templates/spatial_rtl (RTL revision `rtl`)\n"
        "# by  python benchmarks/spatial_whole_synth.py --write  (benchmarks/data/\n"
        "# spatial_synth.csv). Do not edit by hand: rerun the command.\n"
    )
    # a flat flow's shape is its hierarchical flow's, written beside it: not repeated
    flows = {f: {k: v for k, v in c.items() if k != "shape"} for f, c in coef.items() if c}
    doc = {"version": 1, "rtl": rtl, "flows": flows}
    (ROOT / "cost_models" / "data" / "spatial_resources.yaml").write_text(
        head + yaml.safe_dump(doc, sort_keys=False)
    )
