"""Design: one trial's parameters, per-operator time, resources, channel map, measurements."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app import _data, _plots, _ui

st.title("Design")
study, url = _ui.study_or_stop()
data = _ui.load(url, study)
frame = data.frame
if frame.empty:
    st.info(f"Study {study!r} has no trials yet.")
    st.stop()

numbers = frame["number"]
wanted = st.query_params.get(_ui.TRIAL_KEY) or st.session_state.get(_ui.TRIAL_KEY)
try:
    default = int(wanted) if wanted is not None else None
except ValueError:
    default = None
if default is None or default not in set(numbers):
    front = frame[_data.front_mask(data)]
    default = int(front["number"].iloc[0] if len(front) else numbers.iloc[0])
number = int(
    st.number_input(
        "Trial",
        min_value=int(numbers.min()),
        max_value=int(numbers.max()),
        value=default,
        step=1,
        key="design_trial_input",
    )
)
st.session_state[_ui.TRIAL_KEY] = number
st.query_params[_ui.TRIAL_KEY] = str(number)

row = frame[frame["number"] == number].iloc[0]
attrs = _ui.trial_attrs(url, study, [number], ("point", "metrics", "measured", "build"))
info = attrs.loc[number] if number in attrs.index else pd.Series(dtype=object)
point = {
    str(k).split("_", 1)[1]: v
    for k, v in info.items()
    if str(k).startswith(("param_", "point_")) and not (isinstance(v, float) and math.isnan(v))
}
feasible = bool(row["feasible"])
verdict = "feasible" if feasible else f"infeasible ({row['state'].lower()})"
violations = info.get("metric_violations")
st.markdown(
    f"**Trial {number}** of `{study}` — {verdict}"
    + (f": {violations}" if not feasible and isinstance(violations, str) and violations else "")
)
if not pd.isna(row.get("duplicate_of")):
    st.caption(f"Same point as trial {int(row['duplicate_of'])}.")
cols = st.columns(max(1, len(data.objectives)))
for col, m in zip(cols, data.objectives, strict=False):
    col.metric(m, _ui.fmt(float(row[m])))

config = data.attrs.get("dse:config") or {}
view = None
if point and config:
    try:
        view = _data.evaluate_design(config, point)
    except Exception as exc:  # a stored point the current model rejects: say so, show the rest
        st.warning(f"Cannot re-score this point with the cost model: {exc}")

left, right = st.columns([1, 2])
with left:
    st.subheader("Parameters")
    searched = set(data.params)
    params = pd.DataFrame(
        [
            {"parameter": k, "value": _ui.fmt(v, 6), "searched": k in searched}
            for k, v in sorted(point.items(), key=lambda kv: (kv[0] not in searched, kv[0]))
        ]
    )
    st.dataframe(params, hide_index=True, key="design_params")

with right:
    if view is not None:
        st.subheader("Time per operator")
        ops = _data.operator_breakdown(view.row)
        st.plotly_chart(_plots.operators_figure(ops), key="design_ops")
        st.dataframe(
            ops.assign(share=(ops["share"] * 100).round(1)),
            hide_index=True,
            key="design_ops_table",
            column_config={"share": st.column_config.NumberColumn("% of phase")},
        )

if view is not None:
    res_col, map_col = st.columns(2)
    with res_col:
        st.subheader("Resources vs device")
        res = _data.resources_table(view.row, view.platform)
        st.plotly_chart(_plots.resources_figure(res), key="design_resources")
        st.dataframe(res, hide_index=True, key="design_resources_table")
    with map_col:
        mem = view.platform.memory
        st.subheader(f"{mem.kind.upper()} channel map")
        mapping = _data.channel_map({str(k): v for k, v in view.row.items()}, int(mem.channels))
        st.plotly_chart(
            _plots.channel_map_figure(mapping, int(mem.channels), int(mem.stacks), mem.kind),
            key="design_channels",
        )
        shared = sorted(set(mapping.loc[mapping["shared"], "channel"]))
        st.caption(
            "Groups take contiguous channel ranges in the order wqkv, wo, wffn, kv, act; "
            + (
                f"shared channels: {', '.join(map(str, shared))}."
                if shared
                else "no channel is shared."
            )
        )

st.subheader("Predicted vs measured")
builds, _cal = _ui.builds(url, study)
mine = builds[builds["trial_number"] == number] if len(builds) else builds
if mine.empty:
    st.caption("This trial has not been built.")
else:
    rows = []
    for _, build in mine.iterrows():
        measured = build["measured"] if isinstance(build["measured"], dict) else {}
        predicted = build["predicted"] if isinstance(build["predicted"], dict) else {}
        for key, column in _data.MEASURED_FOR.items():
            if key in measured:
                p = predicted.get(column)
                m = measured[key]
                rows.append(
                    {
                        "build": int(build["build_id"]),
                        "flow": build["flow"],
                        "metric": key,
                        "predicted": p,
                        "measured": m,
                        "measured / predicted": (m / p) if p else None,
                    }
                )
        if build["state"] == "failed":
            st.error(
                f"Build {int(build['build_id'])} ({build['flow']}) failed: "
                f"{build['failure_class']} — {build['first_error']}"
            )
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="design_measured")
