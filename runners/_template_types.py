"""Template records: parameters, tests, cost-model terms and the parameter resolution."""

from __future__ import annotations

import functools
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from runners._errors import TemplateError

ParamValue = int | str
# Constraints and derivations are manifest text, so evaluate them in Jinja's sandbox rather
# than with eval().
_EXPR_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined)


def expr_names(expr: str) -> frozenset[str]:
    """Names an expression reads (raises ``jinja2.TemplateSyntaxError`` when malformed)."""
    return _expr_names(expr)


# Parsing and compiling a Jinja expression takes about a millisecond; a sweep's build loop
# resolves template parameters for thousands of points, so each expression is done once.
@functools.lru_cache(maxsize=4096)
def _expr_names(expr: str) -> frozenset[str]:
    return frozenset(jinja2.meta.find_undeclared_variables(_EXPR_ENV.parse(f"{{{{{expr}}}}}")))


@functools.lru_cache(maxsize=4096)
def compiled_expr(expr: str) -> Any:
    """The sandboxed callable of an expression (``compiled_expr(e)(**names)``), cached."""
    return _EXPR_ENV.compile_expression(expr, undefined_to_none=False)


def _show(value: object) -> str:
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return str(int(value)) if is_int else repr(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ModelTerm:
    """One ``model`` entry: a cost-model unit, when it applies, and its parameters."""

    unit: str
    when: str  # expression over template parameters; "" = always
    params: tuple[tuple[str, str], ...]  # (unit parameter, expression over template params)


@dataclass(frozen=True)
class TemplateParam:
    """One template parameter and its allowed values."""

    name: str
    type: str  # int | str | bool (bools resolve to 0/1 so Verilog can use them)
    default: ParamValue
    point_key: str | None = None
    doc: str = ""
    min: int | None = None
    max: int | None = None
    pow2: bool = False
    choices: tuple[ParamValue, ...] = ()

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.choices:
            return f"one of {list(self.choices)}"
        if self.type != "int":
            return "a string" if self.type == "str" else "a boolean (0/1 or true/false)"
        text = "a power of two" if self.pow2 else "an integer"
        if self.min is not None and self.max is not None:
            return f"{text} in [{self.min}, {self.max}]"
        if self.min is not None or self.max is not None:
            return f"{text} >= {self.min}" if self.max is None else f"{text} <= {self.max}"
        return text

    def coerce(self, raw: object) -> ParamValue | None:
        """Return the normalised value, or None when ``raw`` is not allowed."""
        value: ParamValue
        if self.type == "str":
            if not isinstance(raw, str):
                return None
            value = raw
        elif self.type == "bool":
            if not isinstance(raw, bool | numbers.Integral) or int(raw) not in (0, 1):
                return None
            value = int(raw)
        else:
            # Points that went through pandas hold 8.0 for 8; a bool is never an int here.
            integral = isinstance(raw, numbers.Integral) and not isinstance(raw, bool)
            if not integral and not (isinstance(raw, float) and raw.is_integer()):
                return None
            num = int(raw)  # type: ignore[call-overload]
            lo = self.min if self.min is not None else num
            hi = self.max if self.max is not None else num
            if not lo <= num <= hi or (self.pow2 and (num <= 0 or num & (num - 1))):
                return None
            value = num
        return None if self.choices and value not in self.choices else value


@dataclass(frozen=True)
class TemplateTest:
    """The manifest's ``test`` section: which tool checks the template, at which settings."""

    tool: str  # iverilog | g++ | golden
    testbench: str | None
    settings: tuple[Mapping[str, Any], ...] = field(hash=False)


@dataclass(frozen=True)
class Template:
    """A loaded, validated template manifest."""

    name: str
    kind: str
    top: str
    flows: tuple[str, ...]
    sources: tuple[str, ...]  # paths relative to ``folder``; may point into a sibling folder
    parameters: Mapping[str, TemplateParam] = field(hash=False)
    folder: Path
    description: str = ""
    test: TemplateTest | None = field(default=None, hash=False)
    context: Mapping[str, Any] = field(default_factory=dict, hash=False)  # name -> default
    constraints: tuple[tuple[str, str], ...] = ()  # (expression, explanation)
    derive: tuple[tuple[str, str], ...] = ()  # (point key, expression over design-point keys)
    model: tuple[ModelTerm, ...] = ()
    # A Python module that writes generated sources into each bundle (``runners._bundle``);
    # its parameters are then the generator's inputs, not the top's HDL parameters.
    generator: str = ""

    def derived_keys(self, point: Mapping[str, object]) -> dict[str, object]:
        """Point keys the manifest's ``derive`` section computes from ``point``.

        A key the point already holds is kept as given; an expression naming a key the
        point lacks is skipped (the parameter then takes its default).
        """
        out: dict[str, object] = {}
        for key, expr in self.derive:
            if key in point or not expr_names(expr) <= point.keys():
                continue
            try:
                out[key] = compiled_expr(expr)(**point)
            except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError) as exc:
                raise TemplateError(
                    f"template '{self.name}': derive.{key} = {expr!r} failed on the design "
                    f"point: {type(exc).__name__}: {exc}"
                ) from exc
        return out

    def resolve_params(self, point: Mapping[str, object]) -> dict[str, ParamValue]:
        """Map a design point onto this template's parameters.

        Each parameter is read from the point under its ``point_key``, else under its own
        name, else from the ``derive`` section (cost-model keys such as ``mv_n`` or
        ``quant``), else it takes its default.
        """
        derived = self.derived_keys(point)
        point = {**derived, **point}
        out: dict[str, ParamValue] = {}
        for p in self.parameters.values():
            key = next((k for k in (p.point_key, p.name) if k is not None and k in point), None)
            raw = point[key] if key is not None else p.default
            value = p.coerce(raw)
            if value is None:
                src = f"from design point key '{key}'" if key is not None else "the default"
                if key in derived:
                    src = f"derived from the design point by {dict(self.derive)[key]!r}"
                raise TemplateError(
                    f"template '{self.name}': parameter {p.name}={_show(raw)} must be "
                    f"{p.allowed()} ({src})"
                )
            out[p.name] = value
        for expr, why in self.constraints:
            if not compiled_expr(expr)(**out):
                names = expr_names(expr)
                shown = ", ".join(f"{n}={_show(out[n])}" for n in sorted(names))
                because = f" ({why})" if why else ""
                raise TemplateError(
                    f"template '{self.name}': parameters {shown} violate {expr!r}{because}"
                )
        return out

    def model_terms(self, params: Mapping[str, ParamValue]) -> list[tuple[str, dict[str, int]]]:
        """The cost-model units (``cost_models.unit_resources``) that predict this template.

        ``params`` are resolved parameters; returns ``(unit, unit parameters)`` for every
        ``model`` term whose ``when`` holds.
        """

        def value(expr: str) -> Any:
            return compiled_expr(expr)(**params)

        return [
            (term.unit, {k: int(value(e)) for k, e in term.params})
            for term in self.model
            if not term.when or value(term.when)
        ]

    def hdl_params(self, params: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
        """The resolved ``params`` the top module takes as HDL parameters: all of them, or
        none for a generated top (the generator has already applied them)."""
        return {} if self.generator else dict(params)

    def chparam_command(self, point: Mapping[str, object]) -> str:
        """Yosys ``chparam`` command setting the top module's parameters for a design point
        ("" when the top takes none)."""
        params = self.hdl_params(self.resolve_params(point))
        sets = (f"-set {k} {json.dumps(v)}" for k, v in params.items())
        return f"chparam {' '.join(sets)} {self.top}" if params else ""

    def output_name(self, source: str) -> str:
        """File name a source renders to: folder dropped, ``.j2`` suffix dropped."""
        return Path(source).name.removesuffix(".j2")
