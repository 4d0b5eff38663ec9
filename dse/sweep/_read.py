"""Reading studies back for ``dse status``, ``dse pareto`` and ``dse export``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

import cost_models as cm
from dse._optuna import CONSTRAINTS_KEY
from dse.errors import StudyNotFound
from dse.layout import ResultsLayout, layout, sqlite_path, sqlite_url
from dse.pareto import pareto_mask
from dse.sweep._builds import builds_frame, calibrations_frame
from dse.sweep._store import StorageError, TrialStore

Results = ResultsLayout | str | Path | None  # a results root, as a layout or a path


@dataclass
class StudyData:
    """One study as a table: one row per trial, in trial-number order."""

    name: str
    url: str
    objectives: list[str]
    directions: list[str]
    params: list[str]  # design names of the searched parameters
    frame: pd.DataFrame
    last_update: dt.datetime | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def pareto(self, *, collapse: bool = False) -> pd.DataFrame:
        """Feasible, non-duplicate trials on the Pareto front, best first objective first.

        ``collapse``: one row per distinct objective vector (its first trial), with ``ties``
        counting the trials that reach the same values with other parameters.
        """
        df = self.frame
        pool = df[(df["state"] == "COMPLETE") & df["feasible"] & df["duplicate_of"].isna()]
        if pool.empty:
            return pool.assign(ties=pd.Series(dtype=np.int64)) if collapse else pool
        mask = pareto_mask(pool[self.objectives].to_numpy(np.float64), self.directions)
        front = pool[mask].sort_values(
            [*self.objectives, "number"],
            ascending=[d == "minimize" for d in self.directions] + [True],
            kind="stable",
        )
        if collapse:
            ties = front.groupby(self.objectives, sort=False)["number"].transform("size")
            front = front.assign(ties=ties).drop_duplicates(self.objectives, keep="first")
        return front

    def summary(self) -> dict[str, Any]:
        """Counts ``dse status``, ``dse pareto`` and the sweep's last line all print.

        ``pareto_size`` is the number of Pareto-optimal *points*: distinct objective vectors
        of the feasible, non-dominated trials (the rows of ``dse pareto``, and the distinct
        ``values`` of Optuna's ``study.best_trials``); ``pareto_trials`` counts the designs
        reaching them (ties with other parameters, not re-asked duplicates).
        """
        df = self.frame
        ok = df[(df["state"] == "COMPLETE") & df["feasible"]]
        front = self.pareto()
        best: dict[str, Any] = {}
        for m, d in zip(self.objectives, self.directions, strict=True):
            if front.empty:
                best[m] = None
                continue
            # The best value's trial from the front: a tie on this objective that another
            # objective makes dominated is never named.
            col = front[m].to_numpy(np.float64)
            pos = int(np.argmax(col) if d == "maximize" else np.argmin(col))
            best[m] = {
                "value": float(col[pos]),
                "trial": int(front["number"].iloc[pos]),
                "direction": d,
            }
        return {
            "study": self.name,
            "storage": self.url,
            "trials": len(df),
            "complete": int((df["state"] == "COMPLETE").sum()),
            "failed": int((df["state"] == "FAIL").sum()),
            "feasible": len(ok),
            "pareto_size": len(front.drop_duplicates(self.objectives)),
            "pareto_trials": len(front),
            "best": best,
            "last_update": self.last_update.isoformat(timespec="seconds")
            if self.last_update
            else None,
        }


def list_studies(
    results: Results = None, problems: list[str] | None = None, *, storage: str | None = None
) -> list[tuple[str, str]]:
    """(study name, storage URL) of every study in ``<results>/*/optuna.db``, or in the one
    database ``storage`` when given (its errors are raised).

    With ``problems``, a database that cannot be read is reported there and skipped, so one
    corrupt file does not hide every other study; without it, its ``StorageError`` is raised.
    """
    if storage:
        return [(name, storage) for name in _names_in(storage)]
    out: list[tuple[str, str]] = []
    for db in layout(results).study_dbs():
        url = sqlite_url(db)
        try:
            store = TrialStore(url, create=False)
        except StorageError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
            continue
        try:
            out += [(name, url) for name in store.study_names()]
        finally:
            store.close()
    return out


def _names_in(url: str) -> list[str]:
    store = TrialStore(url, create=False)
    try:
        return store.study_names()
    finally:
        store.close()


def resolve_storage(study: str, storage: str | None, results: Results = None) -> str:
    """``storage`` when given, else the study's database under ``results`` (or the one
    database there that holds it); raises ``StudyNotFound`` naming the studies found."""
    if storage:
        return storage
    lay = layout(results)
    url = lay.study_url(study)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        studies = list_studies(lay, [])
        # A study swept with --storage into another study's database file lives there.
        here = [u for n, u in studies if n == study]
        if len(here) == 1:
            return here[0]
        known = [n for n, _ in studies]
        hint = f"; studies under {lay.root}/: {', '.join(known)}" if known else ""
        raise StudyNotFound(
            f"study {study!r}: no {path} (run `dse sweep` first, or pass --storage URL){hint}"
        )
    return url


@contextlib.contextmanager
def open_study(
    study: str, storage: str | None = None, results: Results = None
) -> Iterator[tuple[TrialStore, int, str]]:
    """``(store, study id, url)`` of an existing study; closes the store afterwards.

    Raises:
        StudyNotFound: no storage for it, or the storage holds no study of that name.
    """
    url = resolve_storage(study, storage, results)
    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(study)
        if sid is None:
            names = store.study_names()
            hint = cm.did_you_mean(study, names)
            raise StudyNotFound(
                f"study {study!r} is not in {url} (it holds: {', '.join(names) or 'nothing'})"
                + (f"; {hint}" if hint else "")
            )
        yield store, sid, url
    finally:
        store.close()


def load_study_data(
    study: str, storage: str | None = None, results: Results = None, *, full: bool = True
) -> StudyData:
    """Read a study (``full``: with every design point and metric) into a DataFrame."""
    with open_study(study, storage, results) as (store, sid, url):
        attrs = store.study_user_attrs(sid)
        keys = None if full else ("duplicate_of",)
        # full: the trials' own start/complete times (export writes them), not "now"
        got = store.load(sid, user_attrs=keys, datetimes=full)
        last = store.last_complete(sid)
    objectives = list(attrs.get("dse:objectives") or [])
    directions = list(attrs.get("dse:directions") or [])
    names: dict[str, str] = dict(attrs.get("dse:params") or {})
    rows: list[dict[str, Any]] = []
    for t in got.trials:
        cons = t.system_attrs.get(CONSTRAINTS_KEY) or []
        complete = t.state == TrialState.COMPLETE
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "feasible": bool(complete and all(c <= 0 for c in cons)),
            "duplicate_of": t.user_attrs.get("duplicate_of"),
        }
        for k, m in enumerate(objectives):
            row[m] = t.values[k] if t.values is not None else np.nan
        if full:
            point = t.user_attrs.get("point") or {}
            for opt_name, name in names.items():
                row[f"param_{name}"] = point.get(name, t.params.get(opt_name))
            for k, v in point.items():
                if k not in names.values():
                    row[f"point_{k}"] = v
            for k, v in (t.user_attrs.get("metrics") or {}).items():
                if k not in objectives:
                    row[f"metric_{k}"] = v
            for k, v in (t.user_attrs.get("measured") or {}).items():
                row[f"measured_{k}"] = v
            if "build" in t.user_attrs:
                row["build_status"] = (t.user_attrs["build"] or {}).get("status")
            if "error" in t.user_attrs:
                row["error"] = t.user_attrs["error"]
            row["datetime_complete"] = t.datetime_complete
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["number", "state", "feasible", "duplicate_of", *objectives])
    frame["duplicate_of"] = frame["duplicate_of"].astype("Int64")
    return StudyData(study, url, objectives, directions, list(names.values()), frame, last, attrs)


def load_builds(
    study: str, storage: str | None = None, results: Results = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(builds, calibrations) of a study: ``dse_builds`` and ``dse_calibrations`` rows.

    Builds: one row per requested build with ``state`` (queued, running, done, failed),
    ``host``, ``flow``, ``failure_class``, ``queued_at``/``started_at``/``finished_at`` (Unix
    seconds), ``params``/``predicted``/``measured`` (dicts) and ``result_dir``. Both frames are
    empty (with their columns) for a study that never built anything.
    """
    with open_study(study, storage, results) as (store, sid, _):
        return builds_frame(store.reader, sid), calibrations_frame(store.reader, sid)


@dataclass(frozen=True)
class StoredTrial:
    """One trial of a stored study, as promote and ``dse build --trial`` read it."""

    trial: FrozenTrial | None  # None: the study has no trial of that number
    count: int  # trials in the study
    attrs: dict[str, Any]  # the study's user attributes (dse:config, dse:objectives, ...)
    url: str


def read_trial(
    study: str, number: int, storage: str | None = None, results: Results = None
) -> StoredTrial:
    """Trial ``number`` of ``study`` with everything stored with it (``StudyNotFound`` when
    the study does not exist; ``trial`` is None when it has no such trial)."""
    with open_study(study, storage, results) as (store, sid, url):
        attrs = store.study_user_attrs(sid)
        try:
            tid = store.rdb.get_trial_id_from_study_id_trial_number(sid, number)
        except KeyError:
            return StoredTrial(None, store.count(sid), attrs, url)
        return StoredTrial(store.rdb.get_trial(tid), store.count(sid), attrs, url)
