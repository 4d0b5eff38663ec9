"""Validation of the search sections of a study config.

``space``, ``derived``, ``objectives``, ``constraints``, ``budget``, ``sampler``, ``seed``,
``batch_size`` and ``storage`` are read from the (overridden) YAML here and turned into frozen
objects; every error names the file, the dotted key, its line and what was expected.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse._expr import ExprError, compile_expr
from dse.config._yaml import LocatedYaml
from dse.errors import ConfigError
from dse.samplers import DEFAULT_SAMPLER, SAMPLERS
from dse.space import PARAM_TYPES, ParamSpec, SearchSpace, is_numeric

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


def parse_sections(
    doc: LocatedYaml, data: Mapping[str, Any], arch: str, platform: cm.Platform, baseline: bool
) -> SearchSections:
    design = dict(data.get("design") or {})
    specs = cm.param_specs(arch, platform)
    space = _parse_space(doc, data.get("space"), design, specs, arch, platform)
    objectives = _parse_objectives(doc, data.get("objectives"), baseline)
    if space and not objectives:
        raise ConfigError(
            doc.source,
            "objectives",
            "missing; a study with space: needs objectives, e.g. "
            "[{metric: decode_tokens_per_s, direction: maximize}]",
            doc.line("space"),
        )
    constraints = _parse_constraints(doc, data.get("constraints"))
    budget = _parse_budget(doc, data)
    sampler = _parse_sampler(doc, data.get("sampler", DEFAULT_SAMPLER))
    if sampler.name in ENUMERATING and space and space.size() is None:
        floats = [p.name for p in space.params if p.size() is None]
        raise doc.error(
            "sampler",
            f"{sampler.name} enumerates the space, but space.{floats[0]} is a float without "
            "step:; give it a step or pick another sampler",
        )
    seed = data.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise doc.error("seed", f"expected a non-negative integer, got {seed!r}")
    batch = data.get("batch_size")
    if batch is not None and (not _is_int(batch) or not 1 <= batch <= 100_000):
        raise doc.error("batch_size", f"expected an integer in [1, 100000], got {batch!r}")
    storage = data.get("storage")
    if storage is not None:
        scheme = str(storage).partition(":")[0].partition("+")[0]
        if not isinstance(storage, str) or "://" not in storage or scheme not in _STORAGE_SCHEMES:
            raise doc.error(
                "storage",
                "expected a database URL such as sqlite:///results/<name>/optuna.db or "
                f"postgresql://user@host:5432/db, got {storage!r}",
            )
    return SearchSections(
        space,
        objectives,
        constraints,
        budget,
        sampler,
        int(seed),
        None if batch is None else int(batch),
        storage,
    )


def _parse_space(
    doc: LocatedYaml,
    raw: Any,
    design: dict[str, Any],
    specs: Mapping[str, cm.Param],
    arch: str,
    platform: cm.Platform,
) -> SearchSpace:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise doc.error("space", "expected a mapping of parameter name -> {type, low, high, ...}")
    params: list[ParamSpec] = []
    known = set(design)
    for name, entry in raw.items():
        key = f"space.{name}"
        if name not in specs:
            raise doc.error(
                key,
                f"unknown {arch} design parameter; expected one of {', '.join(sorted(specs))}",
                cm.did_you_mean(str(name), specs),
            )
        if name in design:
            raise doc.error(
                key,
                f"also fixed in design: (line {doc.line(f'design.{name}')}); a parameter is "
                "either fixed or searched — remove one of them",
            )
        p = _parse_param(doc, key, str(name), entry, known)
        _check_against_model(doc, key, p, specs[str(name)], arch, platform)
        params.append(p)
        known.add(str(name))
    derived = _parse_derived(doc, raw, design, specs, known, arch)
    space = SearchSpace(tuple(params), tuple(derived), design)
    if space:
        _check_sample(doc, space, arch, platform)
    return space


def _parse_param(doc: LocatedYaml, key: str, name: str, entry: Any, known: set[str]) -> ParamSpec:
    spec = _parse_domain(doc, key, name, entry, known)
    if not isinstance(entry, Mapping) or entry.get("default") is None:
        return spec
    value = entry["default"]
    if spec.type == "categorical":
        ok = value in spec.choices
        expected = f"one of its choices {list(spec.choices)}"
    else:
        assert spec.low is not None and spec.high is not None
        ok = _is_number(value) and spec.low <= value <= spec.high
        if spec.type in ("int", "pow2"):
            ok = ok and _is_int(value)
        if spec.type == "pow2":
            ok = ok and not int(value) & (int(value) - 1)
        expected = f"a value of type {spec.type} in [{spec.low:g}, {spec.high:g}]"
    if not ok:
        raise doc.error(f"{key}.default", f"expected {expected}, got {value!r}")
    return replace(spec, default=value)


def _parse_domain(doc: LocatedYaml, key: str, name: str, entry: Any, known: set[str]) -> ParamSpec:
    if isinstance(entry, list):
        entry = {"type": "categorical", "choices": entry}  # shorthand: a list of choices
    if not isinstance(entry, Mapping):
        raise doc.error(
            key,
            "expected a mapping like {type: int, low: 1, high: 8} or a list of choices",
        )
    kind = entry.get("type")
    if kind not in PARAM_TYPES:
        raise doc.error(
            f"{key}.type",
            f"expected one of {', '.join(PARAM_TYPES)}, got {kind!r}",
            cm.did_you_mean(str(kind), PARAM_TYPES),
        )
    _check_keys(doc, key, entry, _PARAM_KEYS[kind])
    when = None
    if entry.get("when") is not None:
        try:
            when = compile_expr(entry["when"])
        except ExprError as exc:
            raise doc.error(f"{key}.when", str(exc)) from None
        for n in sorted(when.names):
            if n not in known:
                raise doc.error(
                    f"{key}.when",
                    f"{n!r} is not a design parameter or a space parameter declared "
                    f"before {name!r}",
                    cm.did_you_mean(n, sorted(known)),
                )
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise doc.error(f"{key}.choices", f"expected a non-empty list, got {choices!r}")
        for i, c in enumerate(choices):
            if not isinstance(c, str | int | float | bool):
                raise doc.error(f"{key}.choices[{i}]", f"expected a scalar, got {c!r}")
        if len(set(map(repr, choices))) != len(choices):
            raise doc.error(f"{key}.choices", f"has duplicates: {choices!r}")
        return ParamSpec(name, kind, choices=tuple(choices), when=when)
    for bound in ("low", "high"):
        if bound not in entry:
            raise doc.error(f"{key}.{bound}", f"missing; a {kind} parameter needs low and high")
        if not _is_number(entry[bound]):
            raise doc.error(f"{key}.{bound}", f"expected a number, got {entry[bound]!r}")
    low, high = float(entry["low"]), float(entry["high"])
    if low > high:
        raise doc.error(f"{key}.low", f"low ({low:g}) is greater than high ({high:g})")
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise doc.error(f"{key}.log", f"expected true or false, got {log!r}")
    step = entry.get("step")
    if kind == "pow2":
        for bound, v in (("low", low), ("high", high)):
            if v < 1 or not _is_int(v) or int(v) & (int(v) - 1):
                raise doc.error(f"{key}.{bound}", f"expected a power of two, got {v:g}")
        return ParamSpec(name, kind, low, high, when=when)
    if kind == "int":
        for bound, v in (("low", low), ("high", high)):
            if not _is_int(v):
                raise doc.error(f"{key}.{bound}", f"expected an integer, got {v:g}")
        if step is not None and (not _is_int(step) or step < 1):
            raise doc.error(f"{key}.step", f"expected a positive integer, got {step!r}")
    elif step is not None and (not _is_number(step) or step <= 0):
        raise doc.error(f"{key}.step", f"expected a positive number, got {step!r}")
    if log and step is not None and step != 1:
        raise doc.error(f"{key}.step", "log: true cannot be combined with a step other than 1")
    if log and low <= 0:
        raise doc.error(f"{key}.low", f"log: true needs low > 0, got {low:g}")
    if (
        step is not None
        and kind == "float"
        and abs((high - low) / step - round((high - low) / step)) > 1e-9
    ):
        raise doc.error(
            f"{key}.step", f"high - low ({high - low:g}) is not a multiple of step ({step:g})"
        )
    return ParamSpec(
        name,
        kind,
        low,
        high,
        None if step is None or (kind == "int" and step == 1) else float(step),
        log,
        when=when,
    )


def _check_against_model(
    doc: LocatedYaml, key: str, p: ParamSpec, spec: cm.Param, arch: str, platform: cm.Platform
) -> None:
    """Every value the parameter can take must be valid for the cost model's own spec."""
    if spec.kind in ("cat", "bool") and p.type != "categorical":
        raise doc.error(
            f"{key}.type",
            f"{p.name} takes {spec.expected()}; search it as type: categorical",
        )
    if spec.kind == "int" and p.type == "float":
        raise doc.error(f"{key}.type", f"{p.name} is an integer; use type: int or pow2")
    probes: list[tuple[str, Any]]
    if p.type == "categorical":
        probes = [(f"{key}.choices[{i}]", c) for i, c in enumerate(p.choices)]
    else:
        probes = [(f"{key}.low", p.low), (f"{key}.high", p.high)]
    for where, value in probes:
        try:
            cm.check_written({p.name: value}, {p.name: spec}, doc.source)
            cm.normalise({p.name: value}, arch, platform)
        except cm.InputError as exc:
            raise doc.error(where, exc.expected, exc.hint) from None


