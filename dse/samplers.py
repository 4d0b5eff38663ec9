"""Optuna samplers by name, with defaults tuned for our design spaces.

``make_sampler(spec, space, seed, n_objectives, constraints_func)`` turns the study config's
``sampler:`` entry (a name, or a name plus options) into an Optuna sampler. Names:
``nsga2``, ``nsga3``, ``tpe``, ``gp``, ``random``, ``grid``. ``exhaustive`` is not a
sampler: the engine enumerates the space with :func:`dse.exhaustive.screen` instead.

Defaults (why, in ``docs/search.md`` "Samplers and search quality"): see
:data:`DEFAULT_OPTIONS`. Options given in the config override them; an unknown option is an
error with a "did you mean".
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler, nsgaii
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from cost_models import did_you_mean
from dse.errors import ConfigError

__all__ = [
    "DEFAULT_OPTIONS",
    "DEFAULT_SAMPLER",
    "SAMPLERS",
    "NoRepeatSampler",
    "grid_values",
    "make_sampler",
]

SAMPLERS = ("auto", "moea", "nsga2", "nsga3", "tpe", "gp", "random", "grid", "exhaustive")

# The sampler a study gets when its config names none (chosen by
# benchmarks/search_quality.py; see docs/search.md). ``auto`` and ``moea`` are the
# model-level search of dse.search, which `dse sweep` runs instead of an Optuna sampler;
# where a trial-by-trial sampler is still needed (a sweep that builds), ``auto`` is TPE.
DEFAULT_SAMPLER = "auto"
AUTO_FALLBACK = "tpe"

DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    # The engine makes one engine batch one generation (batch = population_size): 64 keeps
    # ~30 generations in a 2,000-trial budget while holding enough diversity for 10-15
    # mixed discrete parameters. NSGA-II is the choice for long sweeps (O(1) per ask).
    "nsga2": {"population_size": 64},
    "nsga3": {"population_size": 64},
    # multivariate: our parameters interact strongly (parallelism x clock x channels), and
    # the independent TPE misses that. constant_liar: the engine asks a whole batch before
    # telling any of it; without the liar every trial of a batch crowds the same mode.
    "tpe": {"multivariate": True, "constant_liar": True, "n_startup_trials": 100},
    # The cost model is deterministic: no noise term to fit. Conditional parameters are
    # always sampled independently by GP; that is expected, not worth a warning per trial.
    "gp": {
        "deterministic_objective": True,
        "n_startup_trials": 20,
        "warn_independent_sampling": False,
    },
    "random": {},
    "grid": {},
}

_CROSSOVERS: dict[str, Callable[[], nsgaii.BaseCrossover]] = {
    "uniform": nsgaii.UniformCrossover,
    "blxalpha": nsgaii.BLXAlphaCrossover,
    "sbx": nsgaii.SBXCrossover,
    "vsbx": nsgaii.VSBXCrossover,
    "undx": nsgaii.UNDXCrossover,
    "spx": nsgaii.SPXCrossover,
}


def _spec_parts(spec: Any) -> tuple[str, dict[str, Any], str]:
    """(name, options, source) from a SamplerSpec, a bare name, or a mapping."""
    if spec is None:
        return DEFAULT_SAMPLER, {}, "study config"
    if isinstance(spec, str):
        return spec, {}, "study config"
    if isinstance(spec, Mapping):
        opts = {k: v for k, v in spec.items() if k != "name"}
        return str(spec.get("name", DEFAULT_SAMPLER)), opts, "study config"
    source = str(getattr(spec, "source", "") or "study config")
    return str(spec.name), dict(getattr(spec, "options", None) or {}), source


def make_sampler(
    spec: Any,
    space: Any,
    seed: int | None,
    n_objectives: int,
    constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
) -> optuna.samplers.BaseSampler:
    """Build the Optuna sampler the config asks for.

    Args:
        spec: a ``SamplerSpec`` (``.name``, ``.options``), a name, a mapping with ``name``,
            or None for :data:`DEFAULT_SAMPLER`.
        space: the study's ``SearchSpace`` (used by ``grid``).
        seed: sampler seed (None: nondeterministic).
        n_objectives: number of objectives (``nsga3`` needs at least 2).
        constraints_func: only for callers that do not record constraints on the trials
            themselves; Optuna 5 samplers read ``trial.set_constraint`` values on their own,
            which is what the engine does, so it passes None.

    Raises:
        ConfigError: unknown sampler or option, bad option value, ``gp`` without torch.
    """
    name, options, source = _spec_parts(spec)
    if name == "auto":  # its options are the model-level search's, not TPE's
        name, options = AUTO_FALLBACK, {}
    if name not in SAMPLERS:
        raise ConfigError(
            source,
            "sampler",
            f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}",
            hint=did_you_mean(name, SAMPLERS),
        )
    if name == "moea":
        raise ConfigError(
            source,
            "sampler",
            "'moea' is the model-level search of dse.search, not an Optuna sampler; "
            "dse sweep runs it itself",
        )
    if name == "exhaustive":
        raise ConfigError(
            source,
            "sampler",
            "'exhaustive' enumerates the space instead of sampling it; "
            "use dse.exhaustive.screen (dse sweep does this for you)",
        )
    opts = {**DEFAULT_OPTIONS[name], **options}
    avoid = opts.pop("avoid_repeats", name in ("tpe", "gp"))
    if not isinstance(avoid, bool):
        raise ConfigError(source, "sampler.avoid_repeats", f"expected true or false, got {avoid!r}")
    cls, kwargs = _build(name, opts, source, space, n_objectives)
    _check_options(cls, name, opts, source)
    kwargs["seed"] = seed
    if constraints_func is not None:
        kwargs["constraints_func"] = constraints_func
    try:
        with warnings.catch_warnings():
            # constraints_func and TPE's group are flagged deprecated/experimental; both are
            # deliberate, and the warnings would repeat in every worker's log.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(source, f"sampler.{name}", f"invalid option: {exc}") from None
    return NoRepeatSampler(sampler, seed) if avoid else sampler


def _build(
    name: str, opts: dict[str, Any], source: str, space: Any, n_objectives: int
) -> tuple[type, dict[str, Any]]:
    kwargs = dict(opts)
    if name in ("nsga2", "nsga3"):
        if "crossover" in kwargs and isinstance(kwargs["crossover"], str):
            key = kwargs["crossover"]
            if key not in _CROSSOVERS:
                raise ConfigError(
                    source,
                    "sampler.crossover",
                    f"unknown crossover {key!r}; expected one of {', '.join(_CROSSOVERS)}",
                    hint=did_you_mean(key, _CROSSOVERS),
                )
            kwargs["crossover"] = _CROSSOVERS[key]()
        if name == "nsga3" and n_objectives < 2:
            raise ConfigError(source, "sampler", "nsga3 needs at least 2 objectives")
        cls = optuna.samplers.NSGAIISampler if name == "nsga2" else optuna.samplers.NSGAIIISampler
        return cls, kwargs
    if name == "tpe":
        return optuna.samplers.TPESampler, kwargs
    if name == "gp":
        missing = [m for m in ("torch", "scipy") if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                source,
                "sampler",
                f"'gp' needs {' and '.join(missing)}, which is not installed; install it with "
                "pip install 'dse[gp]' (CPU torch is enough: pip install torch==2.13.0 scipy)",
            )
        return optuna.samplers.GPSampler, kwargs
    if name == "random":
        return optuna.samplers.RandomSampler, kwargs
    # grid
    kwargs["search_space"] = grid_values(space, source)
    return optuna.samplers.GridSampler, kwargs


def _check_options(cls: type, name: str, opts: Mapping[str, Any], source: str) -> None:
    accepted = [
        p
        for p in inspect.signature(cls).parameters
        if p not in ("seed", "constraints_func", "search_space")
    ]
    accepted.append("avoid_repeats")
    params = inspect.signature(cls).parameters
    for key, value in opts.items():
        if key not in accepted:
            raise ConfigError(
                source,
                f"sampler.{key}",
                f"unknown option for {name}; expected one of {', '.join(sorted(accepted))}",
                hint=did_you_mean(str(key), accepted),
            )
        # Optuna checks few option types itself; a wrong one fails mid-sweep as a TypeError.
        wanted = _option_kind(params[key], value) if key in params else ""
        if wanted:
            raise ConfigError(source, f"sampler.{key}", f"expected {wanted}, got {value!r}")


def _option_kind(param: inspect.Parameter, value: Any) -> str:
    """What ``value`` should be, judged by the option's annotation ("bool | None", "int",
    "float"; Optuna's are strings) and default; "" when it fits or cannot be judged."""
    note = param.annotation if isinstance(param.annotation, str) else ""
    kinds = {part.strip() for part in note.split("|")} - {"None"}
    if not kinds:
        kinds = {type(param.default).__name__}
    if value is None and ("None" in note or param.default is None):
        return ""
    if kinds == {"bool"}:
        return "" if isinstance(value, bool) else "true or false"
    if kinds == {"int"}:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return "" if ok else "an integer >= 0"
    if kinds == {"float"} or kinds == {"float", "int"}:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return "" if ok and math.isfinite(value) else "a finite number"
    return ""


