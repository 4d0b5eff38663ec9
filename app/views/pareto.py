"""Pareto explorer: any two or three objectives/metrics, predicted front and measured points.

A large study is thinned for drawing (``_data.thin``): the front and every built trial are
always drawn exactly; other trials keep one per grid cell of the plot. Selecting a point
(click, box or lasso) opens it on the Design page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import cost_models as cm
from app import _data, _plots, _ui
from dse.pareto import pareto_mask

st.title("Pareto explorer")
study, url = _ui.study_or_stop()
data = _ui.load(url, study)
frame = data.frame
if frame.empty or not data.objectives:
    st.info(f"Study {study!r} has no finished trials yet.")
    st.stop()

builds, _ = _ui.builds(url, study)
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

c = st.columns([2, 2, 2, 1, 1])
x = c[0].selectbox("x axis", choices, index=0, key="pareto_x")
y = c[1].selectbox("y axis", choices, index=1 if len(choices) > 1 else 0, key="pareto_y")
z = c[2].selectbox("z axis (3-D)", ["(none)", *choices], index=0, key="pareto_z")
show_infeasible = c[3].checkbox("infeasible", value=True, key="pareto_infeasible")
log_scale = c[4].checkbox("log axes", value=False, key="pareto_log")
axes = [x, y] + ([z] if z != "(none)" else [])
if len(set(axes)) < len(axes):
    st.warning("Pick different metrics for the axes.")
    st.stop()

plot = frame[["number", "feasible", "duplicate_of", "state", *data.objectives]]
plot = plot[plot["state"] == "COMPLETE"]
extra = [a for a in axes if a not in data.objectives]
if extra:  # metrics other than the objectives: every trial's metrics (read once, cached)
    metrics = _ui.every_trial_attrs(url, study, ("metrics",))
    plot = plot.join(metrics[extra], on="number")

# The front: over the plotted axes when they are all objectives, else the study's front.
directions = dict(zip(data.objectives, data.directions, strict=True))
pool = (plot["feasible"] & plot["duplicate_of"].isna()).to_numpy()
on_front = np.zeros(len(plot), dtype=bool)
if all(a in directions for a in axes):
    values = plot.loc[pool, axes].to_numpy(np.float64)
    if len(values):
        on_front[np.flatnonzero(pool)] = pareto_mask(values, [directions[a] for a in axes])
    front_note = f"front over {', '.join(axes)}"
else:
    on_front = _data.front_mask(data)[frame["state"].to_numpy() == "COMPLETE"]
    front_note = f"the study's front over its objectives ({', '.join(data.objectives)})"

built_numbers = set(builds["trial_number"].dropna().astype(int)) if len(builds) else set()
keep = on_front | plot["number"].isin(built_numbers).to_numpy()
visible = plot["feasible"].to_numpy() | show_infeasible
mask = _data.thin(plot[axes].to_numpy(np.float64), keep, cells=120 if len(axes) == 2 else 60)
mask &= visible | keep
shown = plot[mask]
front = plot[on_front].sort_values(axes[0])

# Hover: design parameters of what is drawn only (a few thousand trials, not the study).
hover = _ui.trial_attrs(url, study, shown["number"].tolist(), ("point",))
params = [f"param_{p}" for p in data.params if f"param_{p}" in hover.columns]
shown = shown.join(hover[params], on="number") if params else shown
front = front.join(hover[params], on="number") if params else front

available: dict[str, float] = {}
try:
    plat = cm.load_platform(str((data.attrs.get("dse:config") or {}).get("platform")))
    if isinstance(plat, cm.Platform):
        available = plat.available().as_dict()
except cm.InputError:  # an unknown platform only loses the _util conversion of measurements
    pass
measured = _data.measured_positions(plot, builds, axes, available)
if len(measured) and params:
    measured = measured.join(hover[params], on="number")

fig = _plots.pareto_figure(shown, front, measured, axes, params, log_axes=[log_scale] * len(axes))
st.caption(
    f"{len(plot):,} finished trials; drawing {len(shown):,} "
    f"({int(on_front.sum()):,} on the {front_note}, exact; "
    f"{len(measured)} measured; other trials thinned to one per plot cell)"
)
event = st.plotly_chart(
    fig,
    key="pareto_chart",
    on_select="rerun" if len(axes) == 2 else "ignore",
    selection_mode=("points", "box", "lasso"),
)


def open_design(number: int) -> None:
    st.session_state[_ui.TRIAL_KEY] = number
    st.switch_page("views/design.py", query_params={"study": study, "trial": str(number)})


selected = []
selection = getattr(event, "selection", None) if len(axes) == 2 else None
if selection:
    for p in selection.get("points", []):
        cd = p.get("customdata")
        if cd:
            selected.append(int(cd[0]))
if len(selected) == 1:
    open_design(selected[0])
elif selected:
    st.write(f"Selected trials: {', '.join(map(str, sorted(selected)[:50]))}")

with st.form("open_trial"):
    cc = st.columns([1, 1, 4])
    default = int(front["number"].iloc[0]) if len(front) else int(plot["number"].iloc[0])
    number = cc[0].number_input("Trial", min_value=0, value=default, step=1, key="pareto_trial")
    if cc[1].form_submit_button("Open design"):
        open_design(int(number))

st.subheader(f"Front ({len(front):,} trials)")
cols = ["number", *data.objectives, *[a for a in axes if a not in data.objectives], *params]
st.dataframe(
    pd.DataFrame(front[[c for c in dict.fromkeys(cols) if c in front.columns]]),
    hide_index=True,
    key="pareto_front_table",
)