def _parse_derived(
    doc: LocatedYaml,
    space_raw: Mapping[str, Any],
    design: Mapping[str, Any],
    specs: Mapping[str, cm.Param],
    known: set[str],
    arch: str,
) -> list[tuple[str, Any]]:
    raw = doc.data.get("derived")
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise doc.error("derived", "expected a mapping of parameter name -> expression")
    out: list[tuple[str, Any]] = []
    env = set(known)
    for name, text in raw.items():
        key = f"derived.{name}"
        if name not in specs:
            raise doc.error(
                key,
                f"unknown {arch} design parameter; expected one of {', '.join(sorted(specs))}",
                cm.did_you_mean(str(name), specs),
            )
        if name in design or name in space_raw:
            where = "design" if name in design else "space"
            raise doc.error(key, f"also set in {where}:; a derived parameter is computed instead")
        if _is_number(text):
            text = repr(text)
        try:
            expr = compile_expr(text)
        except ExprError as exc:
            raise doc.error(key, str(exc)) from None
        for n in sorted(expr.names):
            if n not in env:
                raise doc.error(
                    key,
                    f"{n!r} is not a design, space or earlier derived parameter",
                    cm.did_you_mean(n, sorted(env)),
                )
        out.append((str(name), expr))
        env.add(str(name))
    return out


