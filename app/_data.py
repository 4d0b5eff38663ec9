"""What the pages show, computed from the results store (no Streamlit here).

Everything a page needs that is more than a lookup lives here as a plain function of
DataFrames, so it is tested directly as well as through the pages: study summaries, the
thinning of a large cloud of trials for plotting, violation reasons, a build's files. One
design point's figures are in ``_design``, Pareto axes and measured positions in ``_axes``.
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
from dse import sweep
from dse.calibration import METRIC_COLUMNS
from dse.layout import BUILDS, DEFAULT_RESULTS, ResultsLayout
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


# -- promote -------------------------------------------------------------------------------


def promote_flows(
    config: Mapping[str, Any], release_flows: Sequence[str]
) -> tuple[str, list[str], str]:
    """(default flow, flows allowed, part) for promoting a trial of a study on ``config``'s
    platform: only the flows its board file lists (``build.flows``); the default is what
    ``dse promote`` picks without ``--flow`` (``dse.buildspec.promote_choices``)."""
    from dse.buildspec import promote_choices

    plat = cm.load_platform(str(config.get("platform")))
    default, allowed = promote_choices(plat, release_flows)
    return default, allowed, str(getattr(plat, "part", "") or "")


def promote_candidates(data: StudyData, builds: pd.DataFrame) -> pd.DataFrame:
    """Trials worth promoting: the front and every built trial, with their builds' timing.

    One row per trial: ``number``, ``on front``, ``builds`` (e.g. ``2 done, 1 failed``),
    ``fmax MHz`` / ``target MHz`` / ``slack ns`` of its best place-and-route build (slack =
    target period - critical path delay; negative: timing missed), and ``label``.
    """
    front = set(int(n) for n in data.frame.loc[front_mask(data), "number"])
    built: dict[int, list[Any]] = {}
    for _, b in builds.iterrows():
        if pd.notna(b.get("trial_number")):
            built.setdefault(int(b["trial_number"]), []).append(b)
    rows = []
    for n in sorted(front | set(built)):
        mine = built.get(n, [])
        states = pd.Series([str(b["state"]) for b in mine]).value_counts()
        fmax = target = slack = math.nan
        for b in mine:
            m = b.get("measured") if isinstance(b.get("measured"), Mapping) else {}
            point = b.get("point") if isinstance(b.get("point"), Mapping) else {}
            f, t = m.get("fmax_mhz"), point.get("freq_mhz")
            if isinstance(f, int | float) and isinstance(t, int | float) and f > 0 and t > 0:
                s = 1e3 / float(t) - 1e3 / float(f)
                if math.isnan(slack) or s > slack:
                    fmax, target, slack = float(f), float(t), s
        text = ", ".join(f"{k} {v}" for k, v in states.items()) or "not built"
        timing = "" if math.isnan(slack) else f", slack {slack:+.2f} ns"
        rows.append(
            {
                "number": n,
                "on front": n in front,
                "builds": text,
                "fmax MHz": fmax,
                "target MHz": target,
                "slack ns": slack,
                "label": f"trial {n} ({'front' if n in front else 'off front'}; {text}{timing})",
            }
        )
    cols = ["number", "on front", "builds", "fmax MHz", "target MHz", "slack ns", "label"]
    return pd.DataFrame(rows, columns=cols)


# -- builds --------------------------------------------------------------------------------


def build_folder(result_dir: Any, bundle_hash: Any, results: Path) -> Path | None:
    """A build's folder, found under the dashboard's ``--results`` root.

    The database stores the absolute folder of the machine and time the build ran; a results
    folder moved or copied elsewhere still holds it as ``builds/<bundle hash>`` (the build
    cache's layout), which is looked for first. The stored path is the last resort.
    """
    candidates: list[Path] = []
    if isinstance(bundle_hash, str) and bundle_hash:
        candidates.append(ResultsLayout(results).build_dir(bundle_hash))
    if isinstance(result_dir, str) and result_dir:
        stored = Path(result_dir)
        parts = stored.parts
        if BUILDS in parts:  # the part under the results root, wherever that was
            k = len(parts) - 1 - parts[::-1].index(BUILDS)
            candidates.append(results.joinpath(*parts[k:]))
        candidates.append(stored if stored.is_absolute() else results / stored)
    return next((c for c in candidates if c.is_dir()), None)


def build_files(folder: Path | None, results: Path) -> dict[str, Any]:
    """One build folder's record, steps, log tails, critical path and report files.

    ``reports``/``logs`` map a name to a path *relative to* ``results`` (what the page shows
    and serves); ``steps`` is one row per tool step with its duration; ``log_tails`` the
    last lines of each step's log; ``critical_path`` the last critical-path report of a
    nextpnr log with its Fmax lines (empty when there is none).
    """
    import json

    out: dict[str, Any] = {
        "folder": None,
        "record": None,
        "log_tail": [],
        "log_tails": {},
        "reports": {},
        "logs": {},
        "steps": [],
        "critical_path": [],
    }
    if folder is None:
        return out
    out["folder"] = _relative(folder, results)
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
    for k, v in (rec.get("reports") or {}).items():
        if (folder / str(v)).is_file():
            out["reports"][str(k)] = _relative(folder / str(v), results)
    for s in rec.get("steps") or []:
        if not isinstance(s, dict):
            continue
        out["steps"].append(
            {
                "step": s.get("name"),
                "seconds": s.get("duration_s"),
                "exit code": s.get("returncode"),
                "failure": s.get("failure_class") or "",
                "log": s.get("log") or "",
            }
        )
        log = folder / str(s.get("log") or "")
        if s.get("log") and log.is_file():
            out["logs"][str(s["log"])] = _relative(log, results)
            out["log_tails"][str(s["log"])] = _tail(log)
    # Tools' own logs (yosys.log, nextpnr.log) listed as reports: their tails too.
    for name in list(out["reports"]):
        path = results / out["reports"][name]
        if path.suffix == ".log" and name not in out["log_tails"]:
            out["log_tails"][path.name] = _tail(path)
    nextpnr = folder / "nextpnr.log"
    if nextpnr.is_file():
        out["critical_path"] = critical_path(nextpnr.read_text(encoding="utf-8", errors="replace"))
    if not out["log_tail"] and out["log_tails"]:
        out["log_tail"] = next(iter(out["log_tails"].values()))
    return out


def _relative(path: Path, results: Path) -> str:
    try:
        return str(path.resolve().relative_to(results.resolve()))
    except ValueError:
        return str(path)


def _tail(path: Path, lines: int = 40, limit: int = 64 * 1024) -> list[str]:
    """The last ``lines`` lines of a (possibly large) log, reading at most ``limit`` bytes."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").split("\n")[-lines:] if text.strip() else []


