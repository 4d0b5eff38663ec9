"""Bulk reads of finished trials from Optuna's RDB tables.

Plain DB-API cursors, not SQLAlchemy rows: a 100,000-trial study is about a million rows, and
per-row Result overhead alone would take seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.trial import FrozenTrial, TrialState

from dse._optuna import trial_id
from dse.sweep import _batches


@dataclass
class StoredTrials:
    """Trials read back from storage, ordered by trial_id."""

    trials: list[FrozenTrial]
    trial_ids: list[int]


_FINISHED = {s.name: s for s in TrialState if s.is_finished()}
_VALUE = {
    "FINITE": float,
    "INF_POS": lambda _v: float("inf"),
    "INF_NEG": lambda _v: float("-inf"),
}
Rows = tuple[
    list[Any], dict[int, list[Any]], dict[int, dict[int, float]], dict[int, Any], dict[int, Any]
]


def load_trials(
    reader: sa.Engine,
    is_sqlite: bool,
    study_id: int,
    *,
    after_trial_id: int = -1,
    user_attrs: Iterable[str] | None = (),
    skip_ids: set[int] | None = None,
    datetimes: bool = False,
) -> StoredTrials:
    """Finished trials with ``trial_id > after_trial_id``, ordered by trial id.

    ``user_attrs``: keys to read (None = all; the default, none, keeps resume fast).
    ``datetimes``: parse start/complete times (a resume does not need them).
    """
    ph = "?" if is_sqlite else "%s"
    with reader.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = _read_rows(cur, ph, (study_id, after_trial_id), user_attrs, skip_ids or set())
        finally:
            cur.close()
    trials = _frozen(rows, datetimes)
    return StoredTrials(trials, [trial_id(t) for t in trials])


def load_history(reader: sa.Engine, is_sqlite: bool, study_id: int) -> StoredTrials:
    """Every finished trial, with only the ``duplicate_of`` user attribute, for a resume:
    from the cached batches (:mod:`dse.sweep._batches`) where they hold them, the rest
    read row by row; ordered by trial id, as :func:`load_trials` gives them."""
    ph = "?" if is_sqlite else "%s"
    with reader.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cached, finished = _batches.read(cur, ph, study_id)
        finally:
            cur.close()
    have = {trial_id(t) for t in cached}
    missing = finished - have
    if not missing:
        return StoredTrials(cached, [trial_id(t) for t in cached])
    rest = load_trials(
        reader,
        is_sqlite,
        study_id,
        after_trial_id=min(missing) - 1,
        user_attrs=("duplicate_of",),
        skip_ids=have,
    ).trials
    trials = sorted(cached + rest, key=trial_id)
    return StoredTrials(trials, [trial_id(t) for t in trials])


def _read_rows(
    cur: Any, ph: str, args: tuple[int, int], user_attrs: Iterable[str] | None, skip: set[int]
) -> Rows:
    """(trial heads, params, values, system attrs, user attrs) of the finished trials."""
    where = f"study_id = {ph} AND trial_id > {ph}"
    sub = f"trial_id IN (SELECT trial_id FROM trials WHERE {where})"
    cur.execute(
        "SELECT trial_id, number, state, datetime_start, datetime_complete "
        f"FROM trials WHERE {where} ORDER BY trial_id",
        args,
    )
    heads = [h for h in cur.fetchall() if h[0] not in skip and h[2] in _FINISHED]
    if not heads:
        return [], {}, {}, {}, {}
    cur.execute(
        "SELECT trial_id, param_name, param_value, distribution_json "
        f"FROM trial_params WHERE {sub} ORDER BY param_id",
        args,
    )
    params: dict[int, list[Any]] = {}
    for tid, name, value, js in cur.fetchall():
        params.setdefault(tid, []).append((name, value, js))
    cur.execute(
        f"SELECT trial_id, objective, value, value_type FROM trial_values WHERE {sub}", args
    )
    vals: dict[int, dict[int, float]] = {}
    for tid, obj, value, kind in cur.fetchall():
        vals.setdefault(tid, {})[obj] = _VALUE[kind](value)
    sys_attrs = _attrs(cur, "trial_system_attributes", sub, args, None, ph)
    usr_attrs = (
        _attrs(cur, "trial_user_attributes", sub, args, user_attrs, ph) if user_attrs != () else {}
    )
    return heads, params, vals, sys_attrs, usr_attrs


def _frozen(rows: Rows, datetimes: bool) -> list[FrozenTrial]:
    heads, params, vals, sys_attrs, usr_attrs = rows
    dists: dict[str, BaseDistribution] = {}  # one distribution object per JSON text
    # Trials with the same parameters and distributions share one ``distributions`` dict
    # (nothing mutates a finished trial's), so a search-space intersection compares each
    # distinct dict once (dse._optuna.seed_search_space); external values are decoded once
    # per (distribution, stored value).
    shared: dict[tuple[Any, ...], dict[str, BaseDistribution]] = {}
    external: dict[tuple[str, float], Any] = {}
    now = dt.datetime.now()
    trials: list[FrozenTrial] = []
    for tid, number, state, start, complete in heads:
        rows_of = params.get(tid, ())
        p_out: dict[str, Any] = {}
        for name, value, js in rows_of:
            key = (js, value)
            if key in external:
                p_out[name] = external[key]
                continue
            d = dists.get(js)
            if d is None:
                d = dists[js] = json_to_distribution(js)
            p_out[name] = external[key] = d.to_external_repr(value)
        sig = tuple((name, js) for name, _, js in rows_of)
        d_out = shared.get(sig)
        if d_out is None:
            d_out = shared[sig] = {name: dists[js] for name, js in sig}
        v = vals.get(tid)
        trials.append(
            FrozenTrial(
                number=number,
                state=_FINISHED[state],
                value=None,
                values=[v[k] for k in range(len(v))] if v else None,
                datetime_start=_local(start) if datetimes else now,
                datetime_complete=_local(complete) if datetimes else now,
                params=p_out,
                distributions=d_out,
                user_attrs=usr_attrs.get(tid, {}),
                system_attrs=sys_attrs.get(tid, {}),
                intermediate_values={},
                trial_id=tid,
            )
        )
    return trials


def _attrs(
    cur: Any, table: str, sub: str, args: tuple[Any, ...], keys: Iterable[str] | None, ph: str
) -> dict[int, dict[str, Any]]:
    q = f"SELECT trial_id, key, value_json FROM {table} WHERE {sub}"
    if keys is not None:
        keys = list(keys)
        q += f" AND key IN ({', '.join([ph] * len(keys))})"
        args = (*args, *keys)
    cur.execute(q, args)
    out: dict[int, dict[str, Any]] = {}
    # Most values repeat (generations, a duplicate's constraints): decode each text once.
    # The decoded objects are shared between trials; nothing mutates trial attributes.
    memo: dict[str, Any] = {}
    for tid, key, value in cur.fetchall():
        decoded = memo.get(value)
        if decoded is None:
            decoded = memo[value] = json.loads(value)
        out.setdefault(tid, {})[key] = decoded
    return out


def _local(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)
