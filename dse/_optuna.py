"""Every use of Optuna's private API, in one place.

A sweep writes trials straight into Optuna's RDB tables, keeps an in-memory study it appends
to in bulk, and batches NSGA-II/III's generation bookkeeping. Those need names Optuna does not
promise to keep: the ORM models, ``InMemoryStorage``'s fields, ``BaseGASampler``'s hooks, a
trial's id and a study's storage. They are all reached through this module, checked against
the Optuna series in ``CHECKED_SERIES`` (``tests/dse_tests/test_optuna_adapter.py`` fails
loudly on any other; ``pyproject.toml`` pins the same range). Upgrading Optuna means reading
the functions below against the new release, then widening both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.samplers import BaseSampler
from optuna.samplers._ga import BaseGASampler
from optuna.search_space import IntersectionSearchSpace
from optuna.storages import InMemoryStorage
from optuna.storages._rdb import models
from optuna.study._tell import _tell_with_warning
from optuna.trial import FrozenTrial, TrialState

CHECKED_SERIES = ("5.1",)  # major.minor releases these internals were read against
CONSTRAINTS_KEY = "constraints"  # the trial system attribute Optuna's samplers read
PARENT_TAG = ":parent:"  # BaseGASampler's parent-population cache keys contain this
_GA_KEYS = {"nsga2": "NSGAIISampler:generation", "nsga3": "NSGAIIISampler:generation"}


def series(version: str = optuna.__version__) -> str:
    """``"5.1"`` of ``"5.1.0"``."""
    return ".".join(version.split(".")[:2])


def is_checked(version: str = optuna.__version__) -> bool:
    """Whether this module was checked against ``version``'s series."""
    return series(version) in CHECKED_SERIES


# -- RDB schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RdbTables:
    """The tables of Optuna's RDB schema a bulk writer and reader use."""

    trials: sa.Table
    params: sa.Table
    values: sa.Table
    trial_user_attrs: sa.Table
    trial_system_attrs: sa.Table
    studies: sa.Table
    study_user_attrs: sa.Table
    study_system_attrs: sa.Table
    study_directions: sa.Table


def _table(model: Any) -> sa.Table:
    return model.__table__


TABLES = RdbTables(
    trials=_table(models.TrialModel),
    params=_table(models.TrialParamModel),
    values=_table(models.TrialValueModel),
    trial_user_attrs=_table(models.TrialUserAttributeModel),
    trial_system_attrs=_table(models.TrialSystemAttributeModel),
    studies=_table(models.StudyModel),
    study_user_attrs=_table(models.StudyUserAttributeModel),
    study_system_attrs=_table(models.StudySystemAttributeModel),
    study_directions=_table(models.StudyDirectionModel),
)


def stored_value(value: float) -> tuple[float | None, Any]:
    """(value column, value_type column) of an objective value, as ``RDBStorage`` writes it
    (infinities are stored as a type, not a number)."""
    return models.TrialValueModel.value_to_stored_repr(value)


# -- handles on studies and trials -----------------------------------------------------


def trial_id(trial: FrozenTrial | optuna.Trial) -> int:
    """The storage's id of a trial (not its number)."""
    return int(trial._trial_id)


def set_trial_id(trial: FrozenTrial, value: int) -> None:
    trial._trial_id = value


def study_storage(study: optuna.Study) -> Any:
    return study._storage


def study_id(study: optuna.Study) -> int:
    return int(study._study_id)


# -- the in-memory study ------------------------------------------------------------------


