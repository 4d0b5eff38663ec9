"""A compact copy of each persisted batch, so ``--resume`` does not rebuild a study row by row.

Optuna's schema spreads one trial over about a dozen rows (one per parameter, objective and
attribute); reading a 100,000-trial study back that way takes seconds before any Python
object exists. Every batch the sweep appends is therefore also written, in the same
transaction, as one JSON row of ``dse_trial_batches`` holding what the sweep's in-memory
history needs: trial id and number, state, parameters (internal form), values, system
attributes and ``duplicate_of``. The Optuna tables stay the record (``optuna.load_study``,
the dashboard and every other reader use only them); this table is a cache of them:

- a resume reads the batch rows first, then the study's trial ids and numbers; a cached
  trial must match the trials table exactly, or the whole cache is ignored; trials without
  a cached copy (a study written before this table, another writer, batches committed in
  between) are read from Optuna's tables as before;
- re-scoring trials (``rescore_trials``) drops the study's cache rows in its transaction,
  since their values and constraints change; creating a study drops rows left under its
  id (SQLite reuses the id of a deleted last study).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.trial import FrozenTrial, TrialState

META = sa.MetaData()
BATCHES = sa.Table(
    "dse_trial_batches",
    META,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("first_trial_id", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON, see encode()
)
_STATES = {s.name: s for s in TrialState}
_DUP = "duplicate_of"


def create_table(engine: sa.Engine) -> None:
    try:
        META.create_all(engine, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        # Two workers opening a new database at once: the other one created it first.
        if "already exists" not in str(exc) and not isinstance(exc, sa.exc.IntegrityError):
            raise


def encode(ids: Sequence[int], numbers: Sequence[int], trials: Sequence[FrozenTrial]) -> str:
    """One batch as JSON: ``cols`` = [[param name, distribution JSON], ...] and one row per
    trial: [trial id, number, state, [internal value or null per col], values or null,
    system attributes, duplicate_of (only when the trial has it)]."""
    cols: dict[tuple[str, str], int] = {}
    dist_json: dict[int, str] = {}
    rows: list[list[Any]] = []
    for tid, number, t in zip(ids, numbers, trials, strict=True):
        cells: dict[int, float] = {}
        for name, value in t.params.items():
            d = t.distributions[name]
            js = dist_json.get(id(d))
            if js is None:
                js = dist_json[id(d)] = distribution_to_json(d)
            col = cols.setdefault((name, js), len(cols))
            cells[col] = d.to_internal_repr(value)
        row: list[Any] = [tid, number, t.state.name, cells, t.values, t.system_attrs]
        if _DUP in t.user_attrs:
            row.append(t.user_attrs[_DUP])
        rows.append(row)
    for row in rows:  # columns are known only after every trial was seen
        cells = row[3]
        row[3] = [cells.get(c) for c in range(len(cols))]
    return json.dumps({"cols": [list(k) for k in cols], "trials": rows})


def write(
    conn: sa.Connection,
    study_id: int,
    ids: Sequence[int],
    numbers: Sequence[int],
    trials: Sequence[FrozenTrial],
) -> None:
    """Cache the batch just inserted (call inside the transaction that inserted it)."""
    if ids:
        data = encode(ids, numbers, trials)
        conn.execute(sa.insert(BATCHES).values(study_id=study_id, first_trial_id=ids[0], data=data))


def drop(conn: sa.Connection, study_id: int) -> None:
    """Forget a study's cached batches (its stored trials are about to change)."""
    conn.execute(sa.delete(BATCHES).where(BATCHES.c.study_id == study_id))


def read(cur: Any, ph: str, study_id: int) -> tuple[list[FrozenTrial], set[int]]:
    """(cached finished trials consistent with the trials table, ids of every finished
    trial of the study). Cached trials are ([], ...) when there is no usable cache.

    ``cur`` is a DB-API cursor; the batch rows are read before the trials table, so every
    cached trial was committed before that second read (both are written in one
    transaction) and must be there with the same number.
    """
    try:
        cur.execute(
            f"SELECT data FROM dse_trial_batches WHERE study_id = {ph} ORDER BY first_trial_id",
            (study_id,),
        )
        blobs = [r[0] for r in cur.fetchall()]
    except Exception:  # no such table: a database that no sweep of ours opened yet
        if ph != "?":
            cur.connection.rollback()
        blobs = []
    cur.execute(f"SELECT trial_id, number, state FROM trials WHERE study_id = {ph}", (study_id,))
    heads = {tid: (number, _state(state)) for tid, number, state in cur.fetchall()}
    finished = {tid for tid, (_, state) in heads.items() if state.is_finished()}
    trials = _decode(blobs)
    unique = len({t._trial_id for t in trials}) == len(trials)
    if not unique or any(heads.get(t._trial_id) != (t.number, t.state) for t in trials):
        # Stale or foreign rows (e.g. of a deleted study whose id was reused): trust only
        # Optuna's tables.
        return [], finished
    return trials, finished


def _decode(blobs: list[str]) -> list[FrozenTrial]:
    now = dt.datetime.now()  # a resume does not need the stored times (as in load_trials)
    trials: list[FrozenTrial] = []
    dists: dict[str, BaseDistribution] = {}
    # Per column layout (batches of one sweep mostly share one): one distributions dict per
    # set of present columns, external values decoded once, and one params dict per point.
    layouts: dict[tuple[tuple[str, str], ...], tuple[Any, Any, Any]] = {}
    for blob in blobs:
        doc = json.loads(blob)
        layout = tuple((name, js) for name, js in doc["cols"])
        cols = [(name, _dist(dists, js)) for name, js in layout]
        shared, external, points = layouts.setdefault(layout, ({}, {}, {}))
        for row in doc["trials"]:
            tid, number, state, cells, values, system_attrs = row[:6]
            point = tuple(cells)
            known = points.get(point)  # a repeated point shares its params dict too
            if known is None:
                known = points[point] = _params(cols, cells, shared, external)
            params, d_out = known
            trials.append(
                FrozenTrial(
                    number=number,
                    state=_STATES[state],
                    value=None,
                    values=values,
                    datetime_start=now,
                    datetime_complete=now,
                    params=params,
                    distributions=d_out,
                    user_attrs={_DUP: row[6]} if len(row) > 6 else {},
                    system_attrs=system_attrs,
                    intermediate_values={},
                    trial_id=tid,
                )
            )
    return trials


def _params(
    cols: list[tuple[str, BaseDistribution]],
    cells: list[Any],
    shared: dict[tuple[int, ...], dict[str, BaseDistribution]],
    external: dict[tuple[int, float], Any],
) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
    """(params, distributions) of one row's cells."""
    params: dict[str, Any] = {}
    present: list[int] = []
    for c, v in enumerate(cells):
        if v is None:
            continue
        present.append(c)
        key = (c, v)
        if key not in external:
            external[key] = cols[c][1].to_external_repr(v)
        params[cols[c][0]] = external[key]
    sig = tuple(present)
    d_out = shared.get(sig)
    if d_out is None:
        d_out = shared[sig] = {cols[c][0]: cols[c][1] for c in sig}
    return params, d_out


def _dist(known: dict[str, BaseDistribution], js: str) -> BaseDistribution:
    d = known.get(js)
    if d is None:
        d = known[js] = json_to_distribution(js)
    return d


def _state(value: Any) -> TrialState:
    name = getattr(value, "name", None) or str(value)
    return _STATES[name]
