"""The searcher of the trial loop: ask a batch of points, tell it their scores, re-score.

It keeps the study's trials in an in-memory Optuna study (the sampler's history) with one
:class:`Record` per trial — memory trial ``i`` is ``records[i]`` — and the Pareto front of
the feasible ones. Identical points are scored once per calibration: a repeat copies the
first trial's values (``duplicate_of``). It knows nothing of builds; it is told when the
scorer's calibration changed (:meth:`Searcher.rescore`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

from dse import _optuna
from dse._optuna import (
    CONSTRAINTS_KEY,
    PARENT_TAG,
    HistoryStorage,
    generation_key,
    is_ga,
    seed_search_space,
    study_storage,
    tell,
    trial_id,
)
from dse.config import StudyConfig
from dse.pareto import pareto_mask
from dse.scoring import Score, Scorer, plain
from dse.space import point_key
from dse.sweep._history import memory_study
from dse.sweep._samplers import BatchSampler, Enumerator, GridRows, batch_seed, make_batch_sampler
from dse.sweep._store import TrialStore

__all__ = ["CONSTRAINTS_KEY", "Asked", "Candidates", "Record", "Searcher"]


@dataclass(slots=True)
class Record:
    """What the loop knows of one trial of the study."""

    values: list[float] | None
    constraints: list[float]
    metrics: dict[str, Any] | None
    feasible: bool
    version: int  # the calibration it was scored under
    db_id: int = -1  # its trial id in storage (-1: not stored, e.g. over the budget)


class Candidates(NamedTuple):
    """Feasible stored trials scored under the current calibration (for the build scheduler)."""

    values: np.ndarray  # (n, objectives)
    trial_ids: list[int]  # their ids in storage


@dataclass
class Asked:
    """One asked batch: the trials, their points and which of them need the model."""

    trials: list[Any]
    rows: list[dict[str, Any]]  # searched parameters, design units
    keys: list[tuple[Any, ...]]
    new: list[int] = field(default_factory=list)  # rows to score (first of their key)
    first: dict[tuple[Any, ...], int] = field(default_factory=dict)


class Searcher:
    """Ask/tell over one study's in-memory history (see the module docstring)."""

    def __init__(self, cfg: StudyConfig, batch: int, store: TrialStore, study_id: int) -> None:
        self.cfg, self.space, self.batch = cfg, cfg.space, batch
        self.store, self.study_id = store, study_id
        self.directions = [o.direction for o in cfg.objectives]
        self.k = len(self.directions)
        self.has_constraints = bool(cfg.constraints.names())
        self.memory = memory_study(cfg.name, self.directions)
        self.mem: HistoryStorage = study_storage(self.memory)
        self.mem_id = _optuna.study_id(self.memory)
        self.records: list[Record] = []
        self.first: dict[tuple[Any, ...], int] = {}  # point key -> its first trial
        self.version = 0  # calibration the next scores are under
        self.generations: dict[int, int] = {}  # GA: finished trials per generation
        self.members: dict[int, list[int]] = {}  # GA: complete trials of each generation
        self.gen_key = generation_key(cfg.sampler.name)
        self.front = np.empty((0, self.k))
        self.intersection = IntersectionSearchSpace()
        self.grid: GridRows | None = None
        self.saved_attrs: set[str] = set()
        self.track_calibration = False  # builds calibrate: say which model scored a trial

    @property
    def n(self) -> int:
        return len(self.records)

    def n_feasible(self) -> int:
        return sum(r.feasible for r in self.records)

    # -- history -------------------------------------------------------------------------

    def absorb(self, trials: Sequence[FrozenTrial], ids: Sequence[int]) -> None:
        """Add persisted trials (resume, other workers) to memory and the caches."""
        if not trials:
            return
        empty = self.n == 0
        self.mem.append_finished(self.mem_id, trials)
        if empty:  # a resume: the search space in one pass over distinct distributions
            seed_search_space(self.intersection, self.memory, trials)
        front: list[list[float]] = []
        for t, db_id in zip(trials, ids, strict=True):
            if self._remember(t, None, "duplicate_of" in t.user_attrs, db_id):
                front.append(list(t.values or ()))
            t.user_attrs = {}  # as in an uninterrupted run's memory (see tell)
        self._grow_front(front)

    def restore_parent_caches(self, attrs: dict[str, list[int]]) -> None:
        """GA parent caches (study system attrs, database trial ids): without them the
        sampler would rebuild every generation's parents recursively."""
        mem_id = {r.db_id: i for i, r in enumerate(self.records)}
        for key, ids in attrs.items():
            if all(i in mem_id for i in ids):
                self.mem.set_study_system_attr(self.mem_id, key, [mem_id[i] for i in ids])
                self.saved_attrs.add(key)

    def new_study_attrs(self) -> dict[str, Any]:
        """GA parent caches created since the last call, with database trial ids."""
        attrs = self.mem.get_study_system_attrs(self.mem_id)
        return {
            key: [self.records[i].db_id for i in ids]
            for key, ids in attrs.items()
            if PARENT_TAG in key and key not in self.saved_attrs
        }

    def stored(self, done: Sequence[FrozenTrial], ids: Sequence[int], attrs: set[str]) -> None:
        """The last told batch was persisted: ``ids`` of its first trials (the rest were
        over the study's budget)."""
        for r, db_id in zip(self.records[self.n - len(done) :], ids, strict=False):
            r.db_id = db_id
        self.saved_attrs.update(attrs)

    def _remember(
        self, t: FrozenTrial, metrics: dict[str, Any] | None, duplicate: bool, db_id: int = -1
    ) -> bool:
        """Record a finished trial; True when it is a new feasible point (front candidate)."""
        idx = self.n
        cons = list(t.system_attrs.get(CONSTRAINTS_KEY) or [])
        ok = t.state == TrialState.COMPLETE and all(c <= 0 for c in cons)
        values = list(t.values) if t.values is not None else None
        self.records.append(Record(values, cons, metrics, ok, self.version, db_id))
        if t.state == TrialState.COMPLETE:
            gen = t.system_attrs.get(self.gen_key) if self.gen_key else None
            if gen is not None:
                self.generations[gen] = self.generations.get(gen, 0) + 1
                self.members.setdefault(gen, []).append(idx)
            key = point_key(t.params)
            if not self._cached(key) and not duplicate:
                self.first[key] = idx
                return ok and t.values is not None and not duplicate
        return False

    def _cached(self, key: tuple[Any, ...]) -> bool:
        """A point scored under the current calibration (its values can be reused)."""
        idx = self.first.get(key)
        return idx is not None and self.records[idx].version == self.version

    def _grow_front(self, rows: list[list[float]]) -> None:
        values = np.asarray(rows, dtype=np.float64).reshape(-1, self.k)
        if len(values) == 0:
            return
        both = np.vstack([self.front, values])
        self.front = both[pareto_mask(both, self.directions)]

    # -- ask / tell ----------------------------------------------------------------------

    def ask(self, size: int) -> Asked:
        """Ask ``size`` trials of the in-memory study with this batch's sampler."""
        study = self.memory
        study.sampler = self._sampler(self.n)
        trials = [study.ask() for _ in range(size)]
        asked = Asked(
            trials,
            [self.space.suggest_params(t) for t in trials],
            [point_key(t.params) for t in trials],
        )
        for i, k in enumerate(asked.keys):
            if not self._cached(k) and k not in asked.first:
                asked.first[k] = i
                asked.new.append(i)
        return asked

    def tell(self, asked: Asked, scores: Sequence[Score], scorer: Scorer) -> list[FrozenTrial]:
        """Tell the batch its scores (``scores``: of ``asked.new``, in order); return the
        finished trials with the user attributes to persist."""
        by_row = dict(zip(asked.new, scores, strict=True))
        extra = [self._told(asked, i, t, by_row, scorer) for i, t in enumerate(asked.trials)]
        self._fill_metrics(extra)
        done: list[FrozenTrial] = []
        front: list[list[float]] = []
        for t, attrs in zip(asked.trials, extra, strict=True):
            ft = self.mem.get_trial(trial_id(t))
            if self._remember(ft, attrs.get("metrics"), "duplicate_of" in attrs):
                front.append(ft.values)
            ft = copy.copy(ft)
            ft.user_attrs = attrs
            done.append(ft)
        self._grow_front(front)
        return done

    def _told(
        self, asked: Asked, i: int, t: Any, by_row: dict[int, Score], scorer: Scorer
    ) -> dict[str, Any]:
        # User attributes go only to the persisted copies: the in-memory trials stay small,
        # since Study.tell deep-copies each one (and samplers never read user attrs).
        attrs: dict[str, Any] = {}
        key = asked.keys[i]
        if i in by_row:
            s = by_row[i]
        elif key in asked.first:
            s = by_row[asked.first[key]]
            attrs["duplicate_of"] = asked.trials[asked.first[key]].number
        else:
            idx = self.first[key]
            r = self.records[idx]
            s = Score(r.values, r.constraints, r.metrics, scorer.derive_one(asked.rows[i]))
            attrs["duplicate_of"] = idx
        attrs["point"] = {
            k: plain(v) for k, v in {**self.cfg.design, **asked.rows[i], **s.derived}.items()
        }
        if self.track_calibration:
            attrs["calibration"] = self.version  # which model scored it
        if s.error is not None or s.values is None:
            attrs["error"] = s.error or "not evaluated"
            tell(self.memory, t, None, TrialState.FAIL)
        else:
            attrs["metrics"] = s.metrics
            if self.has_constraints:
                self.mem.set_trial_system_attr(trial_id(t), CONSTRAINTS_KEY, s.constraints)
            tell(self.memory, t, s.values, None)
        return attrs

    def _fill_metrics(self, extra: list[dict[str, Any]]) -> None:
        """Duplicates of trials loaded from storage copy their metrics from the database."""
        missing = {
            a["duplicate_of"]
            for a in extra
            if "metrics" in a and a["metrics"] is None and "duplicate_of" in a
        }
        if not missing:
            return
        got = self.store.user_attr([self.records[i].db_id for i in missing], "metrics")
        for i in missing:
            self.records[i].metrics = got.get(self.records[i].db_id)
        for a in extra:
            if "metrics" in a and a["metrics"] is None and "duplicate_of" in a:
                a["metrics"] = self.records[a["duplicate_of"]].metrics

    def _sampler(self, n_done: int) -> Any:
        cfg = self.cfg
        if cfg.sampler.name in ("grid", "exhaustive"):
            if self.grid is None:
                self.grid = GridRows(self.space, cfg.seed if cfg.sampler.name == "grid" else None)
            return Enumerator(self.grid.rows(n_done, self.batch))
        sampler = make_batch_sampler(cfg, batch_seed(cfg.seed, n_done))
        generation = None
        population = getattr(sampler, "population_size", None)
        if is_ga(sampler) and population:
            generation = self._next_generation(population)
        return BatchSampler(sampler, self.intersection, generation, self._population)

    def _population(self, generation: int) -> list[FrozenTrial]:
        """GA: the complete trials of ``generation``, in trial order."""
        return self.mem.trials_numbered(self.mem_id, self.members.get(generation, []))

    def _next_generation(self, population: int) -> int:
        # Optuna's rule (BaseGASampler.get_trial_generation) on the finished trials.
        if not self.generations:
            return 0
        top = max(self.generations)
        return top if self.generations[top] < population else top + 1

    # -- re-scoring ----------------------------------------------------------------------

    def rescore(self, scorer: Scorer) -> None:
        """Score every complete in-memory trial again under the scorer's calibration.

        The sampler learns from its history, so trials the raw model called feasible at a
        clock the builds have shown unreachable would keep it searching there.
        """
        self.version = scorer.calibration.version
        trials = self.mem.get_all_trials(self.mem_id, deepcopy=False)
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        if not done:
            return
        scores = scorer.score([self.space.decode(t.params) for t in done])
        front: list[list[float]] = []
        for t, s in zip(done, scores, strict=True):
            if s.error is not None or s.values is None:
                continue  # keeps its old values; the model cannot score it now
            t.values = s.values
            if self.has_constraints:
                t.system_attrs[CONSTRAINTS_KEY] = s.constraints
            r = self.records[t.number]
            r.values, r.constraints, r.metrics = s.values, s.constraints, s.metrics
            r.feasible, r.version = s.feasible, self.version
            if r.feasible and self.first.get(point_key(t.params)) == t.number:
                front.append(s.values)
        self.front = np.empty((0, self.k))
        self._grow_front(front)

    def candidates(self) -> Candidates:
        """Stored feasible trials, those scored by the current calibration when there are any
        (one the raw model thought feasible may be what the last builds just ruled out)."""
        current = any(r.version == self.version for r in self.records)
        keep = [
            r
            for r in self.records
            if r.feasible
            and r.values is not None
            and r.db_id >= 0
            and (not current or r.version == self.version)
        ]
        values = np.array([r.values for r in keep], dtype=np.float64).reshape(-1, self.k)
        return Candidates(values, [r.db_id for r in keep])
