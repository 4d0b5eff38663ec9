"""Studies: every study's progress, rate, feasible share, Pareto size and builds (live);
then, for one study, its convergence and which parameters matter."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import _data, _ui
from dse.sweep._read import StudyData

IMPORTANCE_SAMPLE = 2000  # trials whose parameters are read for the importance estimate
BUILDS_COLUMN = "builds queued / running / done / failed"

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
            "last min": df["trials_per_s_recent"].round(1),
            "feasible %": (df["feasible_share"] * 100).round(1),
            "Pareto": df["pareto"],
            BUILDS_COLUMN: [
                " / ".join(str(int(r[f"builds_{k}"])) for k in _data.BUILD_STATES)
                for _, r in df.iterrows()
            ],
            "last update": df["last_update"],
        }
    )
    small = {
        c: st.column_config.NumberColumn(c, width="small")
        for c in ("trials", "budget", "trials/s", "last min", "feasible %", "Pareto")
    }
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "study": st.column_config.TextColumn("study", width="medium"),
            "progress": st.column_config.ProgressColumn(
                "progress", min_value=0.0, max_value=1.0, format="percent", width="small"
            ),
            "last update": st.column_config.DatetimeColumn(
                "last update (UTC)", format="MM-DD HH:mm", width="small"
            ),
            BUILDS_COLUMN: st.column_config.TextColumn(
                BUILDS_COLUMN, width="medium", help="the study's FPGA builds by state"
            ),
            **small,
        },
        key="studies_table",
    )
    st.caption(
        "budget: the --trials of the study's last `dse sweep` run, else its config's "
        "budget.trials; trials/s: all trials from the first start to the last completion, "
        "last min: over the minute before the last completion; Pareto: feasible, "
        "non-duplicate trials on the predicted front; builds: the study's FPGA builds by "
        "state (trials are not builds)."
    )


overview()


@st.cache_data(max_entries=16, show_spinner=False)
def importance(url: str, study: str, key: tuple) -> tuple[int, pd.DataFrame]:
    """(trials sampled, ``_data.param_importance``) of a study, computed once per change."""
    data = _ui.load(url, study)
    ok = data.frame[(data.frame["state"] == "COMPLETE") & data.frame["feasible"]]
    sample = ok.sample(min(len(ok), IMPORTANCE_SAMPLE), random_state=0) if len(ok) else ok
    params = [f"param_{p}" for p in data.params]
    attrs = _ui.trial_attrs(url, study, sample["number"].tolist(), ("point",))
    have = [p for p in params if p in attrs.columns]
    if len(sample) < 10 or not have:
        return len(sample), pd.DataFrame(columns=["objective", "parameter", "importance"])
    values = sample.set_index("number")[data.objectives].join(attrs[have])
    imp = _data.param_importance(values, have, data.objectives)
    imp["parameter"] = imp["parameter"].str.removeprefix("param_")
    return len(sample), imp


def best_so_far(data: StudyData) -> pd.DataFrame:
    """Per objective: the best feasible value, the trial that first reached it, and how far
    into the study that was (a search still improving late has not converged)."""
    df = data.frame
    ok = df[(df["state"] == "COMPLETE") & df["feasible"]]
    rows = []
    for m, d in zip(data.objectives, data.directions, strict=True):
        if ok.empty:
            continue
        best = ok[m].max() if d == "maximize" else ok[m].min()
        first = int(ok.loc[ok[m] == best, "number"].min())
        rows.append(
            {
                "objective": f"{m} ({'max' if d == 'maximize' else 'min'})",
                "best feasible": best,
                "first reached at trial": first,
                "of trials": (first + 1) / max(1, int(df["number"].max()) + 1),
            }
        )
    return pd.DataFrame(rows)


def convergence_figure(data: StudyData) -> go.Figure:
    """Best feasible value of each objective so far, by trial (one y axis per objective)."""
    conv = _data.convergence(data)
    fig = go.Figure()
    for m, part in conv.groupby("objective", sort=False):
        d = dict(zip(data.objectives, data.directions, strict=True))[str(m)]
        fig.add_trace(
            go.Scatter(
                x=part["trial"] + 1,  # trial 0 on a log axis
                y=part["best so far"],
                mode="lines",
                name=f"{m} ({'max' if d == 'maximize' else 'min'})",
                yaxis="y" if m == data.objectives[0] else "y2",
                line={"shape": "hv"},
            )
        )
    fig.update_layout(
        height=320,
        # Log trials: most improvements come early, a linear axis hides them at its left edge.
        xaxis={"title": "trials done", "type": "log", "tickformat": ",.0f"},
        yaxis={"title": f"best feasible {data.objectives[0]}"},
        yaxis2={
            "title": f"best feasible {data.objectives[-1]}",
            "overlaying": "y",
            "side": "right",
        },
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


found = _ui.all_studies()
if found:
    st.subheader("Convergence and parameter importance")
    study, url = _ui.study_or_stop()
    data = _ui.load(url, study)
    if data.frame.empty or not data.objectives:
        st.info(f"Study {study!r} has no finished trials yet.")
        st.stop()
    left, right = st.columns(2)
    with left:
        st.dataframe(
            best_so_far(data),
            hide_index=True,
            key="studies_best",
            column_config={
                "best feasible": st.column_config.NumberColumn(format="%.4g"),
                "of trials": st.column_config.ProgressColumn(
                    "reached after", min_value=0.0, max_value=1.0, format="percent"
                ),
            },
        )
        # The chart on demand: it loads the chart library, about a second of a page load.
        box = st.expander(
            f"Chart: best feasible value so far by trial ({study})",
            key="studies_convergence_open",
            on_change="rerun",
        )
        if box.open:
            with box:
                st.plotly_chart(convergence_figure(data), key="studies_convergence")
        st.caption(
            f"{study}: the best feasible value of each objective and the trial that first "
            "reached it ('reached after': that share of the study's trials)."
        )
    with right:
        n, imp = importance(url, study, _ui.stamp(url, study))
        if imp.empty:
            st.info("Too few feasible trials (or no searched parameters) to rank parameters.")
        else:
            table = imp.pivot(index="parameter", columns="objective", values="importance")
            table = table[[m for m in data.objectives if m in table.columns]]
            table = table.sort_values(list(table.columns), ascending=False).reset_index()
            st.dataframe(
                table,
                hide_index=True,
                key="studies_importance",
                column_config={
                    m: st.column_config.ProgressColumn(
                        f"{m} (η²)", min_value=0.0, max_value=1.0, format="%.2f"
                    )
                    for m in data.objectives
                },
            )
            st.caption(
                f"Parameter importance on {n:,} feasible trials: the share of each "
                "objective's variance (log scale) explained by one parameter alone "
                "(correlation ratio η², 0 to 1)."
            )
