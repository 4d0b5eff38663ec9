"""Builds: the study's builds as a table and a per-host timeline; one build's log and reports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import _data, _plots, _ui

st.title("Builds")
study, url = _ui.study_or_stop()
builds, _ = _ui.builds(url, study)
if builds.empty:
    st.info(
        f"Study {study!r} has no builds. Add a `build:` section to its config (see "
        "docs/search.md) or build a trial with `dse build CONFIG --trial STUDY:N`."
    )
    st.stop()

counts = builds["state"].value_counts()
c = st.columns(4)
for col, state in zip(c, _data.BUILD_STATES, strict=True):
    col.metric(state, int(counts.get(state, 0)))

states = st.multiselect(
    "States", list(_data.BUILD_STATES), default=list(_data.BUILD_STATES), key="builds_states"
)
shown = builds[builds["state"].isin(states)]


def ts(col: str) -> pd.Series:
    return pd.to_datetime(shown[col], unit="s", utc=True)


table = pd.DataFrame(
    {
        "build": shown["build_id"],
        "trial": shown["trial_number"].astype("Int64"),
        "state": shown["state"],
        "failure class": shown["failure_class"].where(shown["state"] == "failed", ""),
        "host": shown["host"],
        "flow": shown["flow"],
        "template": shown["template"],
        "part": shown["part"],
        "attempts": shown["attempts"],
        "cached": shown["cached"],
        "queued": ts("queued_at"),
        "started": ts("started_at"),
        "finished": ts("finished_at"),
        "seconds": (shown["finished_at"] - shown["started_at"]).round(1),
        "first error": shown["first_error"],
        "reason": shown["reason"],
        "result dir": shown["result_dir"],
    }
)
st.dataframe(table, hide_index=True, key="builds_table")

st.subheader("Timeline per host")
st.plotly_chart(_plots.timeline_figure(shown), key="builds_timeline")

st.subheader("One build")
ids = [int(b) for b in shown["build_id"]]
if not ids:
    st.stop()
failed = [int(b) for b in shown.loc[shown["state"] == "failed", "build_id"]]
chosen = st.selectbox("Build", ids, index=ids.index(failed[0]) if failed else 0, key="builds_pick")
b = shown[shown["build_id"] == chosen].iloc[0]
files = _data.build_files(b["result_dir"] if isinstance(b["result_dir"], str) else None)
st.markdown(
    f"**Build {chosen}** of trial {b['trial_number']}: `{b['state']}`"
    + (f", failure class **{b['failure_class']}**" if b["state"] == "failed" else "")
    + f" — {b['flow']} on {b['host'] or '(no host yet)'}"
)
if isinstance(b["first_error"], str) and b["first_error"]:
    st.error(b["first_error"])
if isinstance(b["result_dir"], str) and b["result_dir"]:
    st.markdown(f"Folder: `{b['result_dir']}`")
if files["reports"]:
    st.markdown(
        "Reports: " + ", ".join(f"[{k}](file://{v}) `{v}`" for k, v in files["reports"].items())
    )
if files["logs"]:
    st.markdown("Logs: " + ", ".join(f"`{p}`" for p in files["logs"]))
st.markdown("Log tail")
st.code("\n".join(files["log_tail"]) or "(no log)", language="text", wrap_lines=True)
if isinstance(b["measured"], dict) and b["measured"]:
    st.json(b["measured"], expanded=False)
