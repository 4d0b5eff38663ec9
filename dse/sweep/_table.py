"""Column-wise reads of a study, for views that must stay fast on 100,000 trials.

``load_study_data`` builds one Optuna ``FrozenTrial`` per trial, then one dict per row: fine
for ``dse pareto``, seconds on a large study. The dashboard instead reads

- ``load_table``: one row per trial with only what a first paint needs (number, state,
  feasibility, duplicate link, objective values), straight from the RDB tables into
  numpy columns; feasibility is computed in the database where it can (SQLite's
  ``json_each``, PostgreSQL's ``json_array_elements_text``), so no per-trial JSON is decoded;
- ``load_trial_attrs``: the design point, metrics and measurements of the few trials a view
  shows (a Pareto front, a thinned cloud, one design), in the column layout of
  ``load_study_data`` (``param_*``, ``point_*``, ``metric_*``, ``measured_*``,
  ``build_status``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dse._optuna import CONSTRAINTS_KEY, TABLES
from dse.sweep._read import Results, StudyData, open_study
from dse.sweep._store import TrialStore

ATTR_KEYS = ("point", "metrics", "measured", "build")
_CHUNK = 500


def load_table(study: str, storage: str | None = None, results: Results = None) -> StudyData:
    """The study's trials as columns, without design points or metrics.

    Columns: ``number``, ``trial_id``, ``state``, ``feasible``, ``duplicate_of`` and one per
    objective. Same rows, order and ``feasible`` rule as ``load_study_data`` (complete and
    every constraint <= 0). ``study_times`` gives the timing figures.
    """
    with open_study(study, storage, results) as (store, sid, url):
        attrs = store.study_user_attrs(sid)
        objectives = list(attrs.get("dse:objectives") or [])
        directions = list(attrs.get("dse:directions") or [])
        names: dict[str, str] = dict(attrs.get("dse:params") or {})
        with store.reader.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                frame = _read_columns(cur, sid, len(objectives), store.is_sqlite)
            finally:
                cur.close()
        last = store.last_complete(sid)
    frame = frame.rename(columns={f"_v{k}": m for k, m in enumerate(objectives)})
    return StudyData(study, url, objectives, directions, list(names.values()), frame, last, attrs)


def _read_columns(cur: Any, sid: int, n_obj: int, sqlite: bool) -> pd.DataFrame:
    ph = "?" if sqlite else "%s"
    cur.execute(f"SELECT trial_id, number, state FROM trials WHERE study_id = {ph}", (sid,))
    heads = cur.fetchall()
    ids = np.fromiter((h[0] for h in heads), np.int64, len(heads))
    numbers = np.fromiter((h[1] for h in heads), np.int64, len(heads))
    order = np.argsort(numbers, kind="stable")
    ids, numbers = ids[order], numbers[order]
    states = [_state(heads[i][2]) for i in order]
    frame = pd.DataFrame({"number": numbers, "trial_id": ids, "state": pd.Categorical(states)})
    index = pd.Index(ids)
    mine = f"a.trial_id IN (SELECT trial_id FROM trials WHERE study_id = {ph})"

    # Objective values: one row per (trial, objective); non-finite ones are rare.
    values = np.full((len(ids), n_obj), np.nan)
    cur.execute(
        f"SELECT a.trial_id, a.objective, a.value FROM trial_values a WHERE {mine} "
        "AND a.value_type = 'FINITE'",
        (sid,),
    )
    got = np.array(cur.fetchall(), dtype=np.float64).reshape(-1, 3)
    cur.execute(
        f"SELECT a.trial_id, a.objective, a.value_type FROM trial_values a WHERE {mine} "
        "AND a.value_type <> 'FINITE'",
        (sid,),
    )
    inf = {"INF_POS": math.inf, "INF_NEG": -math.inf}
    odd = [(t, o, inf.get(getattr(k, "name", k), math.nan)) for t, o, k in cur.fetchall()]
    if odd:
        got = np.vstack([got, np.array(odd, dtype=np.float64)])
    rows = index.get_indexer(pd.Index(got[:, 0].astype(np.int64)))
    obj = got[:, 1].astype(np.int64)
    ok = (rows >= 0) & (obj < n_obj)
    values[rows[ok], obj[ok]] = got[ok, 2]
    for k in range(n_obj):
        frame[f"_v{k}"] = values[:, k]

    # Feasible: complete and no constraint > 0; the database finds the violators.
    bad = _violators(cur, sid, sqlite, mine)
    complete = (frame["state"] == "COMPLETE").to_numpy()
    frame["feasible"] = complete & ~np.isin(ids, np.fromiter(bad, np.int64, len(bad)))

    cur.execute(
        f"SELECT a.trial_id, a.value_json FROM trial_user_attributes a WHERE {mine} "
        f"AND a.key = {ph}",
        (sid, "duplicate_of"),
    )
    dup_of = np.zeros(len(ids), dtype=np.int64)
    has = np.zeros(len(ids), dtype=bool)
    pairs = [(t, v) for t, v in cur.fetchall() if v not in ("null", None)]
    if pairs:
        rows = index.get_indexer(pd.Index([t for t, _ in pairs], dtype=np.int64))
        dup_of[rows] = np.fromiter((int(v) for _, v in pairs), np.int64, len(pairs))
        has[rows] = True
    frame["duplicate_of"] = pd.arrays.IntegerArray(dup_of, ~has)
    return frame


def _violators(cur: Any, sid: int, sqlite: bool, mine: str) -> set[int]:
    """Trials with a constraint > 0, found by the database's JSON functions when it has them."""
    ph = "?" if sqlite else "%s"
    if sqlite:
        each = "json_each(a.value_json) j"
        positive = "j.value > 0"
    else:
        each = "LATERAL json_array_elements_text(CAST(a.value_json AS json)) j(v)"
        positive = "CAST(j.v AS double precision) > 0"
    try:
        cur.execute(
            f"SELECT DISTINCT a.trial_id FROM trial_system_attributes a, {each} "
            f"WHERE a.key = {ph} AND {positive} AND {mine}",
            (CONSTRAINTS_KEY, sid),
        )
        return {int(r[0]) for r in cur.fetchall()}
    except Exception:  # no JSON functions (or NaN in a constraint): decode in Python
        if not sqlite:
            cur.connection.rollback()
        cur.execute(
            f"SELECT a.trial_id, a.value_json FROM trial_system_attributes a WHERE {mine} "
            f"AND a.key = {ph}",
            (sid, CONSTRAINTS_KEY),
        )
        return {int(t) for t, v in cur.fetchall() if any(c > 0 for c in json.loads(v) or [])}