def grid_values(space: Any, source: str = "study config") -> dict[str, list[Any]]:
    """Every value of each searched parameter, for Optuna's ``GridSampler``.

    Built from ``space.distributions()``, so the names and encodings are exactly the ones
    ``space.suggest`` uses. A continuous float (no ``step``) has no grid.
    """
    out: dict[str, list[Any]] = {}
    dists: Mapping[str, BaseDistribution] = space.distributions()
    for pname, dist in dists.items():
        if isinstance(dist, CategoricalDistribution):
            out[pname] = list(dist.choices)
        elif isinstance(dist, IntDistribution):
            out[pname] = list(range(dist.low, dist.high + 1, 1 if dist.log else dist.step))
        elif isinstance(dist, FloatDistribution):
            if dist.step is None:
                raise ConfigError(
                    source,
                    f"space.{pname}",
                    "the grid sampler needs a finite space; give this float a step",
                )
            n = round((dist.high - dist.low) / dist.step) + 1
            out[pname] = [float(v) for v in np.round(dist.low + dist.step * np.arange(n), 12)]
        else:
            raise ConfigError(
                source, f"space.{pname}", f"unsupported distribution {type(dist).__name__}"
            )
    return out


_FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


class NoRepeatSampler(BaseSampler):
    """Wraps a model-based sampler so it does not propose points the study already has.

    On a discrete space TPE and GP keep returning to their best region: half of a
    2,000-trial TPE run on our examples re-proposes evaluated points, which the engine
    then counts as trials without learning anything. When the wrapped sampler's joint
    (relative) proposal repeats a finished trial or an earlier proposal of this sampler,
    this wrapper walks from it to a near neighbour that is new: one parameter at a time
    moves by a step (an int or stepped float), to the next power of two (``pow2`` is
    searched as its exponent) or to another choice, with the step widening after every
    few failures. It re-draws uniformly only if that fails, and accepts a repeat only in a
    nearly exhausted space. Re-asking the wrapped sampler instead costs a full TPE/GP
    fit per try and mostly lands on the same points.

    Conditional parameters are sampled independently by the wrapped sampler and are not
    part of the check, so two points differing only in one of them count as the same.
    """

    def __init__(self, inner: BaseSampler, seed: int | None = None, tries: int = 64) -> None:
        self.inner = inner
        self.tries = tries
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(seed=seed)
        self._names: tuple[str, ...] = ()
        self._seen: set[tuple[Any, ...]] = set()
        self._indexed = 0  # trials (in number order) already added to _seen
        self.n_moved = 0  # proposals replaced by a neighbour (for the benchmark's curiosity)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        params = self.inner.sample_relative(study, trial, search_space)
        if not params:
            return params  # start-up phase: the independent (random) sampler is in charge
        self._index(study, tuple(sorted(params)))
        names = self._names
        key = tuple(params[n] for n in names)
        if key in self._seen:
            self.n_moved += 1
            params = dict(params)
            for attempt in range(self.tries):
                n = names[int(self._rng.integers(len(names)))]
                params[n] = _neighbour(params[n], search_space[n], self._rng, 1 + attempt // 8)
                key = tuple(params[n] for n in names)
                if key not in self._seen:
                    break
            for _ in range(self.tries):
                if key not in self._seen:
                    break
                params = {
                    n: self._random.sample_independent(study, trial, n, search_space[n])
                    for n in names
                }
                key = tuple(params[n] for n in names)
        self._seen.add(key)
        return params

    def _index(self, study: Study, names: tuple[str, ...]) -> None:
        if names != self._names:
            self._names, self._seen, self._indexed = names, set(), 0
        trials = study.get_trials(deepcopy=False)
        i = self._indexed
        while i < len(trials) and trials[i].state in _FINISHED:
            p = trials[i].params
            if all(n in p for n in names):
                self._seen.add(tuple(p[n] for n in names))
            i += 1
        self._indexed = i

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: Any
    ) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()
        self._random.reseed_rng()


def _neighbour(value: Any, dist: BaseDistribution, rng: np.random.Generator, radius: int) -> Any:
    """A value of ``dist`` near ``value``: up to ``radius`` steps away, or another choice."""
    if isinstance(dist, CategoricalDistribution):
        others = [c for c in dist.choices if c != value]
        return others[int(rng.integers(len(others)))] if others else value
    if isinstance(dist, IntDistribution | FloatDistribution):
        step = dist.step or (1 if isinstance(dist, IntDistribution) else None)
        if step is None:  # continuous: a nearby uniform draw (repeats are rare anyway)
            span = (dist.high - dist.low) * 0.05 * radius
            return float(np.clip(value + rng.uniform(-span, span), dist.low, dist.high))
        n = round((dist.high - dist.low) / step)
        i = round((value - dist.low) / step)
        move = int(rng.integers(1, radius + 1)) * (1 if rng.random() < 0.5 else -1)
        j = min(max(i + move, 0), n)
        if j == i:  # at a bound: step the other way
            j = min(max(i - move, 0), n)
        out = dist.low + j * step
        return int(out) if isinstance(dist, IntDistribution) else float(out)
    return value
