"""The sweep loop: sample a batch in memory, score it in one vectorised call, persist it.

Per batch:

1. pick up trials other workers persisted since the last batch;
2. build the sampler afresh, seeded from ``(seed, trials already in the study)``: a run
   resumed after a crash therefore samples exactly what the uninterrupted run would have;
3. ask ``batch`` trials of the in-memory study; identical points are looked up in a cache
   of every point seen in the study, the rest are scored by one ``cost_models.evaluate``;
4. tell each trial its objective values, its constraint values (the ``constraints`` system
   attribute Optuna's samplers read) and the design point / metrics as user attributes;
5. persist the batch in one transaction (:class:`~dse.sweep._store.TrialStore`).

A trial is on disk only once its whole batch is, so ``kill -9`` loses at most the batch in
flight, which a resume then samples again identically. SIGINT/SIGTERM finish and persist
the current batch, then stop.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.samplers import BaseSampler
from optuna.samplers._ga import BaseGASampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

import cost_models as cm
from dse.config import StudyConfig
from dse.errors import DseError
from dse.pareto import pareto_mask
from dse.space import SearchSpace, is_numeric, point_key
from dse.sweep._buildloop import BuildLoop, BuildSummary
from dse.sweep._history import HistoryStorage, memory_study
from dse.sweep._store import TrialStore, default_storage

CONSTRAINTS_KEY = "constraints"  # the system attribute Optuna's samplers read
_PARENT_TAG = ":parent:"  # BaseGASampler's parent-population cache keys contain this
# Design-point metrics kept with every trial (plus the objective and constraint metrics).
KEY_METRICS = (
    "decode_tokens_per_s",
    "prefill_latency_s",
    "decode_latency_s_per_token",
    "power_w",
    "energy_per_token_j",
    "achievable_clock_mhz",
    "hbm_bw_util",
    *(f"{r}_util" for r in cm.RESOURCES),
    "n_fpga",
    "feasible",
    "violations",
)
# Sections whose change makes old trials meaningless for the new config.
FINGERPRINT_KEYS = (
    "workload",
    "platform",
    "arch",
    "baseline",
    "design",
    "space",
    "derived",
    "objectives",
    "constraints",
)
# auto/moea: the model-level search has its own batch (dse.search); 16 is auto's TPE fallback.
DEFAULT_BATCH = {
    "tpe": 16,
    "gp": 8,
    "random": 256,
    "grid": 1024,
    "exhaustive": 1024,
    "auto": 16,
    "moea": 16384,
}


class StudyExists(DseError):
    """The study already has trials and ``--resume`` was not given."""


class StudyMismatch(DseError):
    """``--resume`` on a study created from a different config."""


@dataclass(frozen=True)
class SweepSummary:
    n_trials: int
    n_new: int
    n_feasible: int
    pareto_size: int
    elapsed_s: float
    trials_per_s: float
    storage_url: str
    study_name: str
    n_evaluated: int = 0
    n_duplicates: int = 0
    load_s: float = 0.0
    interrupted: bool = False
    builds: BuildSummary | None = None
    search: str = ""  # model-level search (dse.search): what it did, one line


@dataclass
class _Seen:
    """Everything known about the study's trials that the loop needs, by point key."""

    first: dict[tuple[Any, ...], int] = field(default_factory=dict)  # key -> trial index
    values: list[list[float] | None] = field(default_factory=list)
    constraints: list[list[float]] = field(default_factory=list)
    metrics: list[dict[str, Any] | None] = field(default_factory=list)
    feasible: list[bool] = field(default_factory=list)
    version: list[int] = field(default_factory=list)  # calibration a trial was scored under