def _check_sample(doc: LocatedYaml, space: SearchSpace, arch: str, platform: cm.Platform) -> None:
    """Evaluate conditions and derived expressions on corner and random points."""
    try:
        cols = sample_columns(space, 256, np.random.default_rng(0))
    except WhenFailed as exc:
        raise doc.error(f"space.{exc.name}.when", f"cannot be evaluated: {exc.cause}") from None
    env: dict[str, Any] = {**space.design, **cols}
    for p in space.params:
        if p.when is not None:
            try:
                np.asarray(p.when.evaluate(env), dtype=bool)
            except Exception as exc:
                raise doc.error(f"space.{p.name}.when", f"cannot be evaluated: {exc}") from None
    for name, expr in space.derived:
        try:
            value = np.asarray(expr.evaluate(env))
            env[name] = np.broadcast_to(value, (256,)) if value.ndim == 0 else value
            cm.normalise({name: env[name]}, arch, platform)
        except cm.InputError as exc:
            raise doc.error(
                f"derived.{name}", f"gives invalid values: {exc.expected}", exc.hint
            ) from None
        except Exception as exc:
            raise doc.error(f"derived.{name}", f"cannot be evaluated: {exc}") from None
    _check_corners(doc, space, cols)


def _check_corners(doc: LocatedYaml, space: SearchSpace, cols: Mapping[str, np.ndarray]) -> None:
    """The low and high corners again as one trial sees them: integer parameters as Python
    ints, where integer arithmetic (not float) decides whether a derived value overflows."""
    for row in (0, 1):
        env: dict[str, Any] = dict(space.design)
        for p in space.params:
            v = cols[p.name][row]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue  # its when: is false at this corner
            env[p.name] = int(v) if p.type in ("int", "pow2") else _scalar(v)
        for name, expr in space.derived:
            if not expr.names <= env.keys():
                break
            try:
                env[name] = expr.evaluate(env)
            except Exception as exc:
                raise doc.error(f"derived.{name}", f"cannot be evaluated: {exc}") from None


