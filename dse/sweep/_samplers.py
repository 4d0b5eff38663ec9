"""The samplers of one batch of the trial loop.

A batch's sampler is built afresh, seeded from ``(seed, trials already in the study)``
(:func:`batch_seed`): a run resumed after a crash therefore samples exactly what the
uninterrupted run would have. :class:`BatchSampler` removes Optuna's O(n)-per-ask work;
:class:`Enumerator` hands out the grid in order (``grid``/``exhaustive``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial

from dse._optuna import (
    child_params,
    ga_batchable,
    ga_parent_population,
    generation_key,
    is_ga,
    record_generation,
    share_search_space,
    trial_id,
)
from dse.config import StudyConfig
from dse.space import SearchSpace

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


class BatchSampler(BaseSampler):
    """Wraps the configured sampler for one batch, removing Optuna's O(n)-per-ask work.

    Every trial of a batch is asked while the others of the batch are still running, so
    the finished history a sampler sees is the same for the whole batch. Hence, exactly as
    the wrapped sampler would compute them:

    - one ``IntersectionSearchSpace`` is shared across batches and updated incrementally
      (a fresh sampler would rescan every trial);
    - for NSGA-II/III the generation (Optuna's ``BaseGASampler.get_trial_generation`` rule)
      and its parent population are computed once per batch instead of per ask, from
      ``population`` (a generation's complete trials, kept by the searcher) rather than a
      scan of the whole study (:func:`dse._optuna.ga_parent_population`).
    """

    def __init__(
        self,
        inner: BaseSampler,
        intersection: IntersectionSearchSpace,
        generation: int | None,
        population: Callable[[int], list[FrozenTrial]] | None = None,
    ) -> None:
        self.inner, self.generation, self.population = inner, generation, population
        share_search_space(inner, intersection)
        self.ga = generation is not None and ga_batchable(inner)
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
            assert self.generation is not None
            if self.population is None:
                self.parents = inner.get_parent_population(study, self.generation)
            else:
                self.parents = ga_parent_population(inner, study, self.generation, self.population)
        if not self.parents:
            return {}
        return child_params(inner, study, space, self.parents)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return self.inner.sample_independent(study, trial, name, dist)

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        if is_ga(self.inner) and self.generation is not None:
            record_generation(study, trial, generation_key(self.inner), self.generation)
        self.inner.before_trial(study, trial)

    def after_trial(self, study: Any, trial: FrozenTrial, state: Any, values: Any) -> None:
        self.inner.after_trial(study, trial, state, values)


class Enumerator(BaseSampler):
    """Hands out given points in order: the ``grid``/``exhaustive`` samplers."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = iter(rows)
        self.by_trial: dict[int, dict[str, Any]] = {}  # a batch is asked before it samples

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: FrozenTrial, space: Any) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self.by_trial[trial_id(trial)] = next(self.rows)

    def sample_independent(self, study: Any, trial: FrozenTrial, name: str, dist: Any) -> Any:
        return self.by_trial[trial_id(trial)][name]


class GridRows:
    """The grid of a finite space in enumeration order (shuffled by ``seed`` for ``grid``),
    as Optuna parameter rows, a batch at a time."""

    def __init__(self, space: SearchSpace, shuffle_seed: int | None) -> None:
        self.space = space
        grid = space.grid()
        self.n = len(next(iter(grid.values())))
        order = np.arange(self.n)
        if shuffle_seed is not None:
            order = np.random.default_rng(shuffle_seed).permutation(self.n)
        self.grid = {k: v[order] for k, v in grid.items()}

    def rows(self, start: int, count: int) -> list[dict[str, Any]]:
        rows = []
        for i in range(start, min(start + count, self.n)):
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
