"""What the pages show, computed from the results store (no Streamlit here).

Everything a page needs that is more than a lookup lives here as a plain function of
DataFrames, so it is tested directly as well as through the pages: study summaries, the
thinning of a large cloud of trials for plotting, the position a build's measurements move
a trial to, the channel map of a design point, and the per-operator breakdown.
"""

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

import cost_models as cm
from dse.calibration import METRIC_COLUMNS
from dse.pareto import pareto_mask
from dse.sweep._read import StudyData

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
        return cls(
            Path(os.environ.get(ENV_RESULTS) or "results"), os.environ.get(ENV_STORAGE) or None
        )


def list_studies(source: Source) -> list[tuple[str, str]]:
    """(study, storage URL) of every study the dashboard can show."""
    from dse.sweep import TrialStore
    from dse.sweep._read import list_studies as in_results

    if source.storage is None:
        return in_results(source.results) if source.results.is_dir() else []
    store = TrialStore(source.storage, create=False)
    try:
        return [(name, source.storage) for name in store.study_names()]
    finally:
        store.close()


def stamp(url: str, study: str) -> tuple[int, str, int]:
    """A cheap fingerprint of a study's content: (trials, last completion, build changes).

    The pages key their caches on it, so a sweep that is still writing shows up at the next
    refresh while an idle study is read once.
    """
    import sqlalchemy as sa

    from dse.sweep import TrialStore
    from dse.sweep._builds import BUILDS

    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(study)
        if sid is None:
            return (0, "", 0)
        last = store.last_complete(sid)
        builds = 0
        if sa.inspect(store.reader).has_table(BUILDS.name):
            with store.reader.connect() as conn:
                row = conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.max(BUILDS.c.finished_at),
                        sa.func.max(BUILDS.c.started_at),
                    ).where(BUILDS.c.study_id == sid)
                ).one()
            builds = hash((row[0], row[1], row[2])) & 0x7FFFFFFF
        return (store.count(sid), last.isoformat() if last else "", builds)
    finally:
        store.close()


# -- studies -------------------------------------------------------------------------------


def budget_of(data: StudyData) -> int | None:
    """The study's trial budget from its stored config (None when it has none)."""
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


def measured_positions(
    frame: pd.DataFrame, builds: pd.DataFrame, axes: Sequence[str], available: Mapping[str, float]
) -> pd.DataFrame:
    """Where each built trial lands on ``axes`` once its build's measurements replace the model.

    One row per finished build with measurements: ``number``, ``<axis>`` (measured where the
    build measured that quantity, else the model's value), ``measured_axes`` (which axes
    moved). An axis is measured directly (``lut``), as a share of the device (``lut_util``:
    measured / available) or as the achievable clock (``fmax_mhz``, else
    ``estimated_clock_mhz``).
    """
    rows = []
    if builds.empty:
        return pd.DataFrame(columns=["number", *axes, "measured_axes", "build_id", "flow"])
    by_number = frame.set_index("number")
    for _, b in builds.iterrows():
        measured = b.get("measured")
        n = b.get("trial_number")
        if not isinstance(measured, Mapping) or not measured or pd.isna(n):
            continue
        n = int(n)
        if n not in by_number.index:
            continue
        row: dict[str, Any] = {"number": n, "build_id": int(b["build_id"]), "flow": b["flow"]}
        moved = []
        for axis in axes:
            value = by_number.at[n, axis] if axis in by_number.columns else math.nan
            got = _measured_value(axis, measured, available)
            if got is not None:
                value = got
                moved.append(axis)
            row[axis] = value
        row["measured_axes"] = ", ".join(moved)
        rows.append(row)
    return pd.DataFrame(rows, columns=["number", *axes, "measured_axes", "build_id", "flow"])


def _measured_value(
    axis: str, measured: Mapping[str, Any], available: Mapping[str, float]
) -> float | None:
    name = axis.removeprefix("metric_")
    for key, column in MEASURED_FOR.items():
        value = measured.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if column == name:
            if key == "estimated_clock_mhz" and isinstance(measured.get("fmax_mhz"), int | float):
                continue  # place and route beats a synthesis estimate
            return float(value)
        if name == f"{column}_util" and available.get(column):
            return float(value) / float(available[column])
    return None


# -- one design ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignView:
    """A design point re-scored with the per-operator detail, plus its platform."""

    row: pd.Series
    platform: Any
    arch: str


