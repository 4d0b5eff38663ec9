"""Design: one trial as the study's final calibrated model scores it, next to its builds.

Headline figures first (decode tok/s, time to first token, clock target vs achievable,
speed-up and energy against the GPU baseline), then resources per device and per SLR, the
memory channel map with each channel's bandwidth, time per operator, parameters, and the
predicted vs measured values of the trial's builds. ``?compare=N`` puts another trial beside
it. The raw (uncalibrated) model is a secondary view.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import _cached, _design, _plots, _ui

st.title("Design")
study, url = _ui.study_or_stop()
data = _ui.load(url, study)
frame = data.frame
if frame.empty:
    st.info(f"Study {study!r} has no trials yet.")
    st.stop()

numbers = frame["number"].to_numpy()


def known(n: object) -> bool:
    """Whether ``n`` is a trial number of the study (no Python set of 100,000 numbers)."""
    return isinstance(n, int) and bool((numbers == n).any())


def wanted(key: str) -> int | None:
    raw = st.query_params.get(key)
    try:
        n = int(raw) if raw is not None else None
    except ValueError:
        return None
    return n if known(n) else None


def _ratio(a: object, b: object) -> float | None:
    """a / b for two numbers (b not zero), else None."""
    nums = [float(v) for v in (a, b) if isinstance(v, int | float) and not isinstance(v, bool)]
    return nums[0] / nums[1] if len(nums) == 2 and nums[1] else None


default = wanted(_ui.TRIAL_KEY)
if default is None:
    kept = st.session_state.get(_ui.TRIAL_KEY)
    default = kept if known(kept) else None
if default is None:
    front = data.pareto()
    default = int(front["number"].iloc[0] if len(front) else frame["number"].iloc[0])
c = st.columns([1, 1, 3])
number = int(
    c[0].number_input(
        "Trial",
        min_value=int(frame["number"].min()),
        max_value=int(frame["number"].max()),
        value=default,
        step=1,
        key="design_trial_input",
    )
)
compare_default = wanted("compare")
other = int(
    c[1].number_input(
        "Compare with trial (-1: none)",
        min_value=-1,
        max_value=int(frame["number"].max()),
        value=compare_default if compare_default is not None else -1,
        step=1,
        key="design_compare_input",
    )
)
st.session_state[_ui.TRIAL_KEY] = number
st.query_params[_ui.TRIAL_KEY] = str(number)
if other >= 0:
    st.query_params["compare"] = str(other)
elif "compare" in st.query_params:
    del st.query_params["compare"]

row = frame[frame["number"] == number].iloc[0]
attrs = _ui.trial_attrs(url, study, [number], ("point", "metrics"))
point = _cached.point_of(attrs, number)
info = attrs.loc[number] if number in attrs.index else pd.Series(dtype=object)
feasible = bool(row["feasible"])
verdict = "feasible" if feasible else f"infeasible ({str(row['state']).lower()})"
why = ""
if not feasible and "trial_id" in row:
    from app import _data

    why = _data.violation_reasons(
        url, [int(row["trial_id"])], list(data.attrs.get("dse:constraints") or [])
    ).get(int(row["trial_id"]), "")
    model_why = info.get("metric_violations")
    if isinstance(model_why, str) and model_why:
        why = f"{why} ({model_why})" if why else model_why
st.markdown(f"**Trial {number}** of `{study}` — {verdict}" + (f": {why}" if why else ""))
if not pd.isna(row.get("duplicate_of")):
    st.caption(f"Same point as trial {int(row['duplicate_of'])}.")

scored = _cached.scored(url, study, number)
if isinstance(scored, str):
    st.warning(scored.capitalize() + "; the stored objective values are shown instead.")
    cols = st.columns(max(1, len(data.objectives)))
    for col, m in zip(cols, data.objectives, strict=False):
        col.metric(m, _ui.fmt(float(row[m])))
    st.stop()

cal, raw = scored.calibrated, scored.raw
if scored.applied:
    fitted = sorted({c.removesuffix("_util") for c in scored.corrected if "_fixed" not in c})
    force = "; ".join(
        f"{c.metric} ×{c.scale_at_one:.4g}"
        + (f" · p^{c.slope:.3g}" if c.slope != 1.0 else "")
        + f" ({c.n} {c.flow} build{'s' if c.n != 1 else ''}, {c.method})"
        for c in scored.applied
    )
    st.caption(
        f"Every figure is the study's final calibrated model, the model the sweep stored the "
        f"trial's values with. Corrections in force: {force}; they change "
        f"{', '.join(fitted) or 'nothing at this point'}. The raw model is behind the "
        "'Raw model' switch below."
    )
else:
    st.caption("The study has no calibration fit yet: figures are the cost model's.")

heads = _design.headline(scored)
cols = st.columns(len(heads))
for col, (name, value, note) in zip(cols, heads, strict=True):
    col.metric(name, value, help=note)
    col.caption(note)

if other >= 0:
    st.subheader(f"Trial {number} vs trial {other}")
    theirs = _cached.scored(url, study, other)
    if isinstance(theirs, str):
        st.warning(theirs)
    else:
        keys = [
            "decode_tokens_per_s",
            "prefill_latency_s",
            "energy_per_token_j",
            "power_w",
            "freq_mhz",
            "achievable_clock_mhz",
            "decode_speedup_vs_gpu",
            "energy_ratio_vs_gpu",
            "lut",
            "lut_util",
            "ff_util",
            "dsp_util",
            "bram36_util",
            "bound_decode",
            "feasible",
        ]
        other_point = _cached.point_of(_ui.trial_attrs(url, study, [other], ("point",)), other)
        rows = [
            {
                "quantity": k,
                f"trial {number}": _ui.fmt(cal.get(k)),
                f"trial {other}": _ui.fmt(theirs.calibrated.get(k)),
                "ratio": _ui.fmt(float(theirs.calibrated[k]) / float(cal[k]))
                if isinstance(cal.get(k), int | float)
                and not isinstance(cal.get(k), bool)
                and float(cal[k])
                else "",
            }
            for k in keys
            if k in cal.index
        ]
        rows += [
            {
                "quantity": f"parameter {k}",
                f"trial {number}": _ui.fmt(point.get(k)),
                f"trial {other}": _ui.fmt(other_point.get(k)),
                "ratio": "" if point.get(k) == other_point.get(k) else "differs",
            }
            for k in sorted(set(point) | set(other_point))
            if point.get(k) != other_point.get(k)
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="design_compare")

# Full width, one section under the other: side by side at 1600 px the resource and SLR
# tables cut off their last columns (seen on the page's screenshot).
with st.container():
    st.subheader("Resources vs device")
    res = _design.resources_table(scored)
    # A bar per resource in the table (full bar = the device limit), not a chart: the
    # page's first screen then needs no chart library (see _plots.channel_map_html).
    st.dataframe(
        # the bars first: the figure a user reads first
        res[["resource", "util", *[c for c in res.columns if c not in ("resource", "util")]]],
        hide_index=True,
        key="design_resources_table",
        column_config={
            "util": st.column_config.ProgressColumn(
                "util (calibrated)", min_value=0.0, max_value=1.0, format="percent"
            )
        },
    )
    over = res.loc[res["util"] > 1.0, "resource"].tolist()
    st.caption(
        "util: share of the device after the shell (a full bar is the device limit"
        + (f"; over it: {', '.join(over)}" if over else "")
        + "). used (calibrated): the figure the sweep stored; used (raw model): before "
        "calibration; both include the shell-side fixed logic in the next column. "
        "available: the device minus the platform shell."
    )
    slr = _design.slr_table(scored)
    st.markdown(f"Per SLR ({len(slr)}; calibrated; fixed logic in the shell's SLR)")
    st.dataframe(slr.round(1), hide_index=True, key="design_slr")
with st.container():
    mem = scored.platform.memory
    st.subheader(f"{mem.kind.upper()} channel map")
    mapping = _design.channel_map({str(k): v for k, v in cal.items()}, int(mem.channels))
    st.html(_plots.channel_map_html(mapping, int(mem.channels), int(mem.stacks), mem.kind))
    bw = _design.channel_bandwidth(cal, scored.platform)
    st.dataframe(bw.round(3), hide_index=True, key="design_bandwidth")
    st.caption(
        "Groups take contiguous channel ranges in the order wqkv, wo, wffn, kv, act "
        "(wrapping around). needed GB/s: each group's bytes per decoded token, spread over "
        "its channels, in one token's decode time; usable: peak × efficiency."
    )

ops_col, par_col = st.columns([2, 1])
with ops_col:
    st.subheader("Time per operator")
    ops = _design.operator_breakdown(cal, scored.arch)
    st.dataframe(
        ops,
        hide_index=True,
        key="design_ops_table",
        column_config={
            "seconds": st.column_config.NumberColumn("seconds", format="%.3g"),
            "share": st.column_config.ProgressColumn(
                "% of phase latency", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
    # The log-scale chart on demand: drawing it loads the chart library (about a second of
    # a page load), which the table above does not need.
    chart = st.expander(
        "Chart: seconds per operator (log scale)", key="design_ops_open", on_change="rerun"
    )
    if chart.open:
        with chart:
            st.plotly_chart(_plots.operators_figure(ops), key="design_ops")
    st.caption(
        "% of phase latency = the operator's time ÷ the phase's latency. "
        + (
            "Spatial pipeline stages run concurrently, so these shares do not add up to "
            "100 %; the slowest stage sets the pace."
            if scored.arch == "spatial"
            else "Temporal: operators run one after another (each already overlaps its own "
            "compute and memory), so the shares add up to about 100 %."
        )
    )
with par_col:
    st.subheader("Parameters")
    searched = set(data.params)
    params = pd.DataFrame(
        [
            {"parameter": k, "value": _ui.fmt(v, 6), "searched": k in searched}
            for k, v in sorted(point.items(), key=lambda kv: (kv[0] not in searched, kv[0]))
        ]
    )
    st.dataframe(params, hide_index=True, key="design_params")

st.subheader("Predicted vs measured")
builds, _cal = _ui.builds(url, study)
mine = builds[builds["trial_number"] == number] if len(builds) else builds
if mine.empty:
    st.caption("This trial has not been built.")
else:
    from app import _data
    from dse.calibration import LATENCY_COLUMNS, predicted_for
    from dse.sweep._fit import WHOLE_DESIGN_TEMPLATES

    pairs: list[dict[str, object]] = []
    for _, build in mine.iterrows():
        measured = build["measured"] if isinstance(build["measured"], dict) else {}
        predicted = build["predicted"] if isinstance(build["predicted"], dict) else {}
        if build["template"] not in WHOLE_DESIGN_TEMPLATES:
            # A unit template's build is paired with its units' model (stored when it was
            # queued); the design's model, calibrated or not, predicts another object.
            for key, column in _data.MEASURED_FOR.items():
                p = predicted.get(column)
                if key in measured and isinstance(p, int | float):
                    pairs.append(
                        {
                            "build": int(build["build_id"]),
                            "flow": build["flow"],
                            "model of": f"units ({build['template']})",
                            "metric": key,
                            "measured": measured[key],
                            "predicted at build time": float(p),
                            "calibrated model now": None,
                            "measured / predicted": measured[key] / p if p else None,
                        }
                    )
            continue
        for key in LATENCY_COLUMNS:  # the sim rung: cycles against the same run's model
            p = predicted_for(key, measured, predicted)
            if key in measured and p:
                cycles = [c for c in scored.applied if c.metric == key]
                pairs.append(
                    {
                        "build": int(build["build_id"]),
                        "flow": build["flow"],
                        "model of": "whole design (the same sim run)",
                        "metric": key,
                        "measured": measured[key],
                        "predicted at build time": p,
                        "calibrated model now": float(cycles[0](p)) if cycles else p,
                        "measured / predicted": measured[key] / p,
                    }
                )
        # The model of what this build built (its own point), calibrated as of now.
        built = build.get("point")
        now_scored = (
            _cached.scored_point(url, study, built) if isinstance(built, dict) and built else scored
        )
        if isinstance(now_scored, str):
            now_scored = scored
        for key, column in _data.MEASURED_FOR.items():
            if key not in measured:
                continue
            m = measured[key]
            b_raw, b_cal = now_scored.raw, now_scored.calibrated
            fixed = float(b_raw.get(f"{column}_fixed", 0.0)) if column in b_raw.index else 0.0
            # A build measures the datapath: the build loop stored the model's prediction
            # without its fixed part (``<resource>_fixed`` beside it), compared like for like.
            p = predicted.get(column)
            p_kernel = float(p) if isinstance(p, int | float) else None
            now = float(b_cal[column]) - fixed if column in b_cal.index else None
            pairs.append(
                {
                    "build": int(build["build_id"]),
                    "flow": build["flow"],
                    "model of": "whole design",
                    "metric": key,
                    "measured": m,
                    "predicted at build time": p_kernel,
                    "calibrated model now": now,
                    "measured / predicted": (m / p_kernel) if p_kernel else None,
                }
            )
        if build["state"] == "failed":  # the build's record, not a page error: no error box
            st.markdown(
                f"Build {int(build['build_id'])} ({build['flow']}) failed: "
                f":red[**{build['failure_class']}**] — `{build['first_error']}`"
            )
    if pairs:
        st.dataframe(pd.DataFrame(pairs), hide_index=True, key="design_measured")
        st.caption(
            "Resources: the build's datapath, so the model side is without the shell-side "
            "fixed logic (see Resources). 'predicted at build time' is the model the sweep "
            "used when it queued the build: of a unit template's build, its units' model "
            "(it calibrates nothing of the design); of the sim rung's cycles, the cycle "
            "model's figure for the same simulated run. 'calibrated model now' is the model "
            "of what the build built (its own point), calibrated by the last fit."
        )

# Lazy: the full raw-model table is built only when asked for (it is ~100 rows).
if st.toggle("Raw model (before calibration): every quantity", key="design_raw_toggle"):
    keys = [k for k in cal.index if not str(k).startswith("op_")]
    diff = pd.DataFrame(
        {
            "quantity": keys,
            "calibrated": [_ui.fmt(cal[k]) for k in keys],
            "raw model": [_ui.fmt(raw[k]) for k in keys],
            "changed by calibration": [k in scored.corrected for k in keys],
            # full precision: a correction of a few per mille hides in 4 digits
            "calibrated / raw": [_ratio(cal[k], raw[k]) for k in keys],
        }
    )
    st.dataframe(diff, hide_index=True, key="design_raw")