class HistoryStorage(InMemoryStorage):
    """``InMemoryStorage`` plus a bulk append of finished trials.

    ``Study.add_trials`` deep-copies and re-validates every trial (≈140 µs each, 14 s for a
    100,000-trial resume); trials read back from the database are fresh objects already, so
    they are appended as they are, into InMemoryStorage's own fields.
    """

    def append_finished(self, study_id: int, trials: Sequence[FrozenTrial]) -> None:
        with self._lock:
            info = self._studies[study_id]
            where = self._trial_id_to_study_id_and_number
            single = len(info.directions) == 1
            seen: set[int] = set()  # loaded trials share their distributions dicts
            for t in trials:
                tid = self._max_trial_id + 1
                self._max_trial_id = tid
                number = len(info.trials)
                t.number = number
                set_trial_id(t, tid)
                where[tid] = (study_id, number)
                info.trials.append(t)
                dists = t.distributions
                if id(dists) not in seen:
                    seen.add(id(dists))
                    for name, dist in dists.items():
                        info.param_distribution.setdefault(name, dist)
                if single and t.state == TrialState.COMPLETE:
                    self._update_cache(tid, study_id)

    def trials_numbered(self, study_id: int, numbers: Sequence[int]) -> list[FrozenTrial]:
        """The study's trials ``numbers``, without copying the list of every trial."""
        with self._lock:
            trials = self._studies[study_id].trials
            return [trials[n] for n in numbers]

    def trials_with_ids(self, study_id: int, ids: Sequence[int]) -> list[FrozenTrial]:
        """The study's trials whose id is in ``ids``, in study order (as the GA samplers'
        parent cache is read), by index instead of a scan of every trial."""
        with self._lock:
            trials = self._studies[study_id].trials
            where = self._trial_id_to_study_id_and_number
            numbers = sorted({where[i][1] for i in ids if i in where and where[i][0] == study_id})
            return [trials[n] for n in numbers]


def tell(study: optuna.Study, trial: optuna.Trial, values: Any, state: TrialState | None) -> None:
    """``study.tell`` without its return value: ``Study.tell`` deep-copies the finished trial
    to return it (a third of the trial loop's time), and the sweep never uses that copy."""
    _tell_with_warning(study=study, trial=trial, value_or_values=values, state=state)


# -- genetic samplers (NSGA-II/III) -------------------------------------------------------

_GA_SAMPLE_RELATIVE = (
    optuna.samplers.NSGAIISampler.sample_relative,
    optuna.samplers.NSGAIIISampler.sample_relative,
)


def is_ga(sampler: BaseSampler) -> bool:
    """A generation-based sampler (NSGA-II/III and their subclasses)."""
    return isinstance(sampler, BaseGASampler)


_GA_SELECT_PARENT = (
    optuna.samplers.NSGAIISampler.select_parent,
    optuna.samplers.NSGAIIISampler.select_parent,
)


def ga_batchable(sampler: BaseSampler) -> bool:
    """A GA sampler whose ``sample_relative`` and parent selection are Optuna's own, so its
    children can be made from a parent population computed once per batch
    (:func:`ga_parent_population`)."""
    if not isinstance(sampler, BaseGASampler):
        return False
    kind = type(sampler)
    return (
        kind.sample_relative in _GA_SAMPLE_RELATIVE
        and kind.select_parent in _GA_SELECT_PARENT
        and kind.get_parent_population is BaseGASampler.get_parent_population
        and kind.get_population is BaseGASampler.get_population
    )


