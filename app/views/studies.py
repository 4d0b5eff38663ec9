"""Studies: every study's progress, rate, feasible share, Pareto size and builds (live);
then, for one study, its convergence and which parameters matter."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import _data, _ui

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
        conv = _data.convergence(data)
        fig = go.Figure()
        for m, part in conv.groupby("objective", sort=False):
            d = dict(zip(data.objectives, data.directions, strict=True))[str(m)]
            fig.add_trace(
                go.Scatter(
                    x=part["trial"],
                    y=part["best so far"],
                    mode="lines",
                    name=f"{m} ({'max' if d == 'maximize' else 'min'})",
                    yaxis="y" if m == data.objectives[0] else "y2",
                    line={"shape": "hv"},
                )
            )
        fig.update_layout(
            height=320,
            xaxis={"title": "trial"},
            yaxis={"title": f"best feasible {data.objectives[0]}"},
            yaxis2={
                "title": f"best feasible {data.objectives[-1]}",
                "overlaying": "y",
                "side": "right",
            },
            legend={"orientation": "h", "y": -0.25},
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
        )
        st.plotly_chart(fig, key="studies_convergence")
        st.caption(f"{study}: best feasible value of each objective so far, by trial.")
    with right:
        ok = data.frame[(data.frame["state"] == "COMPLETE") & data.frame["feasible"]]
        sample = ok.sample(min(len(ok), IMPORTANCE_SAMPLE), random_state=0) if len(ok) else ok
        params = [f"param_{p}" for p in data.params]
        attrs = _ui.trial_attrs(url, study, sample["number"].tolist(), ("point",))
        have = [p for p in params if p in attrs.columns]
        if len(sample) < 10 or not have:
            st.info("Too few feasible trials (or no searched parameters) to rank parameters.")
        else:
            values = sample.set_index("number")[data.objectives].join(attrs[have])
            imp = _data.param_importance(values, have, data.objectives)
            imp["parameter"] = imp["parameter"].str.removeprefix("param_")
            fig = go.Figure()
            for m, part in imp.groupby("objective", sort=False):
                fig.add_trace(
                    go.Bar(x=part["importance"], y=part["parameter"], orientation="h", name=str(m))
                )
            fig.update_layout(
                height=320,
                barmode="group",
                xaxis={"title": "share of the objective's spread explained (η²)", "range": [0, 1]},
                legend={"orientation": "h", "y": -0.25},
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
            )
            st.plotly_chart(fig, key="studies_importance")
            st.caption(
                f"On {len(sample):,} feasible trials: the share of each objective's variance "
                "(log scale) explained by one parameter alone (correlation ratio)."
            )
