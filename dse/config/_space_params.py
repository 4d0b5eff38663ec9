"""The ``space:`` and ``derived:`` sections: searched parameters and derived expressions,
checked against the cost model's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import cost_models as cm
from dse._expr import ExprError, compile_expr
from dse.config._sections import _PARAM_KEYS, _check_keys, _is_int, _is_number
from dse.config._space_check import _check_sample
from dse.config._yaml import LocatedYaml
from dse.space import PARAM_TYPES, ParamSpec, SearchSpace


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
    when = _parse_when(doc, key, name, entry.get("when"), known)
    if kind == "categorical":
        return ParamSpec(name, kind, choices=_parse_choices(doc, key, entry), when=when)
    return _parse_range(doc, key, name, kind, entry, when)


def _parse_when(doc: LocatedYaml, key: str, name: str, text: Any, known: set[str]) -> Any:
    """A parameter's ``when:`` compiled; it may name only parameters declared before it."""
    if text is None:
        return None
    try:
        when = compile_expr(text)
    except ExprError as exc:
        raise doc.error(f"{key}.when", str(exc)) from None
    for n in sorted(when.names):
        if n not in known:
            raise doc.error(
                f"{key}.when",
                f"{n!r} is not a design parameter or a space parameter declared before {name!r}",
                cm.did_you_mean(n, sorted(known)),
            )
    return when


def _parse_choices(doc: LocatedYaml, key: str, entry: Mapping[str, Any]) -> tuple[Any, ...]:
    choices = entry.get("choices")
    if not isinstance(choices, list) or not choices:
        raise doc.error(f"{key}.choices", f"expected a non-empty list, got {choices!r}")
    for i, c in enumerate(choices):
        if not isinstance(c, str | int | float | bool):
            raise doc.error(f"{key}.choices[{i}]", f"expected a scalar, got {c!r}")
    if len(set(map(repr, choices))) != len(choices):
        raise doc.error(f"{key}.choices", f"has duplicates: {choices!r}")
    return tuple(choices)


def _parse_range(
    doc: LocatedYaml, key: str, name: str, kind: str, entry: Mapping[str, Any], when: Any
) -> ParamSpec:
    """An int, float or pow2 parameter: low/high, and step/log where the type allows."""
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
    if kind == "pow2":
        for bound, v in (("low", low), ("high", high)):
            if v < 1 or not _is_int(v) or int(v) & (int(v) - 1):
                raise doc.error(f"{key}.{bound}", f"expected a power of two, got {v:g}")
        return ParamSpec(name, kind, low, high, when=when)
    step = _parse_step(doc, key, kind, entry.get("step"), low, high, log)
    step = None if step is None or (kind == "int" and step == 1) else float(step)
    return ParamSpec(name, kind, low, high, step, log, when=when)


def _parse_step(
    doc: LocatedYaml, key: str, kind: str, step: Any, low: float, high: float, log: bool
) -> Any:
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
    return step


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