def ga_parent_population(
    sampler: BaseSampler,
    study: optuna.Study,
    generation: int,
    population: Callable[[int], list[FrozenTrial]],
) -> list[FrozenTrial]:
    """``sampler.get_parent_population(study, generation)`` of a :func:`ga_batchable`
    sampler, computed the same way without its two scans of every trial per generation.

    Optuna's NSGA-II/III select generation g's parents as the elite of generation g-1's
    complete trials (in trial order) plus g-1's parents, and cache each generation's parent
    trial ids in a study system attribute. ``population(g)`` gives generation g's complete
    trials in trial order (the sweep counts them as they finish, a fresh sampler would
    rescan the study); cached parents are found by index (``HistoryStorage``).
    """
    if generation == 0:
        return []
    storage, sid = study_storage(study), study_id(study)
    key = sampler._get_parent_cache_key_prefix() + str(generation)  # type: ignore[attr-defined]
    cached = storage.get_study_system_attrs(sid).get(key)
    if cached is not None:
        if isinstance(storage, HistoryStorage):
            return storage.trials_with_ids(sid, cached)
        ids = set(cached)
        return [t for t in study._get_trials(deepcopy=False) if trial_id(t) in ids]
    pool = population(generation - 1) + ga_parent_population(
        sampler, study, generation - 1, population
    )
    parents: list[FrozenTrial] = sampler._elite_population_selection_strategy(study, pool)  # type: ignore[attr-defined]
    storage.set_study_system_attr(sid, key, [trial_id(t) for t in parents])
    return parents


def generation_key(sampler: str | BaseSampler) -> str:
    """The trial system attribute holding a GA trial's generation ("" for other samplers);
    ``sampler`` is a sampler or its config name (nsga2, nsga3)."""
    if isinstance(sampler, str):
        return _GA_KEYS.get(sampler, "")
    return str(sampler._get_generation_key()) if is_ga(sampler) else ""  # type: ignore[attr-defined]


def child_params(
    sampler: BaseSampler, study: optuna.Study, space: Any, parents: list[FrozenTrial]
) -> dict[str, Any]:
    """A GA child of ``parents`` (what ``sample_relative`` does after finding them)."""
    return sampler._child_generation_strategy(study, space, parents)  # type: ignore[attr-defined]


def seed_search_space(
    space: IntersectionSearchSpace, study: optuna.Study, trials: Sequence[FrozenTrial]
) -> None:
    """Bring a fresh ``space`` to what ``space.calculate(study)`` would give for a study
    holding exactly the finished ``trials``, comparing each distinct ``distributions`` dict
    once (trials loaded from storage share them) instead of every trial's distributions.

    Left alone when ``space`` was used already, counts pruned trials or would find nothing:
    Optuna's own scan then runs as usual.
    """
    if space._include_pruned or space._study_id is not None or space._search_space is not None:
        return
    found: dict[str, Any] | None = None
    seen: set[int] = set()
    last = -1
    for t in trials:
        if t.state != TrialState.COMPLETE:
            if not t.state.is_finished():
                return
            continue
        last = t.number
        d = t.distributions
        if id(d) in seen:
            continue
        seen.add(id(d))
        found = dict(d) if found is None else {k: v for k, v in found.items() if d.get(k) == v}
    if found is None:
        return
    space._study_id = study_id(study)
    space._search_space = found
    space._cached_trial_number = last + 1


def share_search_space(sampler: BaseSampler, shared: IntersectionSearchSpace) -> None:
    """Give ``sampler`` one incrementally updated search space instead of its own (which
    would rescan every trial at each ask); pruned-aware spaces are left alone."""
    for attr in ("_search_space", "_intersection_search_space"):
        current = getattr(sampler, attr, None)
        if type(current) is IntersectionSearchSpace and not current._include_pruned:
            setattr(sampler, attr, shared)


def record_generation(study: optuna.Study, trial: FrozenTrial, key: str, generation: int) -> None:
    """Store a trial's generation as a GA sampler's ``before_trial`` would."""
    study_storage(study).set_trial_system_attr(trial_id(trial), key, generation)
    trial.system_attrs[key] = generation


__all__ = [
    "CHECKED_SERIES",
    "CONSTRAINTS_KEY",
    "PARENT_TAG",
    "TABLES",
    "HistoryStorage",
    "RdbTables",
    "child_params",
    "ga_batchable",
    "ga_parent_population",
    "generation_key",
    "is_checked",
    "is_ga",
    "record_generation",
    "seed_search_space",
    "series",
    "share_search_space",
    "stored_value",
    "study_id",
    "study_storage",
    "tell",
    "trial_id",
]
