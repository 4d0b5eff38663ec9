"""Calibration: predicted vs measured per metric (with y = x), error before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import _data, _design, _plots, _ui

st.title("Calibration")
study, url = _ui.study_or_stop()
builds, calibrations = _ui.builds(url, study)
pairs = _data.calibration_pairs(builds) if len(builds) else _data.calibration_pairs(pd.DataFrame())
if pairs.empty:
    st.info(f"Study {study!r} has no measured builds yet, so nothing to calibrate against.")
    st.stop()

latest = pd.DataFrame()
if len(calibrations):
    last = calibrations["fitted_at"].max()
    latest = calibrations[calibrations["fitted_at"] == last]
    held = _design.held_out(builds)
    st.subheader("Model error (median |log(measured / predicted)|)")
    shown = pd.DataFrame(
        {
            "metric": latest["metric"],
            "flow": latest["flow"],
            "builds": latest["n"],
            "method": latest["method"],
            "factor": np.exp(latest["intercept"].astype(float)).round(4),
            "slope": latest["slope"].round(3),
            "error before": latest["error_before"].astype(float).round(4),
            "error after": latest["error_after"].astype(float).round(4),
            "error before %": latest["error_before"].astype(float).map(_data.log_error_pct),
            "error after %": latest["error_after"].astype(float).map(_data.log_error_pct),
            "held-out error %": [
                round(float(np.median(held[k])), 2) if k in held else None
                for k in zip(latest["metric"], latest["flow"], strict=True)
            ],
            "held-out builds": [
                len(held.get(k, [])) for k in zip(latest["metric"], latest["flow"], strict=True)
            ],
        }
    )
    st.dataframe(shown, hide_index=True, key="calibration_errors")
    st.caption(
        f"The latest of {calibrations['fitted_at'].nunique()} fits, on "
        f"{int(latest['n_builds'].iloc[0])} builds. Error % = exp(error) - 1: how far off "
        "the model typically is. 'error after' is in-sample: measured on the same builds "
        "the fit used, so it flatters the model until there are many builds. 'held-out "
        "error %' is the median relative error of each whole-design build predicted by the "
        "correction fitted on the others (none for a single build); unit-template builds "
        "calibrate nothing of the design and are not in it."
    )

metrics = sorted(pairs["metric"].unique())
fitted = [m for m in metrics if len(latest) and m in set(latest["metric"])]
metric = st.selectbox(
    "Metric", metrics, index=metrics.index(fitted[0]) if fitted else 0, key="calibration_metric"
)
corr: dict[str, float] = {}
if len(latest):
    hit = latest[latest["metric"] == metric]
    if len(hit):
        corr = {"intercept": float(hit["intercept"].iloc[0]), "slope": float(hit["slope"].iloc[0])}
st.plotly_chart(_plots.calibration_figure(pairs, metric, corr), key="calibration_plot")
st.dataframe(pairs[pairs["metric"] == metric], hide_index=True, key="calibration_pairs")

if len(calibrations) > len(latest):
    st.subheader("Error over the fits")
    hist = calibrations[calibrations["metric"] == metric].sort_values("fitted_at")
    st.plotly_chart(_plots.error_history_figure(hist, metric), key="calibration_history")
