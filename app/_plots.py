"""Plotly figures of the dashboard (pure functions of DataFrames)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import cost_models as cm

FEASIBLE = "#1f77b4"
INFEASIBLE = "#b0b0b0"
FRONT = "#d62728"
MEASURED = "#2ca02c"
GROUP_COLOURS = dict(
    zip(cm.GROUPS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"), strict=False)
)
STATE_COLOURS = {"queued": "#b0b0b0", "running": "#ff7f0e", "done": "#2ca02c", "failed": "#d62728"}


# Not the front's red: a failed build often sits on a front marker (its trial's position).
FAILED_COLOURS = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def _hover(
    frame: pd.DataFrame,
    axes: Sequence[str],
    params: Sequence[str],
    labels: Sequence[str],
    notes: Sequence[tuple[str, str]] = (),
) -> tuple:
    """customdata (trial number first, then ``notes`` columns, then parameters) and the
    hover template: axis values with 4 significant digits and units, notes, parameters."""
    note_cols = [c for c, _ in notes if c in frame.columns]
    cols = ["number", *note_cols, *[p for p in params if p in frame.columns]]
    data = frame[cols].astype(object).where(frame[cols].notna(), "").to_numpy()
    lines = ["<b>trial %{customdata[0]}</b>"]
    lines += [
        f"{label.split(' · ')[0]}: %{{{'xyz'[i]}:,.4~g}}"
        for i, label in enumerate(labels[: len(axes)])
    ]
    titles = dict(notes)
    lines += [f"{titles[c]}: %{{customdata[{k + 1}]}}" for k, c in enumerate(note_cols)]
    first = 1 + len(note_cols)
    lines += [
        f"{c.removeprefix('param_')}: %{{customdata[{first + k}]}}"
        for k, c in enumerate(cols[first:])
    ]
    return data, "<br>".join(lines) + "<extra></extra>"


def _axis(label: str, log: bool) -> dict[str, object]:
    """A readable axis: its label, and on a log scale every tick with its magnitude
    (``0.02, 0.05, 0.1`` rather than Plotly's bare ``2, 5``)."""
    out: dict[str, object] = {"title": label, "type": "log" if log else "linear"}
    if log:
        out.update(tickformat=",.3~g", minor={"showgrid": True})
    else:
        out.update(tickformat=",.4~g")
    return out


def pareto_figure(
    cloud: pd.DataFrame,
    front: pd.DataFrame,
    measured: pd.DataFrame,
    axes: Sequence[str],
    params: Sequence[str],
    log_axes: Sequence[bool] = (),
    labels: Sequence[str] = (),
    failed: pd.DataFrame | None = None,
    density: object = None,
) -> go.Figure:
    """The 3-D Pareto plot (the 2-D one is Vega-Lite: ``_vega.pareto_spec``, same inputs).

    ``cloud`` holds the thinned trials with a boolean ``feasible`` column (and ``why``: the
    violated constraints of infeasible ones), ``front`` the exact front with one row per
    distinct objective vector (``ties``, ``tied``: designs sharing it), ``measured`` the
    builds at their measured position (``_axes.build_positions``, with ``rule``), ``failed``
    the failed builds (``drawn_at``: measured or their trial's model position), one trace
    per failure class; ``customdata[0]`` is the trial number. There is no density image in
    3-D (``density`` is accepted and must be None).
    """
    if density is not None:
        raise ValueError("a 3-D Pareto plot has no density image")
    labels = list(labels) or list(axes)
    fig = go.Figure()

    def trace(
        df: pd.DataFrame, name: str, notes: Sequence[tuple[str, str]] = (), **style: object
    ) -> None:
        data, tmpl = _hover(df, axes, params, labels, notes)
        coords = {k: df[a] for k, a in zip("xyz", axes, strict=False)}
        fig.add_trace(
            go.Scatter3d(name=name, customdata=data, hovertemplate=tmpl, **coords, **style)
        )

    for feasible, name, colour, opacity in (
        (False, "infeasible", INFEASIBLE, 0.5),
        (True, "feasible", FEASIBLE, 0.6),
    ):
        trace(
            cloud[cloud["feasible"] == feasible],
            name,
            [] if feasible else [("why", "violates")],
            mode="markers",
            marker={"color": colour, "size": 3, "opacity": opacity},
        )
    trace(
        front,
        "predicted front",
        [("ties", "designs with equal objectives"), ("tied", "trials")],
        mode="markers",
        marker={"color": FRONT, "size": 5, "symbol": "diamond"},
    )
    notes = [("build_id", "build"), ("flow", "flow")]
    if len(measured):
        trace(
            measured,
            "measured (built)",
            [*notes, ("state", "build state"), ("rule", "measured as")],
            mode="markers",
            marker={"color": MEASURED, "size": 7, "symbol": "square", "line": {"color": "#000"}},
        )
    if failed is not None and len(failed):
        for k, (cls, part) in enumerate(failed.groupby("failure_class", sort=True)):
            trace(
                part,
                f"build failed: {cls}",
                [
                    *notes,
                    ("failure_class", "failure"),
                    ("drawn_at", "drawn at"),
                    ("rule", "measured as"),
                ],
                mode="markers",
                marker={"color": FAILED_COLOURS[k % len(FAILED_COLOURS)], "size": 7, "symbol": "x"},
            )
    logs = list(log_axes) + [False] * 3
    fig.update_layout(
        height=600,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        hovermode="closest",
        hoverlabel={"align": "left"},
        scene={f"{k}axis": _axis(labels[i], logs[i]) for i, k in enumerate("xyz"[: len(axes)])},
    )
    return fig


def operators_figure(ops: pd.DataFrame) -> go.Figure:
    """Horizontal bars: seconds per operator, one panel per phase, coloured by bound."""
    colours = {"compute": "#1f77b4", "memory": "#ff7f0e", "link": "#9467bd", "overhead": "#7f7f7f"}
    fig = go.Figure()
    for bound, part in ops.groupby("bound", sort=False):
        fig.add_trace(
            go.Bar(
                y=part["phase"] + " · " + part["operator"],
                x=part["seconds"],
                orientation="h",
                name=str(bound),
                marker_color=colours.get(str(bound), "#333"),
                customdata=np.stack([part["share"] * 100, part["critical"]], axis=1),
                hovertemplate="%{y}: %{x:.3g} s (%{customdata[0]:.0f} % of the phase latency)"
                "<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_layout(
        height=40 + 22 * len(ops),
        xaxis={"title": "seconds (all layers)", "type": "log", "tickformat": ",.3~g"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        barmode="stack",
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def channel_map_html(mapping: pd.DataFrame, channels: int, stacks: int, kind: str) -> str:
    """The memory channels as an HTML grid (one row per stack); each cell names its group(s).

    HTML, not a chart: the Design page then needs no chart library to show its first screen
    (Plotly's ~4.7 MB module costs a page load more than everything else on it).
    """
    stacks = max(1, stacks)
    per_row = int(np.ceil(channels / stacks))
    users: dict[int, list[str]] = {c: [] for c in range(channels)}
    for c, g in zip(mapping["channel"], mapping["group"], strict=True):
        users[int(c)].append(str(g))
    cells = []
    for c in range(channels):
        groups = users[c]
        colour = (
            "#eeeeee"
            if not groups
            else ("#d62728" if len(groups) > 1 else GROUP_COLOURS.get(groups[0], "#333"))
        )
        ink = "#000" if not groups else "#fff"
        what = ", ".join(groups) or "unused"
        title = html.escape(f"channel {c}: {what}" + (" (shared)" if len(groups) > 1 else ""))
        names = "<br>".join(html.escape(g[:4]) for g in groups[:2]) if per_row <= 16 else ""
        cells.append(
            f'<div title="{title}" style="background:{colour};color:{ink};border:1px solid #555;'
            f'border-radius:3px;padding:2px 0;text-align:center;font-size:11px;line-height:1.2">'
            f"<b>{c}</b>" + (f"<br>{names}" if names else "") + "</div>"
        )
    legend = " ".join(
        f'<span style="display:inline-block;width:11px;height:11px;background:{colour};'
        f'margin:0 3px 0 10px;vertical-align:middle"></span>{html.escape(g)}'
        for g, colour in [*GROUP_COLOURS.items(), ("shared", "#d62728"), ("unused", "#eeeeee")]
    )
    return (
        f'<div style="font-weight:600;margin-bottom:4px">{html.escape(kind.upper())} channel map '
        f"({channels} channels, {stacks} stack(s))</div>"
        f'<div style="display:grid;grid-template-columns:repeat({per_row},minmax(0,1fr));'
        f'gap:3px">{"".join(cells)}</div>'
        f'<div style="font-size:12px;margin-top:6px">{legend}</div>'
    )


STEP_COLOURS = ("#17becf", "#bcbd22", "#e377c2", "#8c564b", "#7f7f7f", "#9467bd")


def timeline_figure(builds: pd.DataFrame, steps: pd.DataFrame | None = None) -> go.Figure:
    """One row per host (lane), a bar per build from start to finish (queued builds at queue
    time), and inside each finished build a thin bar per tool step (``_data.step_segments``)."""
    fig = go.Figure()
    if builds.empty:
        return fig
    now = pd.Timestamp.now(tz="UTC").timestamp()
    from app._data import timeline_lanes

    df = builds.copy()
    df["host"] = timeline_lanes(df, now)
    start = df["started_at"].fillna(df["queued_at"]).astype(float)
    end = df["finished_at"].fillna(now).astype(float)
    df["start"] = pd.to_datetime(start, unit="s", utc=True)
    df["duration_ms"] = ((end - start).clip(lower=0.5)) * 1000.0
    df["seconds"] = (end - start).round(1)
    for state, part in df.groupby("state", sort=False):
        fig.add_trace(
            go.Bar(
                base=part["start"],
                x=part["duration_ms"],
                y=part["host"],
                orientation="h",
                name=f"build {state}",
                width=0.7,
                marker_color=STATE_COLOURS.get(str(state), "#333"),
                opacity=0.55,
                customdata=np.stack(
                    [
                        part["build_id"],
                        part["trial_number"].astype(object),
                        part["flow"],
                        part["failure_class"].fillna("").astype(str),
                        part["seconds"],
                    ],
                    axis=1,
                ),
                hovertemplate="build %{customdata[0]} (trial %{customdata[1]}, "
                "%{customdata[2]})<br>%{customdata[4]} s %{customdata[3]}<extra></extra>",
            )
        )
    if steps is not None and len(steps):
        lane = dict(zip(df["build_id"].astype(int), df["host"], strict=True))
        for k, (step, part) in enumerate(steps.groupby("step", sort=False)):
            fig.add_trace(
                go.Bar(
                    base=pd.to_datetime(part["start"], unit="s", utc=True),
                    x=part["seconds"].clip(lower=0.05) * 1000.0,
                    y=[lane.get(int(b), "") for b in part["build_id"]],
                    orientation="h",
                    width=0.3,
                    name=f"step: {step}",
                    marker_color=STEP_COLOURS[k % len(STEP_COLOURS)],
                    customdata=np.stack([part["build_id"], part["seconds"]], axis=1),
                    hovertemplate=f"build %{{customdata[0]}}: step {step}, "
                    "%{customdata[1]:.1f} s<extra></extra>",
                )
            )
    fig.update_layout(
        height=160 + 40 * df["host"].nunique(),
        xaxis={"type": "date", "title": "time (UTC)"},
        barmode="overlay",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def calibration_figure(
    pairs: pd.DataFrame, metric: str, corrections: Mapping[str, float]
) -> go.Figure:
    """Predicted vs measured for one metric, log-log, with y = x and the fitted correction."""
    part = pairs[pairs["metric"] == metric]
    fig = go.Figure()
    for flow, g in part.groupby("flow", sort=False):
        fig.add_trace(
            go.Scatter(
                x=g["predicted"],
                y=g["measured"],
                mode="markers",
                name=f"builds ({flow})",
                marker={"size": 10},
                customdata=np.stack([g["build_id"], g["trial"].astype(object)], axis=1),
                hovertemplate="build %{customdata[0]} (trial %{customdata[1]})<br>"
                "predicted %{x:,.4g}<br>measured %{y:,.4g}<extra></extra>",
            )
        )
    positive = part[["predicted", "measured"]].to_numpy(float)
    positive = positive[positive > 0]
    lo, hi = (positive.min() / 1.5, positive.max() * 1.5) if positive.size else (1.0, 10.0)
    line = np.geomspace(lo, hi, 50)
    fig.add_trace(
        go.Scatter(
            x=line, y=line, mode="lines", name="y = x", line={"dash": "dash", "color": "#555"}
        )
    )
    if corrections:
        a, b = corrections["intercept"], corrections["slope"]
        fig.add_trace(
            go.Scatter(
                x=line,
                y=np.exp(a) * line**b,
                mode="lines",
                name=f"calibrated (×{np.exp(a):.3g}, slope {b:.2f})",
                line={"color": "#2ca02c"},
            )
        )
    fig.update_layout(
        height=420,
        xaxis=_axis(f"predicted {metric} (model, datapath)", True),
        yaxis=_axis(f"measured {metric}", True),
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


def error_history_figure(history: pd.DataFrame, metric: str) -> go.Figure:
    """The model's error for ``metric`` before and after each fit, by builds fitted on."""
    fig = go.Figure()
    for flow, g in history.groupby("flow", sort=False):
        for col, dash in (("error_before", "dot"), ("error_after", "solid")):
            fig.add_trace(
                go.Scatter(
                    x=g["n_builds"],
                    y=g[col],
                    mode="lines+markers",
                    name=f"{col.replace('_', ' ')} ({flow})",
                    line={"dash": dash},
                )
            )
    fig.update_layout(
        height=300,
        xaxis={"title": "builds fitted on", "tickformat": "d", "dtick": 1},
        legend={"orientation": "h", "y": -0.3},
        yaxis={"title": f"median |log(measured/predicted)| of {metric}"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig
