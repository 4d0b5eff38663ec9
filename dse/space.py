"""The search space of a study: searched parameters, their conditions and derived parameters.

A :class:`SearchSpace` is built (and validated) by :func:`dse.config.load_config` from the
``space:`` and ``derived:`` sections. It turns into Optuna distributions for the samplers
(:meth:`SearchSpace.suggest`), into every point of a finite space for exhaustive screening
(:meth:`SearchSpace.grid`) and into design-point columns for ``cost_models.evaluate``.

Encodings (see ``docs/search.md``):

- ``pow2`` is searched as its exponent: an ``IntDistribution`` named ``log2_<name>``, so
  samplers see an ordered integer while the design point gets ``2 ** exponent``;
- a parameter with ``when:`` is only suggested when its condition holds on the fixed design
  and the parameters declared before it; otherwise it is absent and the cost model's default
  applies;
- ``derived`` keys are computed after sampling, in order, from the design, the sampled
  parameters and the derived keys before them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from dse._expr import Expr
from dse.errors import DseError

PARAM_TYPES = ("int", "pow2", "float", "categorical")
Scalar = int | float | str | bool


class SpaceError(DseError, ValueError):
    """The space cannot do what was asked (e.g. enumerate an infinite space)."""


@dataclass(frozen=True)
class ParamSpec:
    """One searched parameter. ``low``/``high`` of a ``pow2`` are the values, not exponents."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Scalar, ...] = ()
    when: Expr | None = field(default=None, compare=False)
    # The value `dse estimate` and `dse build` use when no trial chose one (not searched).
    default: Scalar | None = field(default=None, compare=False)

    @property
    def optuna_name(self) -> str:
        """The parameter name Optuna stores (``log2_<name>`` for powers of two)."""
        return f"log2_{self.name}" if self.type == "pow2" else self.name

    def distribution(self) -> BaseDistribution:
        if self.type == "pow2":
            assert self.low is not None and self.high is not None
            return IntDistribution(int(math.log2(self.low)), int(math.log2(self.high)))
        if self.type == "int":
            assert self.low is not None and self.high is not None
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        if self.type == "float":
            assert self.low is not None and self.high is not None
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        return CategoricalDistribution(self.choices)

    def decode(self, value: Any) -> Scalar:
        """Optuna's value -> the design-point value."""
        return 1 << int(value) if self.type == "pow2" else value

    def encode(self, value: Any) -> Scalar:
        """The design-point value -> Optuna's value."""
        return round(math.log2(value)) if self.type == "pow2" else value

    def values(self) -> list[Scalar] | None:
        """Every value in design units, or None for a continuous float."""
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "pow2":
            assert self.low is not None and self.high is not None
            lo, hi = int(math.log2(self.low)), int(math.log2(self.high))
            return [1 << e for e in range(lo, hi + 1)]
        if self.type == "int":
            assert self.low is not None and self.high is not None
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        assert self.low is not None and self.high is not None
        n = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [self.low + i * self.step for i in range(n)]

    def size(self) -> int | None:
        v = self.values()
        return None if v is None else len(v)


