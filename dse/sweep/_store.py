"""Bulk persistence of finished trials into Optuna's own RDB schema.

Optuna's ``RDBStorage`` writes a trial with a dozen small transactions (≈20 trials/s on
SQLite here). A sweep instead samples in memory and writes each finished batch with one
transaction of multi-row INSERTs into the very tables ``RDBStorage`` uses
(``dse._optuna.TABLES``), so ``optuna.load_study`` and ``optuna-dashboard`` read the
study normally. Trial numbers are assigned inside that transaction under a lock
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on the study row elsewhere), so
several worker processes sharing a study never collide. Loading (resume, refresh, the read
commands) is a handful of bulk SELECTs, not one API call per trial.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from dse._optuna import TABLES
from dse.errors import DseError
from dse.layout import ResultsLayout, layout, sqlite_path
from dse.sweep import _batches
from dse.sweep._store_load import StoredTrials, load_history, load_trials
from dse.sweep._store_write import append_trials, rescore_trials

_T = TABLES.trials
_UA = TABLES.trial_user_attrs
_S = TABLES.studies
_SUA = TABLES.study_user_attrs
_SSA = TABLES.study_system_attrs
_SD = TABLES.study_directions


def default_storage(name: str, results: ResultsLayout | str | Path | None = None) -> str:
    """``sqlite:///<results>/<name>/optuna.db`` (see :class:`dse.layout.ResultsLayout`)."""
    return layout(results).study_url(name)


class StorageError(DseError):
    """The storage URL cannot be opened (bad URL, server down, wrong credentials)."""


