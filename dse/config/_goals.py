"""The ``objectives:``, ``constraints:``, ``budget:`` and ``sampler:`` sections."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import cost_models as cm
from dse.config._sections import (
    _BUDGET_KEYS,
    _CONSTRAINT_KEYS,
    _GPU_METRICS,
    DIRECTIONS,
    METRICS,
    Budget,
    Constraints,
    Objective,
    SamplerSpec,
    _check_keys,
    _is_int,
    _is_number,
)
from dse.config._yaml import LocatedYaml
from dse.samplers import SAMPLERS


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