@dataclass(frozen=True)
class SearchSpace:
    """Ordered searched parameters, derived expressions and the fixed design they extend."""

    params: tuple[ParamSpec, ...] = ()
    derived: tuple[tuple[str, Expr], ...] = ()
    design: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.params)

    @property
    def names(self) -> list[str]:
        """Design names of the searched parameters, in order."""
        return [p.name for p in self.params]

    def by_optuna_name(self) -> dict[str, ParamSpec]:
        return {p.optuna_name: p for p in self.params}

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions of the unconditional parameters (keyed by Optuna name)."""
        return {p.optuna_name: p.distribution() for p in self.params if p.when is None}

    def all_distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions of every parameter, conditional ones included."""
        return {p.optuna_name: p.distribution() for p in self.params}

    def suggest_params(self, trial: optuna.Trial) -> dict[str, Scalar]:
        """Ask ``trial`` for each parameter whose condition holds; design units, no derived."""
        env: dict[str, Any] = dict(self.design)
        out: dict[str, Scalar] = {}
        for p in self.params:
            if p.when is not None and not bool(p.when.evaluate(env)):
                continue
            out[p.name] = env[p.name] = p.decode(_suggest(trial, p))
        return out

    def suggest(self, trial: optuna.Trial) -> dict[str, Scalar]:
        """Sampled parameters plus derived keys (merge with the fixed design for a point)."""
        values = self.suggest_params(trial)
        cols = {k: np.asarray([v]) for k, v in values.items()}
        for name, arr in self.derive(cols, 1).items():
            values[name] = _scalar(arr[0])
        return values

    def decode(self, params: Mapping[str, Any]) -> dict[str, Scalar]:
        """Optuna ``trial.params`` -> design-unit values of the searched parameters."""
        specs = self.by_optuna_name()
        return {specs[k].name: specs[k].decode(v) for k, v in params.items() if k in specs}

    def derive(self, columns: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """Derived columns for ``n`` points given the sampled ``columns`` (vectorised)."""
        env: dict[str, Any] = {**self.design, **columns}
        out: dict[str, np.ndarray] = {}
        for name, expr in self.derived:
            value = np.asarray(expr.evaluate(env))
            if value.ndim == 0:
                value = np.full(n, value.item())
            env[name] = out[name] = value
        return out

    def size(self) -> int | None:
        """Number of distinct points, or None when a float has no step."""
        if any(p.size() is None for p in self.params):
            return None
        structural = self._structural()
        rest = 1
        for p in self.params:
            if p.name not in structural and p.when is None:
                rest *= p.size() or 1
        cond = [p for p in self.params if p.name not in structural and p.when is not None]
        if not cond:
            return rest * self._grid_rows([p for p in self.params if p.name in structural], None)
        table = self._expand([p for p in self.params if p.name in structural], None)
        n = len(next(iter(table.values()))) if table else 1
        weights = np.ones(n, dtype=object)
        env = {**self.design, **table}
        for p in cond:
            assert p.when is not None
            on = np.broadcast_to(np.asarray(p.when.evaluate(env), dtype=bool), (n,))
            weights = weights * np.where(on, p.size() or 1, 1).astype(object)
        return rest * int(weights.sum())

    def grid(self, limit: int = 5_000_000) -> dict[str, np.ndarray]:
        """Every point of a finite space as columns (absent conditionals as NaN/None).

        Raises:
            SpaceError: the space is infinite or larger than ``limit`` points.
        """
        total = self.size()
        if total is None:
            floats = [p.name for p in self.params if p.size() is None]
            raise SpaceError(
                f"space.{floats[0]}: a float without step: has infinitely many points; "
                "give it a step: to enumerate the space"
            )
        if total > limit:
            raise SpaceError(
                f"space: {total:,} points is more than the limit of {limit:,} for enumeration"
            )
        cols = self._expand(list(self.params), limit)
        n = len(next(iter(cols.values()))) if cols else 1
        cols.update(self.derive(cols, n))
        return cols

    def _structural(self) -> set[str]:
        used: set[str] = set()
        for p in self.params:
            if p.when is not None:
                used |= set(p.when.names)
        return {p.name for p in self.params if p.name in used}

    def _grid_rows(self, params: Sequence[ParamSpec], limit: int | None) -> int:
        table = self._expand(params, limit)
        return len(next(iter(table.values()))) if table else 1

    def _expand(self, params: Sequence[ParamSpec], limit: int | None) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {}
        n = 1
        for p in params:
            vals = _column(p.values() or [])
            if p.when is None:
                reps = len(vals)
                cols = {k: np.repeat(v, reps) for k, v in cols.items()}
                cols[p.name] = np.tile(vals, n)
                n *= reps
            else:
                on = np.broadcast_to(
                    np.asarray(p.when.evaluate({**self.design, **cols}), dtype=bool), (n,)
                )
                counts = np.where(on, len(vals), 1)
                idx = np.repeat(np.arange(n), counts)
                cols = {k: v[idx] for k, v in cols.items()}
                # Within each expanded row: position 0..len(vals)-1 picks the value.
                starts = np.cumsum(counts) - counts
                pos = np.arange(len(idx)) - np.repeat(starts, counts)
                col = _absent_like(vals, len(idx))
                hit = on[idx]
                col[hit] = vals[pos[hit]]
                cols[p.name] = col
                n = len(idx)
            if limit is not None and n > limit:
                raise SpaceError(f"space: more than {limit:,} points")
        return cols


def _suggest(trial: optuna.Trial, p: ParamSpec) -> Any:
    d = p.distribution()
    if isinstance(d, IntDistribution):
        return trial.suggest_int(p.optuna_name, d.low, d.high, step=d.step, log=d.log)
    if isinstance(d, FloatDistribution):
        return trial.suggest_float(p.optuna_name, d.low, d.high, step=d.step, log=d.log)
    assert isinstance(d, CategoricalDistribution)
    return trial.suggest_categorical(p.optuna_name, d.choices)


def is_numeric(values: Sequence[Any]) -> bool:
    """True when a column of these values is numeric (booleans count, as 0/1)."""
    return all(isinstance(v, int | float) for v in values)


def _column(values: Sequence[Scalar]) -> np.ndarray:
    # Numbers and booleans as float64 so an absent conditional can be NaN (the cost model
    # reads NaN as "use the default"); strings as objects with None for absent.
    if is_numeric(values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values, dtype=object)


def _absent_like(vals: np.ndarray, n: int) -> np.ndarray:
    if vals.dtype == object:
        return np.full(n, None, dtype=object)
    return np.full(n, np.nan)


def _scalar(value: Any) -> Scalar:
    return value.item() if isinstance(value, np.generic) else value


def point_key(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Hashable identity of a sampled point (Optuna params), used to skip re-evaluation."""
    return tuple(sorted(params.items()))
