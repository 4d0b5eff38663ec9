"""The 2-D Pareto chart as a Vega-Lite spec (``st.vega_lite_chart``), not a Plotly figure.

Why: Streamlit loads a chart library's JavaScript module on every page load that shows one
of its charts; Plotly's is 4.7 MB and evaluating it was most of the Pareto page's first
paint, Vega's is 0.8 MB (``benchmarks/dashboard_load.py``, docs/dashboard.md). The 3-D
plot stays a Plotly figure (``_plots.pareto_figure``).

The spec draws what ``_plots.pareto_figure`` draws in 2-D, one layer per kind of thing, each
with its own table in ``datasets`` (Streamlit sends those as Arrow): density cells
(``density_infeasible``, ``density_feasible``), cloud markers (``infeasible``, ``feasible``),
the front (``front``: a staircase and one marker per distinct design), model-to-measured
segments (``segments``) and built trials (``measured``, ``failed``). Every marker table has
``number`` (the trial), ``x`` and ``y`` (its position) and ``series`` (its legend entry).
Clicking a marker selects its trial through the layer's point selection (``PICKS``; shift
adds a second one); dragging pans, the wheel zooms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from app import _plots
from app._density import Density

# Marker shapes as SVG paths on a [-1, 1] square (Vega's built-in set has no star or "x").
STAR = (
    "M0,-1L0.235,-0.324L0.951,-0.309L0.38,0.124L0.588,0.809L0,0.4L-0.588,0.809L-0.38,0.124"
    "L-0.951,-0.309L-0.235,-0.324Z"
)
EX = "M-1,-0.7L-0.7,-1L0,-0.3L0.7,-1L1,-0.7L0.3,0L1,0.7L0.7,1L0,0.3L-0.7,1L-1,0.7L-0.3,0Z"
FAILED_SHAPES = (EX, "triangle-down", "cross", "square", "diamond", "triangle-left")
# Layer (dataset) -> its point selection; a built layer's pick wins over the cloud's.
PICKS = {
    "infeasible": "pick_infeasible",
    "feasible": "pick_feasible",
    "front": "pick_front",
    "measured": "pick_measured",
    "failed": "pick_failed",
}
BUILT_PICKS = ("pick_measured", "pick_failed")
SVG_MARKS = 500  # markers and density cells


def _table(
    df: pd.DataFrame,
    axes: Sequence[str],
    series: str | pd.Series,
    columns: Sequence[str],
) -> pd.DataFrame:
    """``number``, ``x``, ``y``, ``series`` and the hover ``columns`` of ``df`` (text columns
    as strings, so every table converts to Arrow)."""
    out = pd.DataFrame(
        {
            "number": df["number"].astype("int64").to_numpy(),
            "x": df[axes[0]].astype(float).to_numpy(),
            "y": df[axes[1]].astype(float).to_numpy(),
            "series": series if isinstance(series, str) else series.astype(str).to_numpy(),
        }
    )
    for c in columns:
        if c not in df.columns or c in out.columns:
            continue
        col = df[c]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        out[c] = col.to_numpy() if numeric else col.where(col.notna(), "").astype(str).to_numpy()
    return out


def _tooltip(
    labels: Sequence[str], notes: Sequence[tuple[str, str]], params: Sequence[str]
) -> list[dict[str, Any]]:
    """Trial, both axis values (4 significant digits, with units), notes, parameters."""
    tips: list[dict[str, Any]] = [{"field": "number", "title": "trial", "type": "nominal"}]
    for k, label in zip("xy", labels, strict=False):
        tips.append(
            {"field": k, "title": label.split(" · ")[0], "type": "quantitative", "format": ",.4~g"}
        )
    tips += [{"field": c, "title": t, "type": "nominal"} for c, t in notes]
    tips += [{"field": p, "title": p.removeprefix("param_"), "type": "nominal"} for p in params]
    return tips


def _density_cells(counts: np.ndarray) -> pd.DataFrame:
    """One row per non-empty cell: its column and row in the grid (``ix``, ``iy``) and how
    many trials it holds; the chart computes the cell's edges (``_cell_edges``), so a
    120 x 120 grid is 8 bytes a cell, not five floats and a name."""
    iy, ix = np.nonzero(counts)
    return pd.DataFrame(
        {
            "ix": ix.astype(np.int16),
            "iy": iy.astype(np.int16),
            "count": counts[iy, ix].astype(np.int32),
        }
    )


def _cell_edges(density: Density, logs: Sequence[bool], series: str) -> list[dict[str, str]]:
    """Vega-Lite transforms that give a ``_density_cells`` row its edges (``x``, ``x2``,
    ``y``, ``y2``: the grid is evenly spaced, in log10 on a log axis) and its ``series``."""
    out = []
    for k, edges in enumerate((density.x_edges, density.y_edges)):
        lo, hi = float(edges[0]), float(edges[-1])
        if logs[k]:
            lo, hi = float(np.log10(lo)), float(np.log10(hi))
        step = (hi - lo) / (len(edges) - 1)
        for shift, name in ((0, "xy"[k]), (1, "xy"[k] + "2")):
            at = f"{lo!r} + (datum.{'ixiy'[2 * k : 2 * k + 2]} + {shift}) * {step!r}"
            out.append({"calculate": f"pow(10, {at})" if logs[k] else at, "as": name})
    return [*out, {"calculate": repr(series), "as": "series"}]


def model_to_measured(
    cloud: pd.DataFrame, front: pd.DataFrame, moved: pd.DataFrame, axes: Sequence[str]
) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) from each built trial's model position to its measured one: the
    model's position of what was built (``model_<axis>``), else its trial's (in ``cloud``
    or ``front``); a build with neither is left out."""
    if not len(moved):
        return []
    model = pd.concat([cloud, front]).drop_duplicates("number").set_index("number")
    out = []
    for _, m in moved.iterrows():
        own = [m.get(f"model_{a}") for a in axes[:2]]
        if all(isinstance(v, float) and np.isfinite(v) for v in own):
            start = [float(v) for v in own]  # type: ignore[arg-type]
        elif m["number"] in model.index:
            p = model.loc[m["number"]]
            start = [float(p[axes[0]]), float(p[axes[1]])]
        else:
            continue
        out.append((start[0], start[1], float(m[axes[0]]), float(m[axes[1]])))
    return out


