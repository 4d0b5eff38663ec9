"""Builds: the study's builds as a table and a per-host timeline with each tool step; one
build's log tails, critical path (timing failures) and report files, served for download.

Build folders are found under the dashboard's ``--results`` root (``builds/<bundle hash>``),
so a moved or copied results folder still shows its builds; paths are shown relative to it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import _cached, _data, _plots, _ui

MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


def _md(text: str) -> str:
    """Tool output shown inline: Markdown's special characters escaped."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)


st.title("Builds")
study, url = _ui.study_or_stop()
results = _ui.source().results
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
    col.metric(f"builds {state}", int(counts.get(state, 0)))

states = st.multiselect(
    "States", list(_data.BUILD_STATES), default=list(_data.BUILD_STATES), key="builds_states"
)
shown = builds[builds["state"].isin(states)]
files = {
    int(b["build_id"]): _cached.build_files(url, study, b, results) for _, b in shown.iterrows()
}


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
        "part": shown["part"],
        "attempts": shown["attempts"],
        "cached": shown["cached"],
        "queued": ts("queued_at"),
        "started": ts("started_at"),
        "seconds": (shown["finished_at"] - shown["started_at"]).round(1),
        "steps (s)": [
            ", ".join(
                f"{s['step']} {s['seconds']:.1f}"
                for s in files[int(b)]["steps"]
                if isinstance(s.get("seconds"), int | float)
            )
            for b in shown["build_id"]
        ],
        "first error": shown["first_error"],
        "reason": shown["reason"],
        "folder (under --results)": [
            files[int(b)]["folder"] or "(missing)" for b in shown["build_id"]
        ],
    }
)
when = "MM-DD HH:mm:ss"
st.dataframe(
    table,
    hide_index=True,
    key="builds_table",
    column_config={
        "queued": st.column_config.DatetimeColumn("queued (UTC)", format=when),
        "started": st.column_config.DatetimeColumn("started (UTC)", format=when),
        "steps (s)": st.column_config.TextColumn("steps (s)", width="medium"),
    },
)

st.subheader("Timeline per host, with each tool step")
steps = _data.step_segments(shown, {b: f["steps"] for b, f in files.items()})
st.plotly_chart(_plots.timeline_figure(shown, steps), key="builds_timeline")

st.subheader("One build")
ids = [int(b) for b in shown["build_id"]]
if not ids:
    st.stop()
failed = [int(b) for b in shown.loc[shown["state"] == "failed", "build_id"]]
chosen = st.selectbox("Build", ids, index=ids.index(failed[0]) if failed else 0, key="builds_pick")
b = shown[shown["build_id"] == chosen].iloc[0]
got = files[chosen]
st.markdown(
    f"**Build {chosen}** of trial {b['trial_number']}: `{b['state']}`"
    + (f", failure class **{b['failure_class']}**" if b["state"] == "failed" else "")
    + f" — {b['flow']} for {b['part']} on {b['host'] or '(no host yet)'}"
)
if isinstance(b["first_error"], str) and b["first_error"]:
    # The build's own record, not a dashboard error: no error box.
    st.markdown(f"First error: :red[{_md(b['first_error'])}]")
if got["folder"]:
    st.markdown(f"Folder: `{got['folder']}` (under `{results}`)")
elif isinstance(b["result_dir"], str) and b["result_dir"]:
    st.warning(
        f"The build folder is not under {results}/builds/ (the database names "
        f"{b['result_dir']}); start the dashboard with the --results folder that holds it."
    )
if got["critical_path"]:
    st.markdown("Critical path (nextpnr, routed design)")
    st.code("\n".join(got["critical_path"]), language="text", wrap_lines=False)
if got["steps"]:
    st.dataframe(pd.DataFrame(got["steps"]), hide_index=True, key="builds_steps")
if got["reports"] or got["logs"]:
    st.markdown("Reports and logs (downloaded from the dashboard)")
    items = {**got["reports"], **{f"log {k}": v for k, v in got["logs"].items()}}
    cols = st.columns(min(4, len(items)))
    for k, (name, rel) in enumerate(items.items()):
        path = results / rel
        size = path.stat().st_size if path.is_file() else 0
        if 0 < size <= MAX_DOWNLOAD_BYTES:
            cols[k % len(cols)].download_button(
                f"{name} ({size / 1024:,.0f} KiB)",
                data=path.read_bytes(),
                file_name=path.name,
                key=f"builds_dl_{chosen}_{k}",
                help=rel,
            )
        else:
            cols[k % len(cols)].caption(f"{name}: `{rel}` ({size:,} bytes, not served)")
st.markdown("Log tail")
st.code("\n".join(got["log_tail"]) or "(no log)", language="text", wrap_lines=True)
others = {k: v for k, v in got["log_tails"].items() if v != got["log_tail"]}
for name, lines in others.items():
    with st.expander(f"{name} (last {len(lines)} lines)"):
        st.code("\n".join(lines), language="text", wrap_lines=True)
if isinstance(b["measured"], dict) and b["measured"]:
    st.markdown("Measured")
    st.json(b["measured"], expanded=False)