def critical_path(log: str) -> list[str]:
    """nextpnr's last critical-path report (the routed design's) and its Fmax verdict.

    nextpnr prints a ``Critical path report for clock ...`` block after placement and again
    after routing, each ending with ``... ns logic, ... ns routing``, and ``Max frequency for
    clock ...: N MHz (PASS|FAIL at M MHz)`` lines after each.
    """
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "Critical path report for clock" in line]
    if not starts:
        return []
    block: list[str] = []
    for line in lines[starts[-1] :]:
        block.append(line)
        if "ns routing" in line:
            break
    fmax = [line for line in lines if "Max frequency for clock" in line]
    return block + fmax[-1:]


def step_segments(builds: pd.DataFrame, steps: Mapping[int, list[dict[str, Any]]]) -> pd.DataFrame:
    """Per build and tool step: its start and duration (seconds), laid end to end from the
    build's start, for the timeline's per-step bars."""
    rows = []
    for _, b in builds.iterrows():
        t = b.get("started_at")
        if t is None or pd.isna(t):
            continue
        t = float(t)
        for s in steps.get(int(b["build_id"]), []):
            d = s.get("seconds")
            if not isinstance(d, int | float):
                continue
            rows.append(
                {"build_id": int(b["build_id"]), "step": str(s["step"]), "start": t, "seconds": d}
            )
            t += float(d)
    return pd.DataFrame(rows, columns=["build_id", "step", "start", "seconds"])


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