def _shown(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


class TrialStore:
    """One RDB storage URL: create/find studies, append finished batches, load trials."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        try:
            self._open(url, create)
            if not create:
                # A corrupt or foreign file fails here, naming its URL, not mid-command.
                with self.reader.connect() as conn:
                    conn.exec_driver_sql("SELECT count(*) FROM studies")
        except (
            sa.exc.DBAPIError,
            sa.exc.ArgumentError,
            sa.exc.NoSuchModuleError,
            optuna.exceptions.StorageInternalError,
        ) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            if isinstance(exc, sa.exc.DBAPIError) and not isinstance(exc, sa.exc.OperationalError):
                expected = "an Optuna database (restore it from a copy or remove it)"
            elif "no such table" in reason:
                expected = "an Optuna database (this one holds no studies table)"
            else:
                expected = (
                    "a reachable sqlite:///path or postgresql+psycopg://user@host:port/db URL"
                )
            raise StorageError(
                f"storage {_shown(url)}: cannot open it ({reason}); expected {expected}"
            ) from None

    def _open(self, url: str, create: bool) -> None:
        self.url = url
        path = sqlite_path(url)
        if path is not None:
            if not create and not path.exists():
                raise StorageError(f"storage {_shown(url)}: no such database file {path}")
            if path.exists() and not path.is_file():
                raise StorageError(
                    f"storage {_shown(url)}: {path} is not a file; expected an SQLite database"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"storage {_shown(url)}: cannot create {path.parent} ({exc.strerror or exc})"
                ) from None
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            # Other workers may hold the write lock for one batch; wait instead of failing.
            kwargs["connect_args"] = {"timeout": 120}
        self._kwargs = kwargs
        self._rdb: optuna.storages.RDBStorage | None = None
        if create:
            self.rdb  # noqa: B018 - creates the schema (and stamps its version) if missing
        self.engine = sa.create_engine(url, **kwargs)
        # Reads go through their own engine so they never take the SQLite write lock.
        self.reader = sa.create_engine(url, **kwargs) if self.is_sqlite else self.engine
        if self.is_sqlite:
            for engine, begin in ((self.engine, "BEGIN IMMEDIATE"), (self.reader, "BEGIN")):
                sa.event.listen(engine, "connect", _sqlite_connect)
                sa.event.listen(engine, "begin", _begin_with(begin))
        if create:
            _batches.create_table(self.engine)

    @property
    def rdb(self) -> optuna.storages.RDBStorage:
        """Optuna's own storage on the URL (creates the schema the first time)."""
        for attempt in range(5):
            if self._rdb is not None:
                break
            try:
                self._rdb = optuna.storages.RDBStorage(self.url, engine_kwargs=dict(self._kwargs))
            except (
                sa.exc.IntegrityError,
                sa.exc.OperationalError,
                sa.exc.ProgrammingError,
                optuna.exceptions.StorageInternalError,
            ) as exc:
                # Two workers created the schema at once: the other created a table, or
                # stamped the version, first ("already exists", a duplicate key); the schema
                # is there now. Anything else (a bad URL, a server down) is not retried.
                racing = isinstance(
                    exc, sa.exc.IntegrityError | optuna.exceptions.StorageInternalError
                ) or "already exists" in str(exc)
                if attempt == 4 or not racing:
                    raise
                time.sleep(0.2 * (attempt + 1))
        assert self._rdb is not None
        return self._rdb

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()
        if self._rdb is not None:
            self._rdb.engine.dispose()

    # -- studies -------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        directions: Sequence[str],
        user_attrs: Mapping[str, Any],
        system_attrs: Mapping[str, Any],
    ) -> int | None:
        """Create a study with its attributes in one transaction; None if the name exists.

        Atomic, so a second worker starting at the same moment never sees a half-made study.
        """
        self.rdb  # noqa: B018 - the schema must exist
        try:
            with self.engine.begin() as conn:
                sid = conn.execute(
                    sa.insert(_S).values(study_name=name).returning(_S.c.study_id)
                ).scalar_one()
                conn.execute(
                    sa.insert(_SD),
                    [
                        {"study_id": sid, "objective": i, "direction": StudyDirection[d.upper()]}
                        for i, d in enumerate(directions)
                    ],
                )
                _batches.drop(conn, sid)  # cached batches of a deleted study with this id
                for table, attrs in ((_SUA, user_attrs), (_SSA, system_attrs)):
                    if attrs:
                        conn.execute(
                            sa.insert(table),
                            [
                                {"study_id": sid, "key": k, "value_json": json.dumps(v)}
                                for k, v in attrs.items()
                            ],
                        )
        except sa.exc.IntegrityError:
            return None
        return int(sid)

    def study_id(self, name: str) -> int | None:
        with self.reader.connect() as conn:
            return conn.execute(
                sa.select(_S.c.study_id).where(_S.c.study_name == name)
            ).scalar_one_or_none()

    def study_names(self) -> list[str]:
        with self.reader.connect() as conn:
            return list(conn.execute(sa.select(_S.c.study_name).order_by(_S.c.study_id)).scalars())

    def study_user_attrs(self, study_id: int) -> dict[str, Any]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                sa.select(_SUA.c.key, _SUA.c.value_json).where(_SUA.c.study_id == study_id)
            )
            return {k: json.loads(v) for k, v in rows}

    def study_system_attrs(self, study_id: int, contains: str = "") -> dict[str, Any]:
        with self.reader.connect() as conn:
            q = sa.select(_SSA.c.key, _SSA.c.value_json).where(_SSA.c.study_id == study_id)
            if contains:
                q = q.where(_SSA.c.key.contains(contains))
            return {k: json.loads(v) for k, v in conn.execute(q)}

    def user_attr(self, trial_ids: Sequence[int], key: str) -> dict[int, Any]:
        """``key`` of each of ``trial_ids`` (those that have it)."""
        out: dict[int, Any] = {}
        with self.reader.connect() as conn:
            for lo in range(0, len(trial_ids), 500):
                chunk = list(trial_ids[lo : lo + 500])
                rows = conn.execute(
                    sa.select(_UA.c.trial_id, _UA.c.value_json).where(
                        _UA.c.key == key, _UA.c.trial_id.in_(chunk)
                    )
                )
                out.update({tid: json.loads(v) for tid, v in rows})
        return out

    def trial_numbers(self, trial_ids: Sequence[int]) -> dict[int, int]:
        """trial id -> trial number."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                sa.select(_T.c.trial_id, _T.c.number).where(_T.c.trial_id.in_(list(trial_ids)))
            )
            return {int(t): int(n) for t, n in rows}

    def count(self, study_id: int) -> int:
        with self.reader.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(_T).where(_T.c.study_id == study_id)
                ).scalar_one()
            )

    def last_complete(self, study_id: int) -> dt.datetime | None:
        with self.reader.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(_T.c.datetime_complete)).where(_T.c.study_id == study_id)
            ).scalar_one_or_none()
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)

    # -- writing and reading in bulk (``_store_write``, ``_store_load``) --------------------

    def rescore(
        self,
        trial_ids: Sequence[int],
        values: Sequence[Sequence[float]],
        constraints: Sequence[Sequence[float]] | None,
        user_attrs: Sequence[Mapping[str, Any]],
    ) -> None:
        """Overwrite complete trials' values, constraints and some user attributes."""
        rescore_trials(self.engine, trial_ids, values, constraints, user_attrs)

    def append(
        self,
        study_id: int,
        trials: Sequence[FrozenTrial],
        max_total: int | None = None,
        study_attrs: Mapping[str, Any] | None = None,
    ) -> tuple[int, list[int]]:
        """Persist finished ``trials`` in one transaction; return (first number, trial ids)."""
        lock = not self.is_sqlite  # SQLite's BEGIN IMMEDIATE already holds the write lock
        return append_trials(self.engine, lock, study_id, trials, max_total, study_attrs)

    def load_history(self, study_id: int) -> StoredTrials:
        """Every finished trial with its ``duplicate_of`` attribute, for a resume: fast
        from the cached batches (``_batches``), row by row for the rest."""
        return load_history(self.reader, self.is_sqlite, study_id)

    def load(
        self,
        study_id: int,
        *,
        after_trial_id: int = -1,
        user_attrs: Iterable[str] | None = (),
        skip_ids: set[int] | None = None,
        datetimes: bool = False,
    ) -> StoredTrials:
        """Finished trials with ``trial_id > after_trial_id``, ordered by trial id."""
        return load_trials(
            self.reader,
            self.is_sqlite,
            study_id,
            after_trial_id=after_trial_id,
            user_attrs=user_attrs,
            skip_ids=skip_ids,
            datetimes=datetimes,
        )


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred
    # BEGIN: the count-then-insert of append() must hold the write lock from the start, or
    # two workers could read the same count.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints instead of at every commit: a killed sweep
    # still loses nothing it committed (the WAL is in the file system); only a power cut
    # or OS crash may drop the last batches, which a resume then samples again identically.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _begin_with(statement: str) -> Any:
    def begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(statement)

    return begin


__all__ = ["StoredTrials", "TrialState", "TrialStore", "default_storage", "sqlite_path"]