class WhenFailed(Exception):
    """A parameter's ``when:`` raised on the sampled values (``_check_sample`` reports it)."""

    def __init__(self, name: str, cause: Exception) -> None:
        super().__init__(f"{name}: {cause}")
        self.name, self.cause = name, cause


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def sample_columns(space: SearchSpace, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` points (low and high corners first, then random) as design-unit columns."""
    cols: dict[str, np.ndarray] = {}
    env: dict[str, Any] = dict(space.design)
    for p in space.params:
        vals = p.values()
        if vals is None:
            assert p.low is not None and p.high is not None
            col: np.ndarray = rng.uniform(p.low, p.high, n)
            col[0], col[1 % n] = p.low, p.high
        else:
            arr = np.asarray(vals, dtype=object)
            col = arr[rng.integers(0, len(arr), n)]
            col[0], col[1 % n] = arr[0], arr[-1]
            if is_numeric(vals):
                col = col.astype(np.float64)
        if p.when is not None:
            try:
                on = np.asarray(p.when.evaluate({**env, **cols}), dtype=bool)
                on = np.broadcast_to(on, (n,))
            except Exception as exc:  # e.g. "sparsity > 3" compares text with a number
                raise WhenFailed(p.name, exc) from exc
            fill: Any = None if col.dtype == object else np.nan
            col = np.where(on, col, fill)
        cols[p.name] = col
    return cols


def _parse_objectives(doc: LocatedYaml, raw: Any, baseline: bool) -> tuple[Objective, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise doc.error(
            "objectives",
            "expected a non-empty list like [{metric: decode_tokens_per_s, direction: maximize}]",
        )
    out: list[Objective] = []
    for i, entry in enumerate(raw):
        key = f"objectives[{i}]"
        if not isinstance(entry, Mapping):
            raise doc.error(key, f"expected a mapping {{metric, direction}}, got {entry!r}")
        _check_keys(doc, key, entry, ("metric", "direction"))
        metric, direction = entry.get("metric"), entry.get("direction")
        if metric not in METRICS:
            raise doc.error(
                f"{key}.metric",
                f"unknown metric {metric!r}; expected a numeric cost-model column "
                f"({', '.join(METRICS)})",
                cm.did_you_mean(str(metric), METRICS),
            )
        if metric in _GPU_METRICS and not baseline:
            raise doc.error(f"{key}.metric", f"{metric} needs a GPU baseline: (it is null)")
        if direction not in DIRECTIONS:
            raise doc.error(
                f"{key}.direction",
                f"expected maximize or minimize, got {direction!r}",
                cm.did_you_mean(str(direction), DIRECTIONS),
            )
        if any(o.metric == metric for o in out):
            raise doc.error(f"{key}.metric", f"{metric} is already an objective")
        out.append(Objective(str(metric), str(direction)))
    return tuple(out)


def _parse_constraints(doc: LocatedYaml, raw: Any) -> Constraints:
    if raw is None:
        return Constraints()
    if not isinstance(raw, Mapping):
        raise doc.error("constraints", "expected a mapping (max_util, min_clock_mhz, feasible, …)")
    _check_keys(doc, "constraints", raw, _CONSTRAINT_KEYS)
    caps = {} if raw.get("max_util") is None else raw["max_util"]
    if not isinstance(caps, Mapping):
        raise doc.error("constraints.max_util", "expected a mapping resource -> fraction")
    for res, v in caps.items():
        if res not in cm.RESOURCES:
            raise doc.error(
                f"constraints.max_util.{res}",
                f"unknown resource; expected one of {', '.join(cm.RESOURCES)}",
                cm.did_you_mean(str(res), cm.RESOURCES),
            )
        if not _is_number(v) or not 0 < v <= 1:
            raise doc.error(
                f"constraints.max_util.{res}", f"expected a fraction in (0, 1], got {v!r}"
            )
    clock = raw.get("min_clock_mhz")
    if clock is not None and (not _is_number(clock) or clock <= 0):
        raise doc.error("constraints.min_clock_mhz", f"expected a positive number, got {clock!r}")
    feasible = raw.get("feasible", True)
    if not isinstance(feasible, bool):
        raise doc.error("constraints.feasible", f"expected true or false, got {feasible!r}")
    bounds: dict[str, dict[str, float]] = {}
    for side in ("max", "min"):
        m = {} if raw.get(side) is None else raw[side]
        if not isinstance(m, Mapping):
            raise doc.error(f"constraints.{side}", "expected a mapping metric -> value")
        for metric, v in m.items():
            key = f"constraints.{side}.{metric}"
            if metric not in METRICS:
                raise doc.error(
                    key,
                    "unknown metric; expected a numeric cost-model column",
                    cm.did_you_mean(str(metric), METRICS),
                )
            if not _is_number(v):
                raise doc.error(key, f"expected a number, got {v!r}")
        bounds[side] = {str(k): float(v) for k, v in m.items()}
    return Constraints(
        {str(k): float(v) for k, v in caps.items()},
        None if clock is None else float(clock),
        feasible,
        bounds["max"],
        bounds["min"],
    )


def _parse_budget(doc: LocatedYaml, data: Mapping[str, Any]) -> Budget | None:
    if "budget" not in data:
        return None
    raw = data["budget"]
    if not isinstance(raw, Mapping):
        raise doc.error("budget", "expected a mapping with trials: and/or timeout_s:")
    _check_keys(doc, "budget", raw, _BUDGET_KEYS)
    trials, timeout = raw.get("trials"), raw.get("timeout_s")
    if trials is None and timeout is None:
        raise doc.error("budget", "has neither trials: nor timeout_s:; set at least one")
    if trials is not None and (not _is_int(trials) or trials < 1):
        raise doc.error("budget.trials", f"expected a positive integer, got {trials!r}")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        raise doc.error(
            "budget.timeout_s", f"expected a positive number of seconds, got {timeout!r}"
        )
    return Budget(
        None if trials is None else int(trials), None if timeout is None else float(timeout)
    )


def _closest(value: str, choices: tuple[str, ...]) -> str:
    """ "did you mean" preferring the earlier choice on ties (nsga -> nsga2, not nsga3)."""
    scores = [difflib.SequenceMatcher(None, value.lower(), c).ratio() for c in choices]
    best = max(scores)
    return f"did you mean {choices[scores.index(best)]!r}?" if best >= 0.6 else ""


def _parse_sampler(doc: LocatedYaml, raw: Any) -> SamplerSpec:
    options: dict[str, Any] = {}
    key = "sampler"
    if isinstance(raw, Mapping):
        options = {str(k): v for k, v in raw.items() if k != "name"}
        name = raw.get("name")
        key = "sampler.name"
    else:
        name = raw
    if not isinstance(name, str) or name not in SAMPLERS:
        raise doc.error(
            key,
            f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}",
            _closest(str(name), SAMPLERS),
        )
    return SamplerSpec(str(name), options, doc.where("sampler"))
