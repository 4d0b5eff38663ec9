"""The builds of a study, next to its trials: the ``dse_builds`` and ``dse_calibrations`` tables.

They live in the study's own database (SQLite or PostgreSQL), beside Optuna's tables, so one
URL holds everything the dashboard shows and a resumed sweep finds its unfinished builds.

``dse_builds`` has one row per requested build (a trial's design point rendered for one
template and flow). ``state`` moves ``queued`` -> ``running`` -> ``done`` | ``failed`` and
each change is committed at once, so a killed sweep knows which builds to re-queue (the
build cache then serves the ones that had finished). ``predicted`` holds the model's raw
values for the quantities a build measures, ``measured`` what the build reported; the
measured values are also attached to the trial as user attributes ``measured`` and
``build`` (the build's row id, host, status).

``dse_calibrations`` keeps every fitted correction (``dse.calibration``) with the build
count it was fitted on and the model's error before and after it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dse._optuna import TABLES
from dse.calibration import Correction

META = sa.MetaData()
BUILDS = sa.Table(
    "dse_builds",
    META,
    sa.Column("build_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("trial_number", sa.Integer),
    sa.Column("trial_id", sa.Integer),
    sa.Column("spec_key", sa.String(64), nullable=False, index=True),
    sa.Column("template", sa.String(128), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("part", sa.String(128), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: the template's parameters
    sa.Column("point", sa.Text, nullable=False),  # JSON: the design point (for a re-queue)
    sa.Column("state", sa.String(16), nullable=False),  # queued | running | done | failed
    sa.Column("status", sa.String(16)),  # BuildResult.status
    sa.Column("failure_class", sa.String(64)),
    sa.Column("first_error", sa.Text),
    sa.Column("host", sa.String(128)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("cached", sa.Boolean),
    sa.Column("bundle_hash", sa.String(64)),
    sa.Column("result_dir", sa.Text),
    sa.Column("predicted", sa.Text, nullable=False),  # JSON {metric: model value}
    sa.Column("measured", sa.Text),  # JSON {metric: measured value}
    sa.Column("reason", sa.Text),  # why the policy picked it ("rank 0, round 2")
    sa.Column("round", sa.Integer, nullable=False, default=0),
    sa.Column("queued_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
)
CALIBRATIONS = sa.Table(
    "dse_calibrations",
    META,
    sa.Column("calibration_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("fitted_at", sa.Float, nullable=False),
    sa.Column("n_builds", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("intercept", sa.Float, nullable=False),
    sa.Column("slope", sa.Float, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("spread", sa.Float, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("error_before", sa.Float),  # median |log(measured/predicted)|, raw model
    sa.Column("error_after", sa.Float),  # the same after this correction
)
_UA = TABLES.trial_user_attrs
FINAL_STATES = ("done", "failed")
JSON_COLUMNS = ("params", "point", "predicted", "measured")


@dataclass(frozen=True)
class BuildRow:
    """One row of ``dse_builds`` (JSON columns decoded)."""

    build_id: int
    study_id: int
    trial_number: int | None
    spec_key: str
    template: str
    flow: str
    part: str
    params: dict[str, Any]
    point: dict[str, Any]
    state: str
    predicted: dict[str, float]
    measured: dict[str, Any] | None
    round: int
    host: str | None = None
    status: str | None = None
    failure_class: str | None = None


class BuildsTable:
    """Read and write one database's build records (creates the tables when missing)."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or engine
        META.create_all(engine, checkfirst=True)

    # -- writing -------------------------------------------------------------------------

    def add(
        self,
        study_id: int,
        *,
        trial_number: int | None,
        trial_id: int | None,
        spec_key: str,
        template: str,
        flow: str,
        part: str,
        params: Mapping[str, Any],
        point: Mapping[str, Any],
        predicted: Mapping[str, float],
        reason: str = "",
        round: int = 0,
    ) -> int:
        """Record a queued build; returns its id."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    sa.insert(BUILDS)
                    .values(
                        study_id=study_id,
                        trial_number=trial_number,
                        trial_id=trial_id,
                        spec_key=spec_key,
                        template=template,
                        flow=flow,
                        part=part,
                        params=_dumps(params),
                        point=_dumps(point),
                        state="queued",
                        attempts=0,
                        predicted=_dumps(predicted),
                        reason=reason,
                        round=round,
                        queued_at=time.time(),
                    )
                    .returning(BUILDS.c.build_id)
                ).scalar_one()
            )

    def started(self, build_id: int, host: str, attempt: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(BUILDS)
                .where(BUILDS.c.build_id == build_id)
                .values(state="running", host=host, attempts=attempt, started_at=time.time())
            )

    def finished(self, build_id: int, result: Any, measured: Mapping[str, Any] | None) -> None:
        """Record a final ``BuildResult`` and attach the measurement to the build's trial."""
        now = time.time()
        values = {
            "state": "done" if result.ok else "failed",
            "status": result.status,
            "failure_class": result.failure_class,
            "first_error": result.first_error,
            "host": result.host or None,
            "cached": bool(result.cached),
            "bundle_hash": result.bundle_hash,
            "result_dir": result.result_dir,
            "measured": None if measured is None else _dumps(measured),
            "finished_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(sa.update(BUILDS).where(BUILDS.c.build_id == build_id).values(**values))
            row = conn.execute(
                sa.select(BUILDS.c.trial_id, BUILDS.c.started_at).where(
                    BUILDS.c.build_id == build_id
                )
            ).one()
            if row.started_at is None:
                conn.execute(
                    sa.update(BUILDS)
                    .where(BUILDS.c.build_id == build_id)
                    .values(started_at=now - float(result.duration_s or 0.0))
                )
            if row.trial_id is not None:
                attrs = {
                    "measured": dict(measured or {}),
                    "build": {
                        "build_id": build_id,
                        "status": result.status,
                        "failure_class": result.failure_class,
                        "flow": result.flow,
                        "host": result.host,
                        "result_dir": result.result_dir,
                    },
                }
                conn.execute(
                    sa.delete(_UA).where(_UA.c.trial_id == row.trial_id, _UA.c.key.in_(list(attrs)))
                )
                conn.execute(
                    sa.insert(_UA),
                    [
                        {"trial_id": row.trial_id, "key": k, "value_json": _dumps(v)}
                        for k, v in attrs.items()
                    ],
                )

    def requeued(self, build_ids: Iterable[int]) -> None:
        """Builds a killed sweep left queued/running are queued again by the new one."""
        ids = list(build_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(BUILDS)
                .where(BUILDS.c.build_id.in_(ids))
                .values(state="queued", started_at=None, host=None)
            )

    def save_calibration(
        self,
        study_id: int,
        corrections: Mapping[tuple[str, str], Correction],
        n_builds: int,
        errors: Mapping[tuple[str, str], tuple[float, float]],
    ) -> None:
        """Record one fit: a row per (metric, flow) correction."""
        if not corrections:
            return
        now = time.time()
        rows = []
        for key, c in corrections.items():
            before, after = errors.get(key, (math.nan, math.nan))
            rows.append(
                {
                    "study_id": study_id,
                    "fitted_at": now,
                    "n_builds": n_builds,
                    "metric": c.metric,
                    "flow": c.flow,
                    "intercept": c.intercept,
                    "slope": c.slope,
                    "n": c.n,
                    "spread": c.spread,
                    "method": c.method,
                    "error_before": _finite(before),
                    "error_after": _finite(after),
                }
            )
        with self.engine.begin() as conn:
            conn.execute(sa.insert(CALIBRATIONS), rows)

    # -- reading -------------------------------------------------------------------------

    def rows(
        self,
        study_id: int,
        states: Sequence[str] | None = None,
        build_ids: Sequence[int] | None = None,
    ) -> list[BuildRow]:
        q = sa.select(BUILDS).where(BUILDS.c.study_id == study_id).order_by(BUILDS.c.build_id)
        if states is not None:
            q = q.where(BUILDS.c.state.in_(list(states)))
        if build_ids is not None:
            q = q.where(BUILDS.c.build_id.in_(list(build_ids)))
        with self.reader.connect() as conn:
            out = []
            for r in conn.execute(q).mappings():
                out.append(
                    BuildRow(
                        build_id=r["build_id"],
                        study_id=r["study_id"],
                        trial_number=r["trial_number"],
                        spec_key=r["spec_key"],
                        template=r["template"],
                        flow=r["flow"],
                        part=r["part"],
                        params=json.loads(r["params"]),
                        point=json.loads(r["point"]),
                        state=r["state"],
                        predicted=json.loads(r["predicted"]),
                        measured=json.loads(r["measured"]) if r["measured"] else None,
                        round=r["round"],
                        host=r["host"],
                        status=r["status"],
                        failure_class=r["failure_class"],
                    )
                )
            return out

    def has_spec(self, study_id: int, spec_key: str) -> bool:
        """Whether the study already has a build of this key (another worker may have)."""
        with self.reader.connect() as conn:
            return (
                conn.execute(
                    sa.select(BUILDS.c.build_id).where(
                        BUILDS.c.study_id == study_id, BUILDS.c.spec_key == spec_key
                    )
                ).first()
                is not None
            )

    def frame(self, study_id: int) -> pd.DataFrame:
        """Every build of the study as a DataFrame (JSON columns decoded to dicts)."""
        return builds_frame(self.reader, study_id)

    def latest_corrections(self, study_id: int) -> dict[tuple[str, str], Correction]:
        """The corrections of the most recent fit (empty before the first)."""
        with self.reader.connect() as conn:
            last = conn.execute(
                sa.select(sa.func.max(CALIBRATIONS.c.fitted_at)).where(
                    CALIBRATIONS.c.study_id == study_id
                )
            ).scalar_one_or_none()
            if last is None:
                return {}
            rows = conn.execute(
                sa.select(CALIBRATIONS).where(
                    CALIBRATIONS.c.study_id == study_id, CALIBRATIONS.c.fitted_at == last
                )
            ).mappings()
            return {
                (r["metric"], r["flow"]): Correction(
                    r["metric"],
                    r["flow"],
                    r["intercept"],
                    r["slope"],
                    r["n"],
                    r["spread"],
                    r["method"],
                )
                for r in rows
            }


def builds_frame(engine: sa.Engine, study_id: int) -> pd.DataFrame:
    """``dse_builds`` rows of a study (an empty frame with the columns when there are none)."""
    if not sa.inspect(engine).has_table(BUILDS.name):
        return pd.DataFrame(columns=[c.name for c in BUILDS.columns])
    with engine.connect() as conn:
        df = pd.read_sql(
            sa.select(BUILDS).where(BUILDS.c.study_id == study_id).order_by(BUILDS.c.build_id),
            conn,
        )
    for col in JSON_COLUMNS:
        df[col] = [json.loads(v) if isinstance(v, str) and v else None for v in df[col]]
    return df


def calibrations_frame(engine: sa.Engine, study_id: int) -> pd.DataFrame:
    """Every fitted correction of a study, oldest first."""
    if not sa.inspect(engine).has_table(CALIBRATIONS.name):
        return pd.DataFrame(columns=[c.name for c in CALIBRATIONS.columns])
    with engine.connect() as conn:
        return pd.read_sql(
            sa.select(CALIBRATIONS)
            .where(CALIBRATIONS.c.study_id == study_id)
            .order_by(CALIBRATIONS.c.calibration_id),
            conn,
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
