"""Studies: every study's progress, rate, feasible share, Pareto size and builds; live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import _data, _ui

st.title("Studies")
src = _ui.source()
st.caption(f"Reading {src.storage or str(src.results) + '/*/optuna.db'}")
live = st.toggle("Live (refresh every 5 s)", value=True, key="studies_live")


@st.fragment(run_every=5 if live else None)
def overview() -> None:
    found = _ui.all_studies()
    if not found:
        where = src.storage or f"{src.results}/*/optuna.db"
        st.info(f"No studies in {where} yet. Run `dse sweep CONFIG` and they appear here.")
        return
    rows = []
    for name, url in found:
        data = _ui.load(url, name)
        builds, _ = _ui.builds(url, name)
        rows.append(_data.study_summary(data, builds, _ui.times(url, name)))
    df = pd.DataFrame(rows)
    running = int(df["running"].sum())
    c = st.columns(4)
    c[0].metric("Studies", len(df))
    c[1].metric("Trials", f"{int(df['trials'].sum()):,}")
    c[2].metric("Running now", running)
    c[3].metric("Builds done / failed", f"{df['builds_done'].sum()} / {df['builds_failed'].sum()}")
    shown = pd.DataFrame(
        {
            "study": df["study"],
            "status": ["running" if r else "idle" for r in df["running"]],
            "progress": df["progress"].astype(float).fillna(0.0),
            "trials": df["trials"],
            "budget": df["budget"],
            "trials/s": df["trials_per_s"].round(1),
            "trials/s (last min)": df["trials_per_s_recent"].round(1),
            "feasible": df["feasible"],
            "feasible %": (df["feasible_share"] * 100).round(1),
            "Pareto": df["pareto"],
            "builds queued": df["builds_queued"],
            "running": df["builds_running"],
            "done": df["builds_done"],
            "failed": df["builds_failed"],
            "last update": df["last_update"],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn(
                "progress", min_value=0.0, max_value=1.0, format="percent"
            ),
            "last update": st.column_config.DatetimeColumn("last update (UTC)"),
        },
        key="studies_table",
    )
    st.caption(
        "trials/s: all trials over the time from the first start to the last completion; "
        "Pareto: feasible, non-duplicate trials on the predicted front."
    )


overview()