def pareto_spec(
    cloud: pd.DataFrame,
    front: pd.DataFrame,
    measured: pd.DataFrame,
    axes: Sequence[str],
    params: Sequence[str],
    log_axes: Sequence[bool] = (False, False),
    labels: Sequence[str] = (),
    failed: pd.DataFrame | None = None,
    density: Density | None = None,
) -> dict[str, Any]:
    """The 2-D Pareto chart of ``_plots.pareto_figure``'s inputs as a Vega-Lite spec."""
    labels = list(labels) or list(axes)
    logs = [*log_axes, False, False][:2]
    points = cloud
    if density is not None and "on_front" in cloud.columns:  # the front layer draws those
        points = cloud[~cloud["on_front"].astype(bool)]
    params = [p for p in params if p in cloud.columns or p in front.columns]
    built_notes = [("build_id", "build"), ("flow", "flow"), ("state", "build state")]
    failed_notes = [
        ("build_id", "build"),
        ("flow", "flow"),
        ("failure_class", "failure"),
        ("drawn_at", "drawn at"),
    ]
    kinds: dict[str, tuple[pd.DataFrame, str | pd.Series, list[tuple[str, str]]]] = {
        "infeasible": (points[~points["feasible"]], "infeasible", [("why", "violates")]),
        "feasible": (points[points["feasible"]], "feasible", []),
        "front": (
            front,
            "predicted front",
            [("ties", "designs with equal objectives"), ("tied", "trials")],
        ),
        "measured": (measured, "measured (built)", [*built_notes, ("rule", "measured as")]),
    }
    if failed is not None and len(failed):
        kinds["failed"] = (
            failed,
            "build failed: " + failed["failure_class"].astype(str),
            [*failed_notes, ("rule", "measured as")],
        )
    tables: dict[str, pd.DataFrame] = {}
    tips: dict[str, list[dict[str, Any]]] = {}
    for name, (df, series, notes) in kinds.items():
        notes = [(c, t) for c, t in notes if c in df.columns]
        here = [p for p in params if p in df.columns]
        tables[name] = _table(df, axes, series, [c for c, _ in notes] + here)
        tips[name] = _tooltip(labels, notes, here)
    if density is not None:
        for counts, name in ((density.infeasible, "infeasible"), (density.feasible, "feasible")):
            if counts.any():
                tables[f"density_{name}"] = _density_cells(counts)
    moved = [measured]
    if failed is not None and len(failed):
        moved.append(failed[failed["drawn_at"] == "measured"])
    segments = model_to_measured(cloud, front, pd.concat(moved), axes)
    if segments:
        tables["segments"] = pd.DataFrame(segments, columns=["x", "y", "x2", "y2"]).assign(
            series="model → measured"
        )

    # One legend: every layer colours (and shapes) by ``series`` over the same domain.
    style = {  # series -> (colour, shape)
        "infeasible (density)": ("#7f7f7f", "square"),
        "feasible (density)": ("#2f5f98", "square"),
        "infeasible": (_plots.INFEASIBLE, "circle"),
        "feasible": (_plots.FEASIBLE, "circle"),
        "predicted front": (_plots.FRONT, "diamond"),
        "model → measured": (_plots.MEASURED, "stroke"),
        "measured (built)": (_plots.MEASURED, STAR),
    }
    if "failed" in tables:
        for k, cls in enumerate(sorted(set(tables["failed"]["series"]))):
            style[cls] = (
                _plots.FAILED_COLOURS[k % len(_plots.FAILED_COLOURS)],
                FAILED_SHAPES[k % len(FAILED_SHAPES)],
            )
    present = {s for t in tables.values() if "series" in t for s in t["series"].unique()}
    present |= {
        f"{k.removeprefix('density_')} (density)" for k in tables if k.startswith("density_")
    }
    domain = [s for s in style if s in present]

    def channel(kind: str) -> dict[str, Any]:
        return {
            "field": "series",
            "type": "nominal",
            "title": None,
            "scale": {"domain": domain, "range": [style[s][kind == "shape"] for s in domain]},
            "legend": {"orient": "bottom", "columns": 4, "labelLimit": 400, "symbolSize": 80},
        }

    def axis(k: int) -> dict[str, Any]:
        return {
            "field": "xy"[k],
            "type": "quantitative",
            "title": labels[k],
            # A log scale's domain is the data's (12 px to spare), not stretched to whole decades.
            "scale": {"type": "log", "nice": False, "padding": 12} if logs[k] else {"zero": False},
            # log axes: every labelled tick with its magnitude (0.02, 1,000: not 2, 1e+3)
            "axis": {
                "format": ",.6~g" if logs[k] else ",.4~g",
                "labelOverlap": "greedy",
                "tickCount": 10,
            },
        }

    xy = {"x": axis(0), "y": axis(1), "color": channel("color")}
    layers: list[dict[str, Any]] = []
    for name in ("infeasible", "feasible"):
        if density is not None and f"density_{name}" in tables:
            layers.append(
                {
                    "data": {"name": f"density_{name}"},
                    "transform": _cell_edges(density, logs, f"{name} (density)"),
                    "mark": {"type": "rect", "tooltip": True},
                    "encoding": {
                        **xy,
                        "x2": {"field": "x2"},
                        "y2": {"field": "y2"},
                        "opacity": {  # darker = more trials, on a log scale of the count
                            "field": "count",
                            "type": "quantitative",
                            "scale": {"type": "log", "range": [0.15, 0.9]},
                            "legend": None,
                        },
                        "tooltip": [
                            {"field": "count", "title": f"{name} trials in this cell"},
                            {"field": "x", "title": f"{labels[0].split(' · ')[0]} from"},
                            {"field": "y", "title": f"{labels[1].split(' · ')[0]} from"},
                        ],
                    },
                }
            )
    marks = {
        "infeasible": {"type": "point", "filled": True, "size": 22, "opacity": 0.5},
        "feasible": {"type": "point", "filled": True, "size": 22, "opacity": 0.6},
        "front": {"type": "point", "filled": True, "size": 70, "opacity": 1},
        "measured": {
            "type": "point",
            "filled": True,
            "size": 260,
            "opacity": 1,
            "stroke": "#000",
            "strokeWidth": 1,
        },
        "failed": {
            "type": "point",
            "filled": True,
            "size": 170,
            "opacity": 1,
            "stroke": "#000",
            "strokeWidth": 0.5,
        },
    }
    for name in PICKS:
        if name == "front" and len(tables["front"]) > 1:  # a staircase through the front
            layers.append(
                {
                    "data": {"name": "front"},
                    "mark": {"type": "line", "interpolate": "step-after", "color": _plots.FRONT},
                    "encoding": {"x": xy["x"], "y": xy["y"], "order": {"field": "x"}},
                }
            )
        if name == "measured" and "segments" in tables:
            layers.append(
                {
                    "data": {"name": "segments"},
                    "mark": {"type": "rule", "strokeDash": [4, 3]},
                    "encoding": {**xy, "x2": {"field": "x2"}, "y2": {"field": "y2"}},
                }
            )
        if name not in tables or tables[name].empty:
            continue
        layers.append(
            {
                "data": {"name": name},
                "mark": marks[name],
                "encoding": {**xy, "shape": channel("shape"), "tooltip": tips[name]},
                "params": [
                    {"name": PICKS[name], "select": {"type": "point", "fields": ["number"]}}
                ],
            }
        )
    # Pan and zoom (a scale-bound interval, on one marker layer: the scales are shared).
    for layer in layers:
        if "params" in layer:
            layer["params"].append({"name": "zoom", "select": "interval", "bind": "scales"})
            break
    drawn = sum(len(t) for k, t in tables.items() if k != "segments")
    svg = drawn <= SVG_MARKS
    return {
        "height": 600,
        # SVG keeps each marker an element labelled with its hover fields (screen readers;
        # the browser test finds markers by them); above SVG_MARKS canvas draws faster.
        "usermeta": {"embedOptions": {"renderer": "svg" if svg else "canvas"}},
        "datasets": {k: v for k, v in tables.items() if len(v)},
        "layer": layers,
        # Labels for screen readers exist in SVG only: on canvas, not computing one per mark
        # saves the browser a string per trial drawn.
        "config": {"legend": {"labelFontSize": 12}, "aria": svg},
    }


def picks(spec: dict[str, Any]) -> list[str]:
    """The spec's point selections (what ``st.vega_lite_chart``'s ``selection_mode`` takes)."""
    return [
        p["name"]
        for layer in spec["layer"]
        for p in layer.get("params", [])
        if p["name"] in PICKS.values()
    ]
