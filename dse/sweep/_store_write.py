"""Bulk writes into Optuna's RDB tables: a finished batch appended in one transaction, and
complete trials re-scored in one transaction (readers see all or nothing)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from optuna.distributions import distribution_to_json
from optuna.trial import FrozenTrial

from dse._optuna import CONSTRAINTS_KEY, TABLES, stored_value
from dse.sweep import _batches

_T, _P, _V = TABLES.trials, TABLES.params, TABLES.values
_UA, _SA = TABLES.trial_user_attrs, TABLES.trial_system_attrs
_S, _SSA = TABLES.studies, TABLES.study_system_attrs
_CHUNK = 500  # trial ids bound in one IN (...) list


def rescore_trials(
    engine: sa.Engine,
    trial_ids: Sequence[int],
    values: Sequence[Sequence[float]],
    constraints: Sequence[Sequence[float]] | None,
    user_attrs: Sequence[Mapping[str, Any]],
) -> None:
    """Overwrite complete trials' objective values, constraints and some user attributes.

    For a calibrated sweep, whose last model re-scores the trials the earlier ones scored.
    """
    if not trial_ids:
        return
    ids = list(trial_ids)
    keys = sorted({k for a in user_attrs for k in a})
    with engine.begin() as conn:
        study_id = conn.execute(sa.select(_T.c.study_id).where(_T.c.trial_id == ids[0])).scalar()
        if study_id is not None:  # cached copies of the trials would go stale
            _batches.drop(conn, study_id)
        for lo in range(0, len(ids), _CHUNK):
            chunk = ids[lo : lo + _CHUNK]
            conn.execute(sa.delete(_V).where(_V.c.trial_id.in_(chunk)))
            if constraints is not None:
                conn.execute(
                    sa.delete(_SA).where(_SA.c.trial_id.in_(chunk), _SA.c.key == CONSTRAINTS_KEY)
                )
            if keys:
                conn.execute(sa.delete(_UA).where(_UA.c.trial_id.in_(chunk), _UA.c.key.in_(keys)))
        conn.execute(
            sa.insert(_V),
            [v for tid, vals in zip(ids, values, strict=True) for v in _values(tid, vals)],
        )
        if constraints is not None:
            cons = [{CONSTRAINTS_KEY: list(c)} for c in constraints]
            conn.execute(sa.insert(_SA), _attr_rows(ids, cons))
        attrs = _attr_rows(ids, user_attrs)
        if attrs:
            conn.execute(sa.insert(_UA), attrs)


def append_trials(
    engine: sa.Engine,
    lock_study_row: bool,
    study_id: int,
    trials: Sequence[FrozenTrial],
    max_total: int | None = None,
    study_attrs: Mapping[str, Any] | None = None,
) -> tuple[int, list[int]]:
    """Persist finished ``trials`` in one transaction; return (first number, trial ids).

    Numbers continue the study's count at commit time (``lock_study_row``: take the study
    row's lock first, where the connection's BEGIN does not lock the database). With
    ``max_total`` the batch is cut so the study never exceeds that many trials.
    ``study_attrs`` are study system attributes written unless already present.
    """
    with engine.begin() as conn:
        if lock_study_row:
            conn.execute(
                sa.select(_S.c.study_id).where(_S.c.study_id == study_id).with_for_update()
            )
        n0 = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(_T).where(_T.c.study_id == study_id)
            ).scalar_one()
        )
        if max_total is not None:
            trials = trials[: max(0, max_total - n0)]
        if not trials:
            return n0, []
        heads = [_head(study_id, n0 + i, t) for i, t in enumerate(trials)]
        result = conn.execute(
            sa.insert(_T).returning(_T.c.trial_id, sort_by_parameter_order=True), heads
        )
        ids = [int(r[0]) for r in result]
        for table, batch in _detail_rows(ids, trials):
            if batch:
                conn.execute(sa.insert(table), batch)
        _batches.write(conn, study_id, ids, range(n0, n0 + len(ids)), trials)
        if study_attrs:
            _add_study_attrs(conn, study_id, study_attrs)
    return n0, ids


def _head(study_id: int, number: int, t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": number,
        "study_id": study_id,
        "state": t.state,
        "datetime_start": _utc(t.datetime_start),
        "datetime_complete": _utc(t.datetime_complete),
    }


def _detail_rows(
    ids: Sequence[int], trials: Sequence[FrozenTrial]
) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
    """(table, rows) of the trials' params, values, user and system attributes."""
    params: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    dist_json: dict[int, str] = {}  # one JSON text per distribution object
    for tid, t in zip(ids, trials, strict=True):
        for name, value in t.params.items():
            d = t.distributions[name]
            js = dist_json.get(id(d))
            if js is None:
                js = dist_json[id(d)] = distribution_to_json(d)
            params.append(
                {
                    "trial_id": tid,
                    "param_name": name,
                    "param_value": d.to_internal_repr(value),
                    "distribution_json": js,
                }
            )
        values += _values(tid, t.values or ())
    return [
        (_P, params),
        (_V, values),
        (_UA, _attr_rows(ids, [t.user_attrs for t in trials])),
        (_SA, _attr_rows(ids, [t.system_attrs for t in trials])),
    ]


def _values(tid: int, vals: Sequence[float]) -> list[dict[str, Any]]:
    rows = []
    for k, v in enumerate(vals):
        stored, kind = stored_value(v)
        rows.append({"trial_id": tid, "objective": k, "value": stored, "value_type": kind})
    return rows


def _attr_rows(ids: Sequence[int], attrs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"trial_id": tid, "key": k, "value_json": json.dumps(v)}
        for tid, a in zip(ids, attrs, strict=True)
        for k, v in a.items()
    ]


def _add_study_attrs(conn: sa.Connection, study_id: int, attrs: Mapping[str, Any]) -> None:
    have = set(
        conn.execute(
            sa.select(_SSA.c.key).where(_SSA.c.study_id == study_id, _SSA.c.key.in_(list(attrs)))
        ).scalars()
    )
    rows = [
        {"study_id": study_id, "key": k, "value_json": json.dumps(v)}
        for k, v in attrs.items()
        if k not in have
    ]
    if rows:
        conn.execute(sa.insert(_SSA), rows)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # Optuna stores naive UTC (see optuna.storages._rdb.models.TrialModel.datetime_start).
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None)
