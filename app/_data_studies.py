"""Study-level figures the pages show: where studies are, summaries, convergence,
parameter importance, and the thinning of a large cloud of trials for plotting."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse import sweep
from dse.calibration import METRIC_COLUMNS
from dse.layout import DEFAULT_RESULTS
from dse.pareto import pareto_mask
from dse.sweep import StudyData

ENV_RESULTS = "DSE_DASHBOARD_RESULTS"  # the names dse/cli_dashboard.py sets
ENV_STORAGE = "DSE_DASHBOARD_STORAGE"
BUILD_STATES = ("queued", "running", "done", "failed")
LIVE_WINDOW_S = 60.0  # a study that completed a trial this recently is "running"
# What a build measures -> the model column it is compared with on a plot axis.
MEASURED_FOR = METRIC_COLUMNS


@dataclass(frozen=True)
class Source:
    """Where the dashboard reads: a results folder, or one storage URL."""

    results: Path
    storage: str | None

    @classmethod
    def from_env(cls) -> Source:
        results = Path(os.environ.get(ENV_RESULTS) or DEFAULT_RESULTS)
        return cls(results, os.environ.get(ENV_STORAGE) or None)


def list_studies(source: Source) -> list[tuple[str, str]]:
    """(study, storage URL) of every study the dashboard can show."""
    if source.storage is None and not source.results.is_dir():
        return []
    return sweep.list_studies(source.results, storage=source.storage)


# A study's fingerprint (the pages' cache key) and the constraints its trials break.
stamp = sweep.study_stamp
violation_reasons = sweep.violation_reasons


# -- studies -------------------------------------------------------------------------------


def budget_of(data: StudyData) -> int | None:
    """The study's trial budget: the ``--trials`` of its last ``dse sweep`` run (``dse:trials``,
    recorded by the CLI), else its stored config's ``budget.trials`` (None when neither)."""
    ran = data.attrs.get("dse:trials")
    if isinstance(ran, int) and ran > 0:
        return ran
    budget = (data.attrs.get("dse:config") or {}).get("budget") or {}
    n = budget.get("trials") if isinstance(budget, Mapping) else None
    return int(n) if isinstance(n, int | float) and n > 0 else None


def front_mask(data: StudyData) -> np.ndarray:
    """Rows of ``data.frame`` on the Pareto front (feasible, complete, not duplicates)."""
    df = data.frame
    pool = (
        (df["state"] == "COMPLETE").to_numpy()
        & df["feasible"].to_numpy(bool)
        & df["duplicate_of"].isna().to_numpy()
    )
    out = np.zeros(len(df), dtype=bool)
    if pool.any() and data.objectives:
        values = df.loc[pool, data.objectives].to_numpy(np.float64)
        out[np.flatnonzero(pool)] = pareto_mask(values, data.directions)
    return out