def evaluate_design(config: Mapping[str, Any], point: Mapping[str, Any]) -> DesignView:
    """Score ``point`` with the study's stored config (workload, platform, arch, baseline)."""
    workload = cm.load_workload(config["workload"], source="stored study config")
    platform = cm.load_platform(str(config["platform"]))
    if not isinstance(platform, cm.Platform):
        raise ValueError(f"platform {config['platform']!r} is a GPU, not an FPGA platform")
    arch = str(config.get("arch", "spatial"))
    baseline = config.get("baseline")
    df = cm.evaluate(
        workload,
        platform,
        {k: v for k, v in point.items() if v is not None and not _nan(v)},
        arch=arch,
        baseline=baseline,
        detail=True,
    )
    return DesignView(df.iloc[0], platform, arch)


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def operator_breakdown(row: pd.Series) -> pd.DataFrame:
    """Per operator and phase: seconds, share of the phase, and what bounds it.

    ``bound``: ``memory`` and ``link`` are transfers; the compute operators are
    ``compute``; the phase's slowest operator is marked ``limits phase`` together with the
    model's verdict for the whole phase (``bound_prefill`` / ``bound_decode``).
    """
    out = []
    for phase in ("prefill", "decode"):
        prefix = f"op_{phase}_"
        names = [
            k[len(prefix) : -2] for k in row.index if k.startswith(prefix) and k.endswith("_s")
        ]
        times = {n: float(row[f"{prefix}{n}_s"]) for n in names}
        total = sum(times.values()) or 1.0
        slowest = max(times, key=lambda n: times[n]) if times else None
        verdict = str(row.get(f"bound_{phase}", ""))
        for n, t in times.items():
            if n in ("memory", "link"):
                kind = n
            elif n == "overhead" or "fill" in n:
                kind = "overhead"
            else:
                kind = "compute"
            out.append(
                {
                    "phase": phase,
                    "operator": n,
                    "seconds": t,
                    "share": t / total,
                    "bound": kind,
                    "limits phase": f"yes ({verdict}-bound phase)" if n == slowest else "",
                }
            )
    return pd.DataFrame(
        out, columns=["phase", "operator", "seconds", "share", "bound", "limits phase"]
    )


def resources_table(row: pd.Series, platform: Any) -> pd.DataFrame:
    """Each resource: used, available on the device (after the shell), utilisation."""
    avail = platform.available().as_dict()
    rows = []
    for r in cm.RESOURCES:
        rows.append(
            {
                "resource": r,
                "used": float(row[r]),
                "available": float(avail[r]),
                "util": float(row[f"{r}_util"]),
            }
        )
    return pd.DataFrame(rows)


def channel_map(point: Mapping[str, Any], channels: int) -> pd.DataFrame:
    """Which tensor group uses each memory channel (``docs/models.md``, Memory channels).

    Groups take contiguous channel ranges in the order of ``cost_models.GROUPS``, wrapping
    around; a channel listed under two groups is shared (the groups contend for it).
    """
    rows = []
    start = 0
    for g in cm.GROUPS:
        n = int(point.get(f"hbm_ch_{g}", 0) or 0)
        for i in range(n):
            rows.append({"channel": (start + i) % channels, "group": g})
        start += n
    df = pd.DataFrame(rows, columns=["channel", "group"])
    users = df.groupby("channel")["group"].transform("size") if len(df) else df["group"]
    return df.assign(shared=users > 1)


# -- builds --------------------------------------------------------------------------------


def build_files(result_dir: str | None) -> dict[str, Any]:
    """The record, log tail and report paths of one build folder (empty when it is gone)."""
    import json

    out: dict[str, Any] = {"record": None, "log_tail": [], "reports": {}, "logs": []}
    if not result_dir:
        return out
    folder = Path(result_dir)
    for name in ("result.json", "attempt.json"):
        path = folder / name
        if path.is_file():
            try:
                out["record"] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            break
    rec = out["record"] or {}
    out["log_tail"] = list(rec.get("log_tail") or [])
    out["reports"] = {k: str(folder / v) for k, v in (rec.get("reports") or {}).items()}
    out["logs"] = [
        str(folder / s["log"])
        for s in rec.get("steps") or []
        if isinstance(s, dict) and s.get("log")
    ]
    return out


def log_error_pct(error: float) -> float:
    """A median |log ratio| as a percentage miss: 0.1 -> 10.5 % (NaN stays NaN)."""
    return round((math.exp(error) - 1.0) * 100.0, 1) if math.isfinite(error) else math.nan


def timeline_lanes(builds: pd.DataFrame, now: float) -> pd.Series:
    """A row label per build, ``host`` or ``host #k``: overlapping builds on one host (its
    parallel build slots) get separate lanes, so no bar hides another."""
    lanes = pd.Series("", index=builds.index, dtype=object)
    start = builds["started_at"].fillna(builds["queued_at"]).astype(float)
    end = builds["finished_at"].fillna(now).astype(float)
    host = builds["host"].fillna("(not started)").astype(str)
    for h in host.unique():
        rows = start[host == h].sort_values().index
        free: list[float] = []  # when each lane becomes free
        for i in rows:
            k = next((j for j, t in enumerate(free) if t <= start[i]), len(free))
            if k == len(free):
                free.append(end[i])
            else:
                free[k] = end[i]
            lanes[i] = h if k == 0 else f"{h} #{k + 1}"
    return lanes


def calibration_pairs(builds: pd.DataFrame) -> pd.DataFrame:
    """(build, flow, metric, predicted, measured) for every measured quantity of every build."""
    rows = []
    for _, b in builds.iterrows():
        measured, predicted = b.get("measured"), b.get("predicted")
        if not isinstance(measured, Mapping) or not isinstance(predicted, Mapping):
            continue
        for key, column in MEASURED_FOR.items():
            m, p = measured.get(key), predicted.get(column)
            if (
                isinstance(m, int | float)
                and isinstance(p, int | float)
                and not isinstance(m, bool)
            ):
                rows.append(
                    {
                        "build_id": int(b["build_id"]),
                        "trial": b.get("trial_number"),
                        "flow": b["flow"],
                        "metric": key,
                        "predicted": float(p),
                        "measured": float(m),
                    }
                )
    return pd.DataFrame(
        rows, columns=["build_id", "trial", "flow", "metric", "predicted", "measured"]
    )
