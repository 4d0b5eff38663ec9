"""Pareto explorer: any two or three objectives/metrics, predicted front and built trials.

A large study is not drawn one marker per trial: the front and every built trial are
always markers at their exact position; above ``_density.POINTS_LIMIT`` other trials, those
become a density image in 2-D (``_density``) and one trial per grid cell in 3-D
(``_data.thin``). Built trials are
drawn at a measured position only on axes their build measured (``_axes``); failed builds
get their failure class's marker. Selecting one point opens it on the Design page; two open
the first compared with the second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import cost_models as cm
from app import _axes, _cached, _data, _density, _design, _plots, _ui, _vega
from dse.pareto import pareto_mask

st.title("Pareto explorer")
study, url = _ui.study_or_stop()
# An empty chart first, so the browser loads the chart library (Vega) while the server
# reads the study; removed below.
early = st.empty()
early.vega_lite_chart({"mark": "point", "height": 10}, key="pareto_early")
data = _ui.load(url, study)
frame = data.frame
if frame.empty or not data.objectives:
    early.empty()
    st.info(f"Study {study!r} has no finished trials yet.")
    st.stop()

metric_names: list[str] = []
sample = frame.loc[frame["state"] == "COMPLETE", "number"].head(1).tolist()
if sample:
    first = _ui.trial_attrs(url, study, sample, ("metrics",))
    metric_names = sorted(  # numbers only: a plot axis cannot show violations text
        c
        for c in first.columns
        if c.startswith("metric_")
        and pd.api.types.is_numeric_dtype(first[c])
        and not pd.api.types.is_bool_dtype(first[c])
    )
choices = [*data.objectives, *metric_names]
directions = dict(zip(data.objectives, data.directions, strict=True))


def label(axis: str) -> str:
    return _axes.axis_label(axis, directions)


def short(axis: str) -> str:  # a selectbox's width: the arrow only
    return label(axis).replace(" · ↑ higher is better", " ↑").replace(" · ↓ lower is better", " ↓")


c = st.columns([3, 3, 3, 1, 1])
x = c[0].selectbox("x axis", choices, index=0, key="pareto_x", format_func=short)
y = c[1].selectbox(
    "y axis", choices, index=1 if len(choices) > 1 else 0, key="pareto_y", format_func=short
)
z = c[2].selectbox(
    "z axis (3-D)",
    ["(none)", *choices],
    index=0,
    key="pareto_z",
    format_func=lambda a: a if a == "(none)" else short(a),
)
show_infeasible = c[3].checkbox("infeasible", value=True, key="pareto_infeasible")
log_scale = c[4].checkbox("log axes", value=False, key="pareto_log")
axes = [x, y] + ([z] if z != "(none)" else [])
if len(set(axes)) < len(axes):
    early.empty()
    st.warning("Pick different metrics for the axes.")
    st.stop()


@st.cache_data(max_entries=32, show_spinner=False)
def plot_data(
    url: str, study: str, axes: tuple[str, ...], show_infeasible: bool, log: bool, key: tuple
) -> dict[str, Any]:
    """What the chart and the front table show for these axes, computed once per change of
    the study (``key``): the trials drawn as markers with hover fields (``_density.split``
    in 2-D, ``_data.thin`` in 3-D), the density of the others, the grouped front, counts."""
    data = _ui.load(url, study)
    frame = data.frame
    directions = dict(zip(data.objectives, data.directions, strict=True))
    builds, _ = _ui.builds(url, study)
    plot = frame[["number", "trial_id", "feasible", "duplicate_of", "state", *data.objectives]]
    plot = plot[plot["state"] == "COMPLETE"]
    extra = [a for a in axes if a not in data.objectives]
    if extra:  # metrics other than the objectives: every trial's metrics (read once, cached)
        metrics = _ui.every_trial_attrs(url, study, ("metrics",))
        plot = plot.join(metrics[extra], on="number")

    # The front: over the plotted axes when they are all objectives, else the study's front.
    pool = (plot["feasible"] & plot["duplicate_of"].isna()).to_numpy()
    on_front = np.zeros(len(plot), dtype=bool)
    if all(a in directions for a in axes):
        values = plot.loc[pool, list(axes)].to_numpy(np.float64)
        if len(values):
            on_front[np.flatnonzero(pool)] = pareto_mask(values, [directions[a] for a in axes])
        front_note = f"front over {', '.join(axes)}"
    else:
        on_front = _data.front_mask(data)[frame["state"].to_numpy() == "COMPLETE"]
        front_note = f"the study's front over its objectives ({', '.join(data.objectives)})"

    built_numbers = set(builds["trial_number"].dropna().astype(int)) if len(builds) else set()
    is_built = plot["number"].isin(built_numbers).to_numpy()
    keep = on_front | is_built
    visible = plot["feasible"].to_numpy() | show_infeasible
    coords = plot[list(axes)].to_numpy(np.float64)
    density = None
    rows = np.flatnonzero(visible | keep)
    if len(axes) == 2:
        feasible = plot["feasible"].to_numpy(bool)
        mask, density = _density.split(coords[rows], feasible[rows], keep[rows], [log] * 2)
    else:  # no density image in 3-D: one trial per cell of a 15^3 grid
        mask = _data.thin(coords[rows], keep[rows], cells=60)
    shown = plot.iloc[rows[mask]].assign(on_front=on_front[rows[mask]])
    front_all = plot[on_front].sort_values(axes[0])
    front = _axes.group_ties(front_all, list(axes))

    # Hover: design parameters of what is drawn only (a few thousand trials, not the
    # study), and the constraints each drawn infeasible trial violates.
    hover = _ui.trial_attrs(url, study, shown["number"].tolist(), ("point",))
    params = [f"param_{p}" for p in data.params if f"param_{p}" in hover.columns]
    shown = shown.join(hover[params], on="number") if params else shown
    front = front.join(hover[params], on="number") if params else front
    bad = shown.loc[~shown["feasible"], "trial_id"].astype(int).tolist()
    why = _data.violation_reasons(url, bad, list(data.attrs.get("dse:constraints") or []))
    shown = shown.assign(why=shown["trial_id"].map(lambda t: why.get(int(t), "")))
    model_bad = shown.loc[shown["why"].str.contains("model_feasible"), "number"].tolist()
    if model_bad:  # the model's own verdict says what: "lut over device", ...
        told = _ui.trial_attrs(url, study, model_bad, ("metrics",))
        if "metric_violations" in told.columns:
            text = told["metric_violations"].fillna("").astype(str)
            extra_why = shown["number"].map(text).fillna("")
            shown = shown.assign(
                why=[
                    w.replace("model_feasible", f"model: {e}") if e else w
                    for w, e in zip(shown["why"], extra_why, strict=True)
                ]
            )
    return {
        "trials": len(plot),
        "shown": shown,
        "density": density,
        "front": front,
        "front_trials": len(front_all),
        "front_note": front_note,
        "params": params,
        "built": plot[is_built].set_index("number"),  # model positions of built trials
        "first": int(plot["number"].iloc[0]) if len(plot) else 0,
    }


# A resource cache (the figure itself, not a pickled copy per page load: unpickling a
# Plotly figure costs as much as drawing it); the page only reads it.
@st.cache_resource(max_entries=32, show_spinner=False)
def chart(
    url: str, study: str, axes: tuple[str, ...], show_infeasible: bool, log: bool, key: tuple
) -> dict[str, Any]:
    """The figure (built trials at their measured positions, ``_axes.build_positions``) and
    what the captions count, once per change of the study (``key``) and choice of axes."""
    data = _ui.load(url, study)
    builds, _ = _ui.builds(url, study)
    view = plot_data(url, study, axes, show_infeasible, log, key)
    shown, front, params = view["shown"], view["front"], view["params"]
    hover = shown.set_index("number")
    available: dict[str, float] = {}
    try:
        plat = cm.load_platform(str((data.attrs.get("dse:config") or {}).get("platform")))
        if isinstance(plat, cm.Platform):
            available = plat.available().as_dict()
    except cm.InputError:  # an unknown platform only loses the _util conversion of measurements
        pass

    def _score(build: pd.Series, mhz: float | None) -> _design.Scored | str:
        point = build.get("point")
        if isinstance(point, dict) and point:  # what was built (a promote may differ)
            return _cached.scored_point(url, study, point, mhz)
        return _cached.scored(url, study, int(build["trial_number"]), mhz)

    def raw_of(build: pd.Series) -> pd.Series | None:
        got = _score(build, None)
        return None if isinstance(got, str) else got.raw

    def at_clock_of(build: pd.Series, mhz: float) -> pd.Series:
        got = _score(build, round(mhz, 6))
        return pd.Series(dtype=float) if isinstance(got, str) else got.calibrated

    measured, failed = _axes.build_positions(
        view["built"], builds, list(axes), raw_of, at_clock_of, available
    )
    if params:
        measured = measured.join(hover[params], on="number")
        failed = failed.join(hover[params], on="number")
    finished = builds[builds["state"].isin(["done", "failed"])] if len(builds) else builds
    # 2-D as Vega-Lite (a fifth of Plotly's JavaScript to load: _vega), 3-D as Plotly.
    draw = _vega.pareto_spec if len(axes) == 2 else _plots.pareto_figure
    fig = draw(
        shown,
        front,
        measured,
        list(axes),
        params,
        log_axes=[log] * len(axes),
        labels=[label(a) for a in axes],
        failed=failed,
        density=view["density"],
    )
    return {
        "fig": fig,
        "measured": len(measured),
        "failed": len(failed),
        "failed_at_measured": int((failed["drawn_at"] == "measured").sum()),
        "not_drawn": len(finished) - len(measured) - len(failed),
    }


stamp = _ui.stamp(url, study)
view = plot_data(url, study, tuple(axes), show_infeasible, log_scale, stamp)
shown, front, params = view["shown"], view["front"], view["params"]
front_note = view["front_note"]
drawn = chart(url, study, tuple(axes), show_infeasible, log_scale, stamp)
fig = drawn["fig"]
dense = view["density"]
if dense is not None:
    rest = (
        f"the other {dense.counted:,} as a density image (trials per cell of a "
        f"{_density.BINS} × {_density.BINS} grid, darker = more; hover a cell for its count)"
        + (f"; {dense.dropped:,} cannot be drawn on these axes" if dense.dropped else "")
    )
elif len(axes) == 3:
    rest = "other trials thinned to one per cell of a 15 × 15 × 15 grid"
else:
    rest = "every other trial a point"
st.caption(
    f"{view['trials']:,} finished trials; {len(shown):,} of them drawn as points: "
    f"{view['front_trials']:,} on the {front_note}, exact (one marker per distinct design: "
    f"{len(front):,}), and {len(view['built']):,} built; {rest}. "
    "Model values come from the study's final calibrated model."
)
notes = [f"{drawn['measured']} successful build(s) at their measured position (★)"]
if drawn["failed"]:
    at_measured = drawn["failed_at_measured"]
    notes.append(
        f"{drawn['failed']} failed build(s), marked by failure class: {at_measured} at their "
        f"measured position, {drawn['failed'] - at_measured} at their trial's model position"
    )
if drawn["not_drawn"]:
    notes.append(
        f"{drawn['not_drawn']} build(s) not drawn: they measured none of "
        f"{', '.join(_axes.metric_name(a) for a in axes)} of the whole design (unit "
        "templates measure units; see Builds)"
    )
st.caption(
    "; ".join(notes) + ". Measured resources include the modelled shell-side fixed logic, like the "
    "predictions; tok/s and energy of a build are the calibrated model at its measured clock."
)


def open_design(number: int, other: int | None = None) -> None:
    st.session_state[_ui.TRIAL_KEY] = number
    query = {"study": study, "trial": str(number)}
    if other is not None:
        query["compare"] = str(other)
    st.switch_page("views/design.py", query_params=query)


early.empty()
picked: list[tuple[bool, int]] = []  # (on a built marker, trial number)
if len(axes) == 2:
    spec = {**fig, "datasets": dict(fig["datasets"])}  # Streamlit pops what it sends
    event = st.vega_lite_chart(
        spec,
        key="pareto_chart",
        width="stretch",
        on_select="rerun",
        selection_mode=_vega.picks(fig),
    )
    # A click near a built marker can also hit the cloud point under it: a built pick wins.
    for name, rows in (getattr(event, "selection", None) or {}).items():
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("number") is not None:
                picked.append((name in _vega.BUILT_PICKS, int(row["number"])))
else:
    st.plotly_chart(fig, key="pareto_chart_3d")
built_picks = sorted({n for b, n in picked if b})
selected = built_picks or sorted({n for _, n in picked})
if len(selected) == 1:
    open_design(selected[0])
elif len(selected) == 2:
    open_design(selected[0], selected[1])
elif selected:
    st.write(f"Selected trials: {', '.join(map(str, selected[:50]))}")

with st.form("open_trial"):
    cc = st.columns([1, 1, 1, 3])
    default = int(front["number"].iloc[0]) if len(front) else view["first"]
    number = cc[0].number_input("Trial", min_value=0, value=default, step=1, key="pareto_trial")
    other = cc[1].number_input(
        "Compare with (optional)", min_value=-1, value=-1, step=1, key="pareto_compare"
    )
    if cc[2].form_submit_button("Open design"):
        open_design(int(number), int(other) if other >= 0 else None)

# The front as a table on demand: the chart above already draws every front design, and
# the table's grid costs the browser about as much again as the rest of the page.
table_box = st.expander(
    f"Front as a table ({view['front_trials']:,} trials, {len(front):,} distinct designs)",
    key="pareto_front_open",
    on_change="rerun",
)
if table_box.open:
    cols = [
        "number",
        "ties",
        "tied",
        *data.objectives,
        *[a for a in axes if a not in data.objectives],
        *params,
    ]
    table = pd.DataFrame(front[[c for c in dict.fromkeys(cols) if c in front.columns]])
    with table_box:
        st.dataframe(
            table.rename(columns={"ties": "designs with equal objectives", "tied": "their trials"}),
            hide_index=True,
            key="pareto_front_table",
            column_config={a: st.column_config.NumberColumn(label(a), format="%.4g") for a in axes},
        )
