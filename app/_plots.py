"""Plotly figures of the dashboard (pure functions of DataFrames)."""

from __future__ import annotations

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


def _hover(frame: pd.DataFrame, axes: Sequence[str], params: Sequence[str]) -> tuple:
    """customdata (trial number first, then parameters) and the matching hover template."""
    cols = ["number", *[p for p in params if p in frame.columns]]
    data = frame[cols].astype(object).where(frame[cols].notna(), "").to_numpy()
    lines = ["trial %{customdata[0]}"]
    lines += [f"{a}: %{{{'xyz'[i]}:.4g}}" for i, a in enumerate(axes)]
    lines += [
        f"{c.removeprefix('param_')}: %{{customdata[{k + 1}]}}" for k, c in enumerate(cols[1:])
    ]
    return data, "<br>".join(lines) + "<extra></extra>"


def pareto_figure(
    cloud: pd.DataFrame,
    front: pd.DataFrame,
    measured: pd.DataFrame,
    axes: Sequence[str],
    params: Sequence[str],
    log_axes: Sequence[bool] = (),
    title: str = "",
) -> go.Figure:
    """Trials (feasible / infeasible), the predicted front and the measured points.

    ``cloud`` holds the (possibly thinned) trials with a boolean ``feasible`` column,
    ``front`` the exact front sorted along the first axis, ``measured`` one row per built
    trial at its measured position (``measured_positions``). Two axes make a WebGL scatter
    (selectable: ``customdata[0]`` is the trial number), three a 3-D scatter.
    """
    three = len(axes) == 3
    fig = go.Figure()

    def trace(df: pd.DataFrame, name: str, **style: object) -> None:
        data, tmpl = _hover(df, axes, params)
        coords = {k: df[a] for k, a in zip("xyz", axes, strict=False)}
        if three:
            fig.add_trace(
                go.Scatter3d(name=name, customdata=data, hovertemplate=tmpl, **coords, **style)
            )
        else:
            fig.add_trace(
                go.Scattergl(name=name, customdata=data, hovertemplate=tmpl, **coords, **style)
            )

    size = 3 if three else 5
    trace(
        cloud[~cloud["feasible"]],
        "infeasible",
        mode="markers",
        marker={"color": INFEASIBLE, "size": size, "opacity": 0.5},
    )
    trace(
        cloud[cloud["feasible"]],
        "feasible",
        mode="markers",
        marker={"color": FEASIBLE, "size": size, "opacity": 0.6},
    )
    front_style: dict[str, object] = {
        "mode": "markers",
        "marker": {"color": FRONT, "size": 5, "symbol": "diamond"},
    }
    if not three:  # a staircase through the front (3-D lines have no shape)
        front_style = {
            "mode": "lines+markers",
            "marker": {"color": FRONT, "size": 8, "symbol": "diamond"},
            "line": {"color": FRONT, "shape": "hv"},
        }
    trace(front, "predicted front", **front_style)
    if len(measured):
        if not three:
            # A dashed segment from each built trial's predicted to its measured position.
            pred = front.set_index("number") if len(front) else None
            xs: list[float | None] = []
            ys: list[float | None] = []
            by_number = cloud.set_index("number")
            for _, m in measured.iterrows():
                src = by_number if m["number"] in by_number.index else pred
                if src is None or m["number"] not in src.index:
                    continue
                p = src.loc[m["number"]]
                xs += [float(p[axes[0]]), float(m[axes[0]]), None]
                ys += [float(p[axes[1]]), float(m[axes[1]]), None]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": MEASURED, "dash": "dash", "width": 1},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        trace(
            measured,
            "measured (built)",
            mode="markers",
            marker={  # 3-D markers have no star
                "color": MEASURED,
                "size": 7 if three else 13,
                "symbol": "square" if three else "star",
            },
        )
    layout: dict[str, object] = {
        "title": title,
        "height": 560,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "legend": {"orientation": "h", "y": -0.12},
        "clickmode": "event+select",
        "dragmode": "zoom",
    }
    logs = list(log_axes) + [False] * 3
    if three:
        layout["scene"] = {
            f"{k}axis": {"title": a, "type": "log" if logs[i] else "linear"}
            for i, (k, a) in enumerate(zip("xyz", axes, strict=False))
        }
    else:
        layout["xaxis"] = {"title": axes[0], "type": "log" if logs[0] else "linear"}
        layout["yaxis"] = {"title": axes[1], "type": "log" if logs[1] else "linear"}
    fig.update_layout(**layout)
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
                customdata=np.stack([part["share"] * 100, part["limits phase"]], axis=1),
                hovertemplate="%{y}: %{x:.3g} s (%{customdata[0]:.0f} % of phase)"
                "<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_layout(
        height=40 + 22 * len(ops),
        xaxis={"title": "seconds (all layers)", "type": "log"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        barmode="stack",
    )
    return fig


