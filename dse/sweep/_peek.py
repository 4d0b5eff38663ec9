"""Small reads a live dashboard repeats: a study's fingerprint, the constraints trials break."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from dse._optuna import CONSTRAINTS_KEY, TABLES
from dse.sweep._builds import BUILDS
from dse.sweep._store import TrialStore

_IDS_PER_QUERY = 500  # trial ids bound in one IN (...) list


def study_stamp(url: str, study: str) -> tuple[int, str, int]:
    """A cheap fingerprint of a study's content: (trials, last completion, build changes).

    Caches keyed on it see a sweep that is still writing at the next refresh, while an idle
    study is read once.
    """
    store = TrialStore(url, create=False)
    try:
        sid = store.study_id(study)
        if sid is None:
            return (0, "", 0)
        last = store.last_complete(sid)
        return (store.count(sid), last.isoformat() if last else "", _builds_stamp(store, sid))
    finally:
        store.close()


def _builds_stamp(store: TrialStore, sid: int) -> int:
    if not sa.inspect(store.reader).has_table(BUILDS.name):
        return 0
    with store.reader.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(), sa.func.max(BUILDS.c.finished_at), sa.func.max(BUILDS.c.started_at)
            ).where(BUILDS.c.study_id == sid)
        ).one()
    return hash((row[0], row[1], row[2])) & 0x7FFFFFFF


def violation_reasons(url: str, trial_ids: Sequence[int], names: Sequence[str]) -> dict[int, str]:
    """Per trial id: the study constraints it violates (``dse:constraints`` names with a
    value > 0), e.g. ``lut_util<=0.85; model_feasible``. Trials that violate none are left out.
    """
    out: dict[int, str] = {}
    if not trial_ids or not names:
        return out
    attrs = TABLES.trial_system_attrs
    ids = [int(t) for t in trial_ids]
    store = TrialStore(url, create=False)
    try:
        with store.reader.connect() as conn:
            for lo in range(0, len(ids), _IDS_PER_QUERY):
                q = sa.select(attrs.c.trial_id, attrs.c.value_json).where(
                    attrs.c.key == CONSTRAINTS_KEY,
                    attrs.c.trial_id.in_(ids[lo : lo + _IDS_PER_QUERY]),
                )
                for tid, text in conn.execute(q):
                    values = json.loads(text) or []
                    bad = [n for n, v in zip(names, values, strict=False) if v > 0]
                    if bad:
                        out[int(tid)] = "; ".join(bad)
    finally:
        store.close()
    return out