def study_summary(
    data: StudyData,
    builds: pd.DataFrame,
    times: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The figures of one study's row on the Studies page.

    ``times`` is ``dse.sweep._table.study_times``: first start, last completion and the
    trials completed in the ``LIVE_WINDOW_S`` before it.
    """
    df = data.frame
    n = len(df)
    complete = int((df["state"] == "COMPLETE").sum())
    feasible = int(df["feasible"].sum())
    budget = budget_of(data)
    first, last = times.get("first_start"), times.get("last_complete")
    rate = recent = math.nan
    if first is not None and last is not None:
        span = (last - first).total_seconds()
        rate = n / span if span > 0 else math.nan
        window = min(LIVE_WINDOW_S, span) if span > 0 else LIVE_WINDOW_S
        recent = float(times.get("recent", 0)) / window
    now = now or dt.datetime.now(dt.UTC)
    running = bool(last is not None and (now - last).total_seconds() < LIVE_WINDOW_S)
    counts = builds["state"].value_counts() if len(builds) else pd.Series(dtype=int)
    return {
        "study": data.name,
        "trials": n,
        "budget": budget,
        "progress": min(1.0, n / budget) if budget else None,
        "complete": complete,
        "failed": int((df["state"] == "FAIL").sum()),
        "feasible": feasible,
        "feasible_share": feasible / n if n else 0.0,
        "pareto": int(front_mask(data).sum()),
        "trials_per_s": rate,
        "trials_per_s_recent": recent,
        "last_update": last,
        "running": running,
        **{f"builds_{s}": int(counts.get(s, 0)) for s in BUILD_STATES},
    }


def convergence(data: StudyData, points: int = 400) -> pd.DataFrame:
    """Best feasible value so far of each objective, by trial number (at most ``points`` rows
    per objective, always including every improvement's last trial)."""
    df = data.frame
    ok = (df["state"] == "COMPLETE").to_numpy() & df["feasible"].to_numpy(bool)
    numbers = df["number"].to_numpy()
    rows = []
    for m, d in zip(data.objectives, data.directions, strict=True):
        v = np.where(ok, df[m].to_numpy(np.float64), np.nan)
        sign = -1.0 if d == "maximize" else 1.0
        best = sign * np.fmin.accumulate(np.where(np.isnan(v), np.inf, sign * v))
        best[~np.isfinite(best)] = np.nan
        take = np.unique(np.linspace(0, len(best) - 1, min(points, len(best))).astype(int))
        for i in take:
            rows.append({"objective": m, "trial": int(numbers[i]), "best so far": best[i]})
    return pd.DataFrame(rows, columns=["objective", "trial", "best so far"])


def param_importance(
    values: pd.DataFrame, params: Sequence[str], objectives: Sequence[str], bins: int = 8
) -> pd.DataFrame:
    """How much of each objective's spread each parameter explains, on a sample of trials.

    The correlation ratio η² = between-group variance / total variance of the objective
    (log-scaled when positive), grouping trials by the parameter's value (numbers in up to
    ``bins`` quantile bins): 1 when the parameter alone decides the objective, 0 when the
    objective does not depend on it. A one-parameter view: interactions are not credited.
    """
    rows = []
    for m in objectives:
        y = values[m].to_numpy(np.float64)
        if (y > 0).all():
            y = np.log(y)
        ok = np.isfinite(y)
        total = float(np.var(y[ok])) if ok.sum() > 1 else 0.0
        for p in params:
            col = values[p]
            if col.isna().all() or total <= 0:
                continue
            if pd.api.types.is_numeric_dtype(col) and col.nunique() > bins:
                groups = pd.qcut(col.rank(method="first"), bins, labels=False)
            else:
                groups = col.astype(str)
            frame = pd.DataFrame({"g": groups.to_numpy(), "y": y})[ok]
            means = frame.groupby("g")["y"].transform("mean").to_numpy()
            between = float(np.mean((means - frame["y"].mean()) ** 2))
            rows.append({"objective": m, "parameter": p, "importance": between / total})
    return pd.DataFrame(rows, columns=["objective", "parameter", "importance"])


# -- plotting large studies ------------------------------------------------------------------


def thin(values: np.ndarray, keep: np.ndarray, cells: int = 100, limit: int = 4000) -> np.ndarray:
    """A mask that keeps every ``keep`` row and at most one other row per grid cell.

    ``values`` is (n, d) with d = 2 or 3 plot coordinates. With ``limit`` or fewer rows
    everything is kept; otherwise each axis is cut into ``cells`` (2-D) or ``cells ** (2/3)``
    (3-D) bins over its finite range and the first row of each occupied cell stays, which
    keeps the cloud's outline and density gradient while bounding what the browser draws.
    Rows with a non-finite coordinate are dropped (they cannot be drawn).
    """
    n, d = values.shape
    finite = np.isfinite(values).all(axis=1)
    if n <= limit:
        return finite | keep
    per_axis = cells if d == 2 else max(2, round(cells ** (2 / 3)))
    cell = np.zeros(n, dtype=np.int64)
    for k in range(d):
        col = values[:, k]
        lo, hi = (np.nanmin(col[finite]), np.nanmax(col[finite])) if finite.any() else (0, 1)
        span = hi - lo if hi > lo else 1.0
        idx = np.clip(((col - lo) / span * per_axis).astype(np.int64, copy=False), 0, per_axis - 1)
        cell = cell * per_axis + np.where(finite, idx, 0)
    out = keep.copy()
    rows = np.flatnonzero(finite & ~keep)
    _, first = np.unique(cell[rows], return_index=True)
    out[rows[first]] = True
    return out