def fingerprint(cfg: StudyConfig) -> str:
    doc = {k: cfg.resolved.get(k) for k in FINGERPRINT_KEYS}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def input_digests(cfg: StudyConfig) -> dict[str, str]:
    """Digests of what the config points to, as resolved: the workload (the shape a preset,
    a config.json or shape: gives, and the scenario), the platform data and the GPU baseline.

    The fingerprint covers the config's own text, which still reads ``hf_config: config.json``
    or ``platform: board.yaml`` after those files are edited; these digests change with them.
    """
    parts: dict[str, Any] = {"workload": cfg.workload, "platform": cfg.platform}
    if cfg.baseline is not None:
        parts["baseline"] = cfg.baseline
    return {
        k: hashlib.sha256(
            json.dumps(dataclasses.asdict(v), sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        for k, v in parts.items()
    }


def _changed_inputs(cfg: StudyConfig, recorded: Mapping[str, Any]) -> str:
    """Which resolved inputs differ from the ones a study was created with, in words."""
    now = input_digests(cfg)
    words = {
        "workload": f"the workload ({_workload_source(cfg)}) resolves to another model shape",
        "platform": f"the platform data of {cfg.resolved.get('platform')!r}",
        "baseline": f"the GPU baseline data of {cfg.resolved.get('baseline', 'a100')!r}",
    }
    keys = sorted(set(now) | set(recorded))
    return "; ".join(words.get(k, k) for k in keys if now.get(k) != recorded.get(k))


def _workload_source(cfg: StudyConfig) -> str:
    spec = cfg.resolved.get("workload") or {}
    for key in ("hf_config", "model"):
        if isinstance(spec, Mapping) and key in spec:
            return f"{key}: {spec[key]}"
    return "shape:"


def batch_seed(seed: int, n_done: int) -> int:
    """The sampler seed of the batch that starts after ``n_done`` trials."""
    return int(np.random.SeedSequence([seed, n_done]).generate_state(1)[0] & 0x7FFFFFFF)


def make_batch_sampler(cfg: StudyConfig, seed: int) -> BaseSampler:
    """A fresh sampler for one batch (constraints reach it through the trials' attrs)."""
    from dse.samplers import make_sampler

    return make_sampler(cfg.sampler, cfg.space, seed, len(cfg.objectives), None)


def default_batch_size(cfg: StudyConfig) -> int:
    if cfg.batch_size is not None:
        return cfg.batch_size
    name = cfg.sampler.name
    if name in DEFAULT_BATCH:
        return DEFAULT_BATCH[name]
    # GA samplers: one batch = one generation of offspring.
    size = make_batch_sampler(cfg, 0)
    return int(getattr(size, "population_size", None) or 50)


class _BatchSampler(BaseSampler):
    """Wraps the configured sampler for one batch, removing Optuna's O(n)-per-ask work.

    Every trial of a batch is asked while the others of the batch are still running, so
    the finished history a sampler sees is the same for the whole batch. Hence, exactly as
    the wrapped sampler would compute them:

    - one ``IntersectionSearchSpace`` is shared across batches and updated incrementally
      (a fresh sampler would rescan every trial);
    - for NSGA-II/III the generation (Optuna's ``BaseGASampler.get_trial_generation`` rule)
      and its parent population are computed once per batch instead of per ask.
    """

    def __init__(
        self, inner: BaseSampler, intersection: IntersectionSearchSpace, generation: int | None
    ) -> None:
        self.inner, self.generation = inner, generation
        for attr in ("_search_space", "_intersection_search_space"):
            current = getattr(inner, attr, None)
            if type(current) is IntersectionSearchSpace and not current._include_pruned:
                setattr(inner, attr, intersection)
        self.ga = (
            isinstance(inner, BaseGASampler)
            and generation is not None
            and type(inner).sample_relative in _GA_SAMPLE_RELATIVE
        )
        self.parents: list[FrozenTrial] | None = None
        self.space: Any = None

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> Any:
        if self.space is None:
            self.space = self.inner.infer_relative_search_space(study, trial)
        return dict(self.space)

    def sample_relative(self, study: Any, trial: FrozenTrial, space: Any) -> Any:
        if not self.ga:
            return self.inner.sample_relative(study, trial, space)
        inner: Any = self.inner
        if self.parents is None:
            self.parents = inner.get_parent_population(study, self.generation)
        if not self.parents:
            return {}
        return inner._child_generation_strategy(study, space, self.parents)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return self.inner.sample_independent(study, trial, name, dist)

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        if isinstance(self.inner, BaseGASampler) and self.generation is not None:
            key = self.inner._get_generation_key()
            study._storage.set_trial_system_attr(trial._trial_id, key, self.generation)
            trial.system_attrs[key] = self.generation
        self.inner.before_trial(study, trial)

    def after_trial(self, study: Any, trial: FrozenTrial, state: Any, values: Any) -> None:
        self.inner.after_trial(study, trial, state, values)


_GA_SAMPLE_RELATIVE = (
    optuna.samplers.NSGAIISampler.sample_relative,
    optuna.samplers.NSGAIIISampler.sample_relative,
)


class _Enumerator(BaseSampler):
    """Hands out given points in order: the ``grid``/``exhaustive`` samplers."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = iter(rows)
        self.by_trial: dict[int, dict[str, Any]] = {}  # a batch is asked before it samples

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: FrozenTrial, space: Any) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self.by_trial[trial._trial_id] = next(self.rows)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return self.by_trial[trial._trial_id][name]


class Sweep:
    """One sweep process on one study (see :func:`run_sweep`)."""

    def __init__(
        self,
        cfg: StudyConfig,
        *,
        trials: int | None,
        timeout_s: float | None,
        storage: str | None,
        resume: bool,
        builds: bool = True,
        hosts: Path | None = None,
        ray_address: str | None = None,
        cache_root: Path | str = "results/builds",
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not cfg.space:
            raise DseError(
                f"{cfg.source}: space: missing; `dse sweep` needs at least one searched "
                "parameter under space:"
            )
        budget = cfg.budget
        self.target = trials if trials is not None else (budget.trials if budget else None)
        self.timeout = (
            timeout_s if timeout_s is not None else (budget.timeout_s if budget else None)
        )
        if self.target is None and self.timeout is None:
            raise DseError(
                f"{cfg.source}: budget: missing; set budget.trials / budget.timeout_s or pass "
                "--trials / --timeout"
            )
        self.cfg = cfg
        self.space: SearchSpace = cfg.space
        self.url = storage or cfg.storage or default_storage(cfg.name)
        self.metrics = [o.metric for o in cfg.objectives]
        self.directions = [o.direction for o in cfg.objectives]
        self.constraint_names = cfg.constraints.names()
        self.batch = default_batch_size(cfg)
        self.specs = cm.param_specs(cfg.arch, cfg.platform)
        self.store = TrialStore(self.url)
        self.study_id = self._open_study(resume)
        self.memory = memory_study(cfg.name, self.directions)
        self.mem_storage: HistoryStorage = self.memory._storage  # type: ignore[assignment]
        self.seen = _Seen()
        self.generations: dict[int, int] = {}  # GA: finished trials per generation
        self.front = np.empty((0, len(self.metrics)))
        self.last_id = -1
        self.own_ids: set[int] = set()
        self.grid: dict[str, np.ndarray] | None = None
        self.stop = threading.Event()
        self.intersection = IntersectionSearchSpace()
        # In-memory trial id -> database trial id (to persist GA parent caches portably).
        self.db_ids: list[int] = []
        self.saved_attrs: set[str] = set()
        # Builds (``build:``): created after load(), which they need; see _buildloop.
        self.want_builds = builds and cfg.build is not None
        self.hosts, self.ray_address, self.cache_root, self.log = (
            hosts,
            ray_address,
            cache_root,
            log,
        )
        self.builds: BuildLoop | None = None
        self.calib_version = 0

    # -- study ---------------------------------------------------------------------------

    def _open_study(self, resume: bool) -> int:
        cfg = self.cfg
        study_id = self.store.study_id(cfg.name)
        if study_id is not None and not resume:
            n = self.store.count(study_id)
            raise StudyExists(
                f"study {cfg.name!r} already exists in {self.url} with {n:,} trials; pass "
                "--resume to continue it, or change name: (or --storage) for a new study"
            )
        if study_id is None:
            created = self.store.create_study(
                cfg.name,
                self.directions,
                self._study_attrs(),
                {"study:metric_names": self.metrics},  # what Study.set_metric_names writes
            )
            if created is not None:
                return created
            # Another worker created it between our check and create: share it.
            study_id = self.store.study_id(cfg.name)
            assert study_id is not None
        attrs = self.store.study_user_attrs(study_id)
        self._check_inputs(study_id, attrs)
        if attrs.get("dse:fingerprint") != fingerprint(cfg):
            old = attrs.get("dse:config") or {}
            changed = [k for k in FINGERPRINT_KEYS if old.get(k) != cfg.resolved.get(k)]
            raise StudyMismatch(
                f"{cfg.source}: {', '.join(changed) or 'config'}: differs from the config study "
                f"{cfg.name!r} in {self.url} was created with, so its trials would not be "
                "comparable; restore it or give the study a new name:"
            )
        return study_id

    def _check_inputs(self, study_id: int, attrs: Mapping[str, Any]) -> None:
        """A resume must score with the physics the study was created with."""
        recorded = attrs.get("dse:inputs")
        if recorded is None:  # created before the digests were kept: keep them from now on
            self.store.rdb.set_study_user_attr(study_id, "dse:inputs", input_digests(self.cfg))
        elif recorded != input_digests(self.cfg):
            raise StudyMismatch(
                f"{self.cfg.source}: {_changed_inputs(self.cfg, recorded)}: changed since study "
                f"{self.cfg.name!r} in {self.url} was created, so new trials would be scored "
                "with other physics than its old ones; restore the file, or start a new study "
                "(--set name=NEW, or another --storage)"
            )

    def _study_attrs(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "dse:fingerprint": fingerprint(cfg),
            "dse:inputs": input_digests(cfg),
            "dse:config": json.loads(json.dumps(cfg.resolved, default=str)),
            "dse:objectives": self.metrics,
            "dse:directions": self.directions,
            "dse:constraints": self.constraint_names,
            "dse:params": {p.optuna_name: p.name for p in self.space.params},
            "dse:arch": cfg.arch,
        }

    # -- history -------------------------------------------------------------------------

    def _absorb(self, trials: Sequence[FrozenTrial], ids: Sequence[int]) -> None:
        """Add persisted trials (resume, other workers) to memory and the caches."""
        if not trials:
            return
        self.mem_storage.append_finished(self.memory._study_id, trials)
        self.db_ids.extend(ids)
        front: list[list[float]] = []
        for t in trials:
            if self._remember(t, None, "duplicate_of" in t.user_attrs):
                front.append(list(t.values or ()))
            t.user_attrs = {}  # as in an uninterrupted run's memory (see run_batch)
        self._grow_front(np.asarray(front, dtype=np.float64).reshape(-1, len(self.metrics)))
        self.last_id = max(self.last_id, *ids)

    def _remember(self, t: FrozenTrial, metrics: dict[str, Any] | None, duplicate: bool) -> bool:
        """Record a finished trial; True when it is a new feasible point (front candidate)."""
        s = self.seen
        idx = len(s.values)
        s.values.append(list(t.values) if t.values is not None else None)
        cons = list(t.system_attrs.get(CONSTRAINTS_KEY) or [])
        s.constraints.append(cons)
        s.metrics.append(metrics)
        ok = t.state == TrialState.COMPLETE and all(c <= 0 for c in cons)
        s.feasible.append(ok)
        s.version.append(self.calib_version)
        if t.state == TrialState.COMPLETE:
            gen = t.system_attrs.get(_ga_key(self.cfg.sampler.name))
            if gen is not None:
                self.generations[gen] = self.generations.get(gen, 0) + 1
            key = point_key(t.params)
            if not self._cached(key) and not duplicate:
                s.first[key] = idx
                return ok and t.values is not None and not duplicate
        return False

    def _cached(self, key: tuple[Any, ...]) -> bool:
        """A point scored under the current calibration (its values can be reused)."""
        idx = self.seen.first.get(key)
        return idx is not None and self.seen.version[idx] == self.calib_version

    def calibration_changed(self) -> None:
        """The build loop refitted the model: the history is scored again under it.

        The sampler learns from its history, so trials the raw model called feasible at a
        clock the builds have shown unreachable would keep it searching there.
        """
        self.calib_version += 1
        self.rescore_memory()

    def rescore_memory(self) -> None:
        """Re-score every complete in-memory trial with the current model (values,
        constraints, feasibility, the front); memory trial ``i`` is ``self.seen`` entry ``i``.
        """
        trials = self.mem_storage.get_all_trials(self.memory._study_id, deepcopy=False)
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        if not done:
            return
        rows = [self.space.decode(t.params) for t in done]
        s = self.seen
        front: list[list[float]] = []
        for t, (vals, cons, metrics, _, error) in zip(done, self._score(rows), strict=True):
            i = t.number
            if error is not None or vals is None:
                continue  # keeps its old values; the model cannot score it now
            t.values = vals
            if self.constraint_names:
                t.system_attrs[CONSTRAINTS_KEY] = cons
            s.values[i], s.constraints[i], s.metrics[i] = vals, cons, metrics
            s.feasible[i] = all(c <= 0 for c in cons)
            s.version[i] = self.calib_version
            if s.feasible[i] and s.first.get(point_key(t.params)) == i:
                front.append(vals)
        self.front = np.empty((0, len(self.metrics)))
        self._grow_front(np.asarray(front, dtype=np.float64).reshape(-1, len(self.metrics)))

    def rescore_stored(self) -> int:
        """Score every complete trial in storage again with the current model; store it.

        A calibrated sweep scored its early trials with the raw model; at its end the whole
        study is put under the final calibration, so its front (``dse pareto``, ``dse
        promote best:``, the dashboard, Optuna's own tools) means the same thing for every
        trial. Returns the number of trials rewritten.
        """
        got = self.store.load(self.study_id, user_attrs=("point",))
        todo = [
            (tid, t)
            for tid, t in zip(got.trial_ids, got.trials, strict=True)
            if t.state == TrialState.COMPLETE and isinstance(t.user_attrs.get("point"), dict)
        ]
        if not todo:
            return 0
        names = [p.name for p in self.space.params]
        rows = [
            {n: t.user_attrs["point"][n] for n in names if t.user_attrs["point"].get(n) is not None}
            for _, t in todo
        ]
        ids, values, cons, attrs = [], [], [], []
        for (tid, _), (vals, con, metrics, _, error) in zip(todo, self._score(rows), strict=True):
            if error is not None or vals is None:
                continue  # a point the model can no longer score keeps its old values
            ids.append(tid)
            values.append(vals)
            cons.append(con)
            attrs.append({"metrics": metrics, "calibration": self.calib_version})
        self.store.rescore(ids, values, cons if self.constraint_names else None, attrs)
        return len(ids)

    def _grow_front(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        both = np.vstack([self.front, values])
        self.front = both[pareto_mask(both, self.directions)]

    def load(self) -> float:
        t0 = time.perf_counter()
        got = self.store.load(self.study_id, user_attrs=("duplicate_of",))
        self._absorb(got.trials, got.trial_ids)
        # GA parent caches (study system attrs, database trial ids): without them the
        # sampler would rebuild every generation's parents recursively.
        mem_id = {db: i for i, db in enumerate(self.db_ids)}
        for key, ids in self.store.study_system_attrs(self.study_id, _PARENT_TAG).items():
            if all(i in mem_id for i in ids):
                self.mem_storage.set_study_system_attr(
                    self.memory._study_id, key, [mem_id[i] for i in ids]
                )
                self.saved_attrs.add(key)
        return time.perf_counter() - t0

    def _new_study_attrs(self) -> dict[str, Any]:
        attrs = self.mem_storage.get_study_system_attrs(self.memory._study_id)
        out = {}
        for key, ids in attrs.items():
            if _PARENT_TAG in key and key not in self.saved_attrs:
                out[key] = [self.db_ids[i] for i in ids]
        return out

    def refresh(self) -> None:
        got = self.store.load(
            self.study_id,
            after_trial_id=self.last_id,
            user_attrs=("duplicate_of",),
            skip_ids=self.own_ids,
        )
        self.own_ids.clear()
        self._absorb(got.trials, got.trial_ids)

    # -- one batch -----------------------------------------------------------------------

    def _sampler(self, n_done: int) -> BaseSampler:
        name = self.cfg.sampler.name
        if name in ("grid", "exhaustive"):
            return _Enumerator(self._grid_rows(n_done))
        sampler = make_batch_sampler(self.cfg, batch_seed(self.cfg.seed, n_done))
        generation = None
        if isinstance(sampler, BaseGASampler) and sampler.population_size:
            generation = self._next_generation(sampler.population_size)
        return _BatchSampler(sampler, self.intersection, generation)

    def _next_generation(self, population: int) -> int:
        # Optuna's rule (BaseGASampler.get_trial_generation) on the finished trials.
        if not self.generations:
            return 0
        top = max(self.generations)
        return top if self.generations[top] < population else top + 1

    def _grid_rows(self, n_done: int) -> list[dict[str, Any]]:
        if self.grid is None:
            grid = self.space.grid()
            n = len(next(iter(grid.values())))
            order = np.arange(n)
            if self.cfg.sampler.name == "grid":
                order = np.random.default_rng(self.cfg.seed).permutation(n)
            self.grid = {k: v[order] for k, v in grid.items()}
            self.grid_n = n
        rows = []
        for i in range(n_done, min(n_done + self.batch, self.grid_n)):
            row = {}
            for p in self.space.params:
                v = self.grid[p.name][i]
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                if p.type in ("int", "pow2"):
                    v = int(v)
                row[p.optuna_name] = p.encode(v.item() if hasattr(v, "item") else v)
            rows.append(row)
        return rows

    def run_batch(self, size: int) -> tuple[list[FrozenTrial], int, int]:
        """Sample, score and tell ``size`` trials; return them, #evaluated, #duplicates."""
        study = self.memory
        n_done = len(self.seen.values)
        study.sampler = self._sampler(n_done)
        asked = [study.ask() for _ in range(size)]
        sampled = [self.space.suggest_params(t) for t in asked]
        keys = [point_key(t.params) for t in asked]
        new_rows: list[int] = []
        first_in_batch: dict[tuple[Any, ...], int] = {}
        for i, k in enumerate(keys):
            if not self._cached(k) and k not in first_in_batch:
                first_in_batch[k] = i
                new_rows.append(i)
        scored = self._score([sampled[i] for i in new_rows])
        by_row = dict(zip(new_rows, scored, strict=True))
        storage = self.mem_storage
        n_dup = 0
        # User attributes go only to the persisted copies: the in-memory trials stay small,
        # since Study.tell deep-copies each one (and samplers never read user attrs).
        extra: list[dict[str, Any]] = []
        for i, t in enumerate(asked):
            attrs: dict[str, Any] = {}
            if i in by_row:
                values, cons, metrics, derived, error = by_row[i]
            else:
                n_dup += 1
                if keys[i] in first_in_batch:
                    j = first_in_batch[keys[i]]
                    values, cons, metrics, derived, error = by_row[j]
                    attrs["duplicate_of"] = asked[j].number
                else:
                    idx = self.seen.first[keys[i]]
                    values, cons = self.seen.values[idx], self.seen.constraints[idx]
                    metrics, error = self.seen.metrics[idx], None
                    derived = self._derive_one(sampled[i])
                    attrs["duplicate_of"] = idx
            attrs["point"] = _jsonable({**self.cfg.design, **sampled[i], **derived})
            if self.builds is not None:
                attrs["calibration"] = self.calib_version  # which model scored it
            if error is not None or values is None:
                attrs["error"] = error or "not evaluated"
                study.tell(t, state=TrialState.FAIL)
            else:
                attrs["metrics"] = metrics
                if self.constraint_names:
                    storage.set_trial_system_attr(t._trial_id, CONSTRAINTS_KEY, cons)
                study.tell(t, values)
            extra.append(attrs)
        self._fill_metrics(extra)
        done: list[FrozenTrial] = []
        front: list[list[float]] = []
        for t, attrs in zip(asked, extra, strict=True):
            ft = storage.get_trial(t._trial_id)
            if self._remember(ft, attrs.get("metrics"), "duplicate_of" in attrs):
                front.append(ft.values)
            ft = copy.copy(ft)
            ft.user_attrs = attrs
            done.append(ft)
        self._grow_front(np.asarray(front, dtype=np.float64).reshape(-1, len(self.metrics)))
        return done, len(new_rows), n_dup

    def _fill_metrics(self, extra: list[dict[str, Any]]) -> None:
        """Duplicates of trials loaded from storage copy their metrics from the database."""
        missing = [
            a["duplicate_of"]
            for a in extra
            if "metrics" in a and a["metrics"] is None and "duplicate_of" in a
        ]
        if not missing:
            return
        got = self.store.user_attr([self.db_ids[i] for i in set(missing)], "metrics")
        for i in set(missing):
            self.seen.metrics[i] = got.get(self.db_ids[i])
        for a in extra:
            if "metrics" in a and a["metrics"] is None and "duplicate_of" in a:
                a["metrics"] = self.seen.metrics[a["duplicate_of"]]

    def _derive_one(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        cols = _columns([sampled], self.space)
        return {k: _plain(v[0]) for k, v in self.space.derive(cols, 1).items()}

    def _score(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Evaluate the new points in one call: (values, constraints, metrics, derived, error)."""
        if not rows:
            return []
        n = len(rows)
        cols = _columns(rows, self.space)
        derived = self.space.derive(cols, n)
        errors: list[str | None] = [None] * n
        for name, arr in derived.items():
            bad = _invalid(self.specs[name], arr)
            for bad_row in np.flatnonzero(bad):
                i = int(bad_row)
                errors[i] = errors[i] or (
                    f"derived {name} = {_plain(arr[i])!r}: expected {self.specs[name].expected()}"
                )
        ok = np.array([e is None for e in errors])
        out: list[tuple[Any, ...]] = []
        derived_rows = [{k: _plain(v[i]) for k, v in derived.items()} for i in range(n)]
        values = cons = np.empty((0, 0))
        records: list[dict[str, Any]] = []
        if ok.any():
            point = {**self.cfg.design}
            for k, v in {**cols, **derived}.items():
                point[k] = v[ok]
            cfg = self.cfg
            # Corrections rescale resources above their fixed part, which only detail=True has.
            detail = self.builds is not None and bool(self.builds.corrections)
            df = cm.evaluate(
                cfg.workload,
                cfg.platform,
                point,
                arch=cfg.arch,
                baseline=cfg.baseline,
                detail=detail,
            )
            if self.builds is not None:
                df = self.builds.correct(df, point)
            values = df[self.metrics].to_numpy(np.float64)
            cons = cfg.constraints.evaluate(df)
            feasible_cols = [m for m in self._metric_columns() if m in df.columns]
            table = df[feasible_cols]
            records = _records(table)
        j = 0
        for i in range(n):
            if not ok[i]:
                out.append((None, [], None, derived_rows[i], errors[i]))
                continue
            v = values[j]
            if np.isnan(v).any():
                out.append((None, [], records[j], derived_rows[i], "objective is NaN"))
            else:
                out.append((v.tolist(), cons[j].tolist(), records[j], derived_rows[i], None))
            j += 1
        return out

    def _metric_columns(self) -> list[str]:
        extra = [*self.metrics, *self.cfg.constraints.max, *self.cfg.constraints.min]
        return list(dict.fromkeys([*KEY_METRICS, *extra]))

    # -- the loop ------------------------------------------------------------------------

    def run(self, progress: bool = True) -> SweepSummary:
        load_s = self.load()
        if self.want_builds:
            assert self.cfg.build is not None
            self.builds = BuildLoop(
                self,
                self.cfg.build,
                hosts=self.hosts,
                ray_address=self.ray_address,
                cache_root=self.cache_root,
                log=self.log,
            )
            if self.builds.corrections or self.builds.cones:
                self.calibration_changed()  # a resumed study: its history, calibrated
        n_start = len(self.seen.values)
        t0 = time.perf_counter()
        n_eval = n_dup = n_new = 0
        grid_total = self.space.size() if self.cfg.sampler.name in ("grid", "exhaustive") else None
        with _progress(progress, self) as bar, _stop_on_signals(self.stop):
            if self.builds is not None:
                self.builds.resume()
            while not self.stop.is_set():
                self.refresh()
                n_done = len(self.seen.values)
                size = self.batch
                if self.target is not None:
                    size = min(size, self.target - n_done)
                if grid_total is not None:
                    size = min(size, grid_total - n_done)
                if size <= 0:
                    break
                if self.timeout is not None and time.perf_counter() - t0 >= self.timeout:
                    break
                done, ev, dup = self.run_batch(size)
                attrs = self._new_study_attrs()
                _, ids = self.store.append(self.study_id, done, self.target, attrs)
                self.saved_attrs.update(attrs)
                self.db_ids.extend([*ids, *[-1] * (len(done) - len(ids))])
                self.own_ids.update(ids)
                if ids:
                    self.last_id = max(self.last_id, *ids)
                n_new += len(ids)
                n_eval += ev
                n_dup += dup
                bar(n_new, t0)
                if self.builds is not None:
                    self.builds.after_batch()
                if len(ids) < len(done):
                    break  # other workers filled the budget
            elapsed = time.perf_counter() - t0
            builds = self.builds.finish() if self.builds is not None else None
        return SweepSummary(
            n_trials=self.store.count(self.study_id),
            n_new=n_new,
            n_feasible=int(sum(self.seen.feasible)),
            pareto_size=len(self.front),
            elapsed_s=elapsed,
            trials_per_s=n_new / elapsed if elapsed > 0 else 0.0,
            storage_url=self.url,
            study_name=self.cfg.name,
            n_evaluated=n_eval,
            n_duplicates=n_dup,
            load_s=load_s,
            interrupted=self.stop.is_set()
            and (n_start + n_new < (self.target or math.inf) or bool(builds and builds.unfinished)),
            builds=builds,
        )


def run_sweep(
    cfg: StudyConfig,
    *,
    trials: int | None = None,
    timeout_s: float | None = None,
    storage: str | None = None,
    resume: bool = False,
    progress: bool = True,
    builds: bool = True,
    hosts: Path | None = None,
    ray_address: str | None = None,
    cache_root: Path | str = "results/builds",
    log: Callable[[str], None] | None = None,
) -> SweepSummary:
    """Run (or continue, with ``resume``) the study of ``cfg`` until its budget is spent.

    ``trials`` is the study's total: a resumed or shared study stops at that many trials.
    With a ``build:`` section (and ``builds``), promising trials are built while the search
    runs (:mod:`dse.sweep._buildloop`) on this machine, the hosts of ``hosts`` (default:
    ``build.hosts``) or a Ray cluster at ``ray_address``; ``log`` receives one line per
    round and per finished build.

    Raises:
        StudyExists: the study has trials and ``resume`` is False.
        StudyMismatch: ``resume`` with a config that scores points differently.
    """
    from dse.search import run_model_search, uses_model_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model_search = uses_model_search(cfg, builds)  # checks its options before any write
    sweep = Sweep(
        cfg,
        trials=trials,
        timeout_s=timeout_s,
        storage=storage,
        resume=resume,
        builds=builds,
        hosts=hosts,
        ray_address=ray_address,
        cache_root=cache_root,
        log=log,
    )
    try:
        # model search: exact or vectorised (see dse/search/); else Optuna ask/tell batches
        summary = run_model_search(sweep, progress) if model_search else sweep.run(progress)
    finally:
        sweep.store.close()
    return _study_counts(summary)


def _study_counts(s: SweepSummary) -> SweepSummary:
    """The feasible and Pareto counts of the whole stored study, as ``dse status`` gives
    them: trials other workers added count too, and every command uses one definition."""
    from dse.sweep._read import load_study_data

    try:
        counts = load_study_data(s.study_name, s.storage_url, full=False).summary()
    except DseError:  # e.g. an in-memory database nobody else can read: this worker's view
        return s
    return dataclasses.replace(s, n_feasible=counts["feasible"], pareto_size=counts["pareto_size"])


# -- helpers -----------------------------------------------------------------------------


def _ga_key(sampler: str) -> str:
    return {"nsga2": "NSGAIISampler:generation", "nsga3": "NSGAIIISampler:generation"}.get(
        sampler, ""
    )


def _columns(rows: Sequence[Mapping[str, Any]], space: SearchSpace) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for p in space.params:
        vals = [r.get(p.name) for r in rows]
        if p.type != "categorical" or is_numeric(p.choices):
            cols[p.name] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        else:
            cols[p.name] = np.array(vals, dtype=object)
    return cols


def _invalid(spec: cm.Param, arr: np.ndarray) -> np.ndarray:
    if spec.kind == "cat":
        return ~np.isin(arr.astype(object), list(spec.choices))
    if spec.kind == "bool":
        return ~np.isin(arr, (0, 1))
    try:
        v = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        return np.ones(len(arr), dtype=bool)
    bad = ~np.isfinite(v)
    if spec.low is not None:
        bad |= v < spec.low
    if spec.high is not None:
        bad |= v > spec.high
    if spec.kind == "int":
        bad |= v != np.round(v)
    return bad


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = {c: df[c].to_numpy() for c in df.columns}
    out = []
    for i in range(len(df)):
        out.append({c: _plain(v[i]) for c, v in cols.items()})
    return out


def _plain(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else v
    return v


def _jsonable(point: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in point.items()}


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: finish and persist the batch, then stop; second: abort now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _progress(enabled: bool, sweep: Sweep) -> Iterator[Callable[[int, float], None]]:
    """``bar(n_new, t0)`` after each batch: a rich line on a terminal, plain lines in a log
    (dse/sweep/_progress.py)."""
    from dse.sweep._progress import Snapshot, progress_display

    n0 = len(sweep.seen.values)
    with progress_display(sweep.cfg.name, sweep.target, n0, enabled) as show:

        def update(n_new: int, t0: float) -> None:
            total = len(sweep.seen.values)
            dt = time.perf_counter() - t0
            show(
                Snapshot(
                    name=sweep.cfg.name,
                    done=total,
                    total=sweep.target,
                    rate=n_new / dt if dt > 0 else 0.0,
                    feasible=sum(sweep.seen.feasible) / max(total, 1),
                    pareto=len(sweep.front),
                    elapsed_s=dt,
                )
            )

        yield update