def load_trial_attrs(
    study: StudyData, numbers: Iterable[int] | None, keys: Sequence[str] = ATTR_KEYS
) -> pd.DataFrame:
    """Design points, metrics and measurements of trials ``numbers`` (None: all) of ``study``.

    Indexed by trial number, with the columns ``load_study_data`` gives those trials:
    ``param_<name>`` (searched), ``point_<key>`` (the rest of the point), ``metric_<key>``
    (metrics other than the objectives), ``measured_<key>``, ``build_status``.
    """
    frame = study.frame
    wanted = frame if numbers is None else frame[frame["number"].isin(set(numbers))]
    ids = [int(t) for t in wanted["trial_id"]]
    number_of = dict(zip(ids, (int(n) for n in wanted["number"]), strict=True))
    rows: dict[int, dict[str, Any]] = {n: {} for n in number_of.values()}
    if not ids:
        return pd.DataFrame(index=pd.Index([], name="number"))
    params = set(study.params)
    store = TrialStore(study.url, create=False)
    try:
        sid = store.study_id(study.name)
        with store.reader.connect() as conn:
            if numbers is None:  # the whole study: one query, no id list
                q = sa.text(
                    "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
                    "JOIN trials t ON t.trial_id = a.trial_id "
                    "WHERE t.study_id = :sid AND a.key IN :keys"
                ).bindparams(sa.bindparam("keys", expanding=True))
                batches: Iterable[Any] = [conn.execute(q, {"sid": sid, "keys": list(keys)})]
            else:
                q = sa.text(
                    "SELECT trial_id, key, value_json FROM trial_user_attributes "
                    "WHERE trial_id IN :ids AND key IN :keys"
                ).bindparams(
                    sa.bindparam("ids", expanding=True), sa.bindparam("keys", expanding=True)
                )
                batches = (
                    conn.execute(q, {"ids": ids[lo : lo + _CHUNK], "keys": list(keys)})
                    for lo in range(0, len(ids), _CHUNK)
                )
            for result in batches:
                for tid, key, text in result:
                    if tid in number_of:
                        _spread(rows[number_of[tid]], key, json.loads(text), params, study)
    finally:
        store.close()
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "number"
    return out


def _spread(row: dict[str, Any], key: str, value: Any, params: set[str], study: StudyData) -> None:
    if key == "point":
        for k, v in (value or {}).items():
            row[f"param_{k}" if k in params else f"point_{k}"] = v
    elif key == "metrics":
        for k, v in (value or {}).items():
            if k not in study.objectives:
                row[f"metric_{k}"] = v
    elif key == "measured":
        for k, v in (value or {}).items():
            row[f"measured_{k}"] = v
    elif key == "build":
        row["build_status"] = (value or {}).get("status")
    else:
        row[key] = value


def _state(value: Any) -> str:
    return getattr(value, "name", None) or str(value)


def study_times(url: str, study: str, window_s: float = 60.0) -> dict[str, Any]:
    """When the study started and last completed a trial (UTC), and trials done in the
    ``window_s`` seconds before that last completion: three aggregates, no per-trial rows."""
    t = TABLES.trials
    out: dict[str, Any] = {"first_start": None, "last_complete": None, "recent": 0}
    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(study)
        if sid is None:
            return out
        with store.reader.connect() as conn:
            first, last = conn.execute(
                sa.select(
                    sa.func.min(t.c.datetime_start), sa.func.max(t.c.datetime_complete)
                ).where(t.c.study_id == sid)
            ).one()
            if last is None:
                return out
            last = _naive(last)
            since = last - dt.timedelta(seconds=window_s)
            recent = conn.execute(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.study_id == sid, t.c.datetime_complete > since)
            ).scalar_one()
    finally:
        store.close()
    # Optuna stores naive UTC.
    out["first_start"] = _naive(first).replace(tzinfo=dt.UTC) if first is not None else None
    out["last_complete"] = last.replace(tzinfo=dt.UTC)
    out["recent"] = int(recent)
    return out


def _naive(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
