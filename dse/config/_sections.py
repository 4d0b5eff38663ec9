"""The objects a study config's search sections become, and the key checks they share."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.config._yaml import LocatedYaml
from dse.samplers import DEFAULT_SAMPLER
from dse.space import SearchSpace

ENUMERATING = ("grid", "exhaustive")
DIRECTIONS = ("maximize", "minimize")
# Columns of cost_models.COLUMNS that are not numbers (codes, verdicts, text).
_NOT_NUMERIC = ("bound_prefill", "bound_decode", "feasible", "violations")
METRICS = tuple(c for c in cm.COLUMNS if c not in _NOT_NUMERIC)
_GPU_METRICS = tuple(c for c in METRICS if "gpu" in c)
_PARAM_KEYS = {
    "int": ("type", "low", "high", "step", "log", "when", "default"),
    "pow2": ("type", "low", "high", "when", "default"),
    "float": ("type", "low", "high", "step", "log", "when", "default"),
    "categorical": ("type", "choices", "when", "default"),
}
_CONSTRAINT_KEYS = ("max_util", "min_clock_mhz", "feasible", "max", "min")
_BUDGET_KEYS = ("trials", "timeout_s")
_STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Objective:
    """One objective: a numeric ``cost_models.evaluate`` column and its direction."""

    metric: str
    direction: str


@dataclass(frozen=True)
class Constraints:
    """Feasibility rules. Each becomes one constraint value, feasible when ≤ 0."""

    max_util: Mapping[str, float] = field(default_factory=dict)
    min_clock_mhz: float | None = None
    feasible: bool = True
    max: Mapping[str, float] = field(default_factory=dict)
    min: Mapping[str, float] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Name of each constraint column, in the order :meth:`evaluate` returns them."""
        out = [f"{r}_util<={v:g}" for r, v in self.max_util.items()]
        if self.min_clock_mhz is not None:
            out.append(f"achievable_clock_mhz>={self.min_clock_mhz:g}")
        out += [f"{m}<={v:g}" for m, v in self.max.items()]
        out += [f"{m}>={v:g}" for m, v in self.min.items()]
        if self.feasible:
            out.append("model_feasible")
        return out

    def evaluate(self, df: pd.DataFrame) -> np.ndarray:
        """``(n, c)`` constraint values for evaluated points (≤ 0 satisfied).

        Caps are differences (utilisation) or relative differences (other metrics), so a
        sampler sees how far a point is from feasibility, not just a verdict.
        """
        cols: list[np.ndarray] = []
        for res, cap in self.max_util.items():
            cols.append(df[f"{res}_util"].to_numpy(np.float64) - cap)
        if self.min_clock_mhz is not None:
            ach = df["achievable_clock_mhz"].to_numpy(np.float64)
            cols.append((self.min_clock_mhz - ach) / self.min_clock_mhz)
        for m, v in self.max.items():
            cols.append((df[m].to_numpy(np.float64) - v) / max(abs(v), 1e-12))
        for m, v in self.min.items():
            cols.append((v - df[m].to_numpy(np.float64)) / max(abs(v), 1e-12))
        if self.feasible:
            over = sum(
                np.maximum(df[f"{r}_util"].to_numpy(np.float64) - 1.0, 0.0) for r in cm.RESOURCES
            )
            ok = df["feasible"].to_numpy(bool)
            cols.append(np.where(ok, 0.0, 1.0 + over))
        if not cols:
            return np.zeros((len(df), 0))
        out = np.stack(cols, axis=1)
        return np.where(np.isnan(out), np.inf, out)

    def feasible_mask(self, df: pd.DataFrame) -> np.ndarray:
        """True where every constraint holds."""
        return np.all(self.evaluate(df) <= 0.0, axis=1)


@dataclass(frozen=True)
class Budget:
    trials: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class SamplerSpec:
    name: str = DEFAULT_SAMPLER
    options: Mapping[str, Any] = field(default_factory=dict)
    # Where it was written ("study.yaml:12" or "--set sampler=..."), for option errors.
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class SearchSections:
    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: Constraints
    budget: Budget | None
    sampler: SamplerSpec
    seed: int
    batch_size: int | None
    storage: str | None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return _is_number(v) and float(v) == int(v)


def _check_keys(doc: LocatedYaml, key: str, value: Mapping[str, Any], allowed: Any) -> None:
    for k in value:
        if k not in allowed:
            raise doc.error(
                f"{key}.{k}",
                f"unknown key; expected one of {', '.join(allowed)}",
                cm.did_you_mean(str(k), allowed),
            )
