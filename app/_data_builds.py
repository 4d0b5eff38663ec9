"""A build's files as the Builds page shows them (folder, steps, log tails, critical path,
reports), its timeline lanes and the measured-vs-predicted pairs of the calibration page."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dse.calibration import LATENCY_COLUMNS, METRIC_COLUMNS, predicted_for
from dse.layout import BUILDS, ResultsLayout


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
        for key in [*METRIC_COLUMNS, *LATENCY_COLUMNS]:  # what a build measures
            # paired with the model's prediction of the same object (a sim run's own figure)
            m, p = measured.get(key), predicted_for(key, measured, predicted)
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
