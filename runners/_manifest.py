"""Manifest parsing: every error names the manifest file, the key and what was expected."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, ValidationError

from cost_models._safeload import UnsafeInput, load_yaml, read_text
from runners._errors import TemplateError
from runners._template_types import (
    ModelTerm,
    Template,
    TemplateParam,
    TemplateTest,
    expr_names,
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ParamSpec(_Spec):
    type: Literal["int", "str", "bool"] = "int"
    default: Any  # checked against the other fields by TemplateParam.coerce
    min: int | None = None
    max: int | None = None
    pow2: bool = False
    choices: list[Any] = []
    point_key: str | None = None
    doc: str = ""


class _ConstraintSpec(_Spec):
    expr: str
    doc: str = ""


class _ContextSpec(_Spec):
    default: Any = None
    doc: str = ""


class _ModelTermSpec(_Spec):
    unit: str
    when: str = ""
    params: dict[str, str | int]


class _TestSpec(_Spec):
    simulator: str | None = None
    compiler: str | None = None
    testbench: str | None = None
    settings: list[dict[str, Any]] = []


class _ManifestSpec(_Spec):
    version: Literal[1]
    name: str
    kind: Literal["rtl", "hls", "script"]
    description: str = ""
    top: str | None = None
    generator: str | None = None
    flows: list[str]
    sources: list[str]
    parameters: dict[str, _ParamSpec] = {}
    constraints: list[_ConstraintSpec] = []
    context: dict[str, _ContextSpec] = {}
    derive: dict[str, str] = {}
    model: list[_ModelTermSpec] = []
    test: _TestSpec | None = None


_MODULE_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _bad(path: Path, key: str, expected: str, got: object) -> TemplateError:
    return TemplateError(f"{path}: key '{key}': expected {expected}, got {got!r}")


def _schema_error(path: Path, exc: ValidationError) -> TemplateError:
    err = exc.errors()[0]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    key = key or "<document>"
    if err["type"] == "missing":
        return TemplateError(f"{path}: key '{key}': expected a value (the key is missing)")
    if err["type"] == "extra_forbidden":
        allowed = "see templates/README.md for the manifest schema"
        return TemplateError(f"{path}: key '{key}': expected no such key ({allowed})")
    expected = err["msg"].removeprefix("Input should be ").removeprefix("a valid ")
    return _bad(
        path, key, re.sub(r"dictionary( or instance of \w+)?", "mapping", expected), err["input"]
    )


def _param(path: Path, name: str, spec: _ParamSpec) -> TemplateParam:
    where = f"parameters.{name}"
    base = TemplateParam(name, spec.type, 0, spec.point_key, spec.doc, spec.min, spec.max)
    param = replace(base, pow2=spec.pow2, choices=tuple(spec.choices))
    for i, choice in enumerate(spec.choices):
        if type(choice) is not (str if spec.type == "str" else int):
            raise _bad(path, f"{where}.choices[{i}]", f"a value of type {spec.type}", choice)
    default = param.coerce(spec.default)
    if default is None:
        raise _bad(path, where + ".default", param.allowed(), spec.default)
    return replace(param, default=default)


def _expr(path: Path, key: str, expr: str, names: set[str] | None) -> str:
    """Check that ``expr`` parses and (when ``names`` is given) reads only those names."""
    try:
        used = expr_names(expr)
    except jinja2.TemplateSyntaxError as exc:
        raise _bad(path, key, f"an expression ({exc})", expr) from exc
    if names is not None and not used <= names:
        unknown = ", ".join(sorted(used - names))
        raise _bad(path, key, f"an expression over parameters (unknown: {unknown})", expr)
    return expr


def _constraint(path: Path, i: int, spec: _ConstraintSpec, names: set[str]) -> tuple[str, str]:
    return _expr(path, f"constraints[{i}].expr", spec.expr, names), spec.doc


def _model_term(path: Path, i: int, spec: _ModelTermSpec, names: set[str]) -> ModelTerm:
    where = f"model[{i}]"
    when = _expr(path, f"{where}.when", spec.when, names) if spec.when else ""
    params = tuple(
        (k, _expr(path, f"{where}.params.{k}", str(e), names)) for k, e in spec.params.items()
    )
    return ModelTerm(spec.unit, when, params)


def _derive(
    path: Path, spec: _ManifestSpec, params: dict[str, TemplateParam]
) -> tuple[tuple[str, str], ...]:
    keys = {p.point_key for p in params.values() if p.point_key} | set(params)
    out = []
    for key, expr in spec.derive.items():
        if key not in keys:
            raise _bad(path, f"derive.{key}", "a parameter's point_key or name", key)
        out.append((key, _expr(path, f"derive.{key}", expr, None)))
    return tuple(out)


def parse_manifest(path: Path, root: Path) -> Template:
    """Load and validate one manifest file (``root`` is the templates folder)."""
    try:
        spec = _ManifestSpec.model_validate(load_yaml(read_text(path)))
    except UnsafeInput as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise TemplateError(f"{where}: {exc.key + ': ' if exc.key else ''}{exc.reason}") from None
    except ValidationError as exc:
        raise _schema_error(path, exc) from exc
    if spec.name != path.parent.name:
        raise _bad(path, "name", f"the folder name {path.parent.name!r}", spec.name)
    for i, src in enumerate(spec.sources):
        full = (path.parent / src).resolve()
        if not full.is_file() or not full.is_relative_to(root.resolve()):
            raise _bad(path, f"sources[{i}]", f"an existing file under {root}", src)
    if len({Path(s).name.removesuffix(".j2") for s in spec.sources}) != len(spec.sources):
        raise _bad(path, "sources", "files that render to distinct names", spec.sources)
    params = {name: _param(path, name, p) for name, p in spec.parameters.items()}
    test = None
    if spec.test is not None:
        bench = spec.test.testbench
        if bench is not None and not (path.parent / bench).is_file():
            raise _bad(path, "test.testbench", "an existing file in the template folder", bench)
        tool = spec.test.simulator or spec.test.compiler or "golden"
        test = TemplateTest(tool, bench, tuple(spec.test.settings))
    if spec.generator is not None and not _MODULE_RE.fullmatch(spec.generator):
        raise _bad(path, "generator", "a Python module path (e.g. spatial.flow)", spec.generator)
    if spec.top is None and spec.kind != "script":
        raise TemplateError(f"{path}: key 'top': expected a value (the key is missing)")
    template = Template(
        name=spec.name,
        kind=spec.kind,
        top=spec.top or spec.name,
        generator=spec.generator or "",
        flows=tuple(spec.flows),
        sources=tuple(spec.sources),
        parameters=params,
        folder=path.parent,
        description=spec.description,
        test=test,
        context={k: c.default for k, c in spec.context.items()},
        constraints=tuple(
            _constraint(path, i, c, set(params)) for i, c in enumerate(spec.constraints)
        ),
        derive=_derive(path, spec, params),
        model=tuple(_model_term(path, i, t, set(params)) for i, t in enumerate(spec.model)),
    )
    # Defaults and test settings must pass validation too: fail at load time, not mid-sweep.
    for i, setting in enumerate([{}, *(test.settings if test else ())]):
        key = f"test.settings[{i - 1}]" if i else "parameters"
        unknown = sorted(set(setting) - params.keys() - template.context.keys())
        if unknown:
            raise _bad(path, key, "only parameter or context names", unknown)
        try:
            template.model_terms(template.resolve_params(setting))
        except TemplateError as exc:
            raise TemplateError(f"{path}: key '{key}': {exc}") from exc
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            raise _bad(path, "model", f"terms that evaluate ({exc})", key) from exc
    return template