def resources_figure(res: pd.DataFrame) -> go.Figure:
    """Utilisation of each resource against the device limit (100 %)."""
    util = res["util"] * 100
    colours = ["#d62728" if u > 100 else ("#ff7f0e" if u > 80 else "#2ca02c") for u in util]
    fig = go.Figure(
        go.Bar(
            x=res["resource"],
            y=util,
            marker_color=colours,
            customdata=np.stack([res["used"], res["available"]], axis=1),
            hovertemplate="%{x}: %{customdata[0]:,.0f} of %{customdata[1]:,.0f} "
            "(%{y:.1f} %)<extra></extra>",
        )
    )
    fig.add_hline(
        y=100,
        line_dash="dash",
        line_color="#d62728",
        annotation_text="device limit",
        annotation_position="bottom left",
    )
    fig.update_layout(
        height=300, yaxis={"title": "% of device (after shell)"}, margin={"t": 10, "b": 10}
    )
    return fig


def channel_map_figure(mapping: pd.DataFrame, channels: int, stacks: int, kind: str) -> go.Figure:
    """The memory channels as a grid (one row per stack); each cell names its group(s)."""
    stacks = max(1, stacks)
    per_row = int(np.ceil(channels / stacks))
    users: dict[int, list[str]] = {c: [] for c in range(channels)}
    for c, g in zip(mapping["channel"], mapping["group"], strict=True):
        users[int(c)].append(str(g))
    fig = go.Figure()
    for c in range(channels):
        row, col = divmod(c, per_row)
        groups = users[c]
        colour = (
            "#eeeeee"
            if not groups
            else ("#d62728" if len(groups) > 1 else GROUP_COLOURS[groups[0]])
        )
        fig.add_shape(
            type="rect",
            x0=col,
            x1=col + 0.92,
            y0=-row,
            y1=-row + 0.92,
            fillcolor=colour,
            line={"color": "#555", "width": 1},
            layer="below",  # under the text of the cell
        )
        fig.add_trace(
            go.Scatter(
                x=[col + 0.46],
                y=[-row + 0.46],
                mode="text",
                text=[f"<b>{c}</b><br>{'<br>'.join(groups) or '-'}"],
                textfont={"size": 10, "color": "#000" if not groups else "#fff"},
                hovertemplate=f"channel {c}: {', '.join(groups) or 'unused'}"
                + (" (shared)" if len(groups) > 1 else "")
                + "<extra></extra>",
                showlegend=False,
            )
        )
    for g, colour in GROUP_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=g,
                marker={"color": colour, "size": 12, "symbol": "square"},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="shared",
            marker={"color": "#d62728", "size": 12, "symbol": "square"},
        )
    )
    fig.update_layout(
        height=120 + 110 * stacks,
        xaxis={"visible": False, "range": [-0.1, per_row], "fixedrange": True},
        yaxis={"visible": False, "range": [-stacks + 0.9, 1.0], "fixedrange": True},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=f"{kind.upper()} channel map ({channels} channels, {stacks} stack(s))",
        legend={"orientation": "h"},
    )
    return fig


def timeline_figure(builds: pd.DataFrame) -> go.Figure:
    """One row per host, a bar per build from start to finish (queued builds at queue time)."""
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
    for state, part in df.groupby("state", sort=False):
        fig.add_trace(
            go.Bar(
                base=part["start"],
                x=part["duration_ms"],
                y=part["host"],
                orientation="h",
                name=str(state),
                marker_color=STATE_COLOURS.get(str(state), "#333"),
                customdata=np.stack(
                    [
                        part["build_id"],
                        part["trial_number"].astype(object),
                        part["flow"],
                        part["failure_class"].fillna("").astype(str),
                    ],
                    axis=1,
                ),
                hovertemplate="build %{customdata[0]} (trial %{customdata[1]}, "
                "%{customdata[2]})<br>%{x:.0f} ms %{customdata[3]}<extra></extra>",
            )
        )
    fig.update_layout(
        height=120 + 40 * df["host"].nunique(),
        xaxis={"type": "date", "title": "time (UTC)"},
        barmode="overlay",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
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
        xaxis={"title": f"predicted {metric}", "type": "log"},
        yaxis={"title": f"measured {metric}", "type": "log"},
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
        xaxis={"title": "builds fitted on"},
        yaxis={"title": f"median |log(measured/predicted)| of {metric}"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig
