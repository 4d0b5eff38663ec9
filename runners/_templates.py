"""Design templates: load ``templates/<name>/manifest.yaml``, check parameters, render files.

A template is a folder of RTL, HLS C++ or tool-script sources plus a manifest describing its
parameters. ``Template.resolve_params`` maps a design point onto those parameters and
``render_template`` writes the (Jinja2-rendered) sources and a ``params.json`` to a folder.
"""

from __future__ import annotations

import copy
import json
import numbers
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, ValidationError

from runners._errors import TemplateError

ParamValue = int | str
_DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "templates"


def templates_root() -> Path:
    """The templates folder: ``$DSE_TEMPLATES`` if set, else the repository's ``templates/``."""
    return Path(os.environ.get("DSE_TEMPLATES") or _DEFAULT_ROOT)


TEMPLATES_ROOT = templates_root()
# Constraints are manifest text, so evaluate them in Jinja's sandbox rather than with eval().
_EXPR_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined)


def _show(value: object) -> str:
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return str(int(value)) if is_int else repr(value)  # type: ignore[call-overload]


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

    def resolve_params(self, point: Mapping[str, object]) -> dict[str, ParamValue]:
        """Map a design point onto this template's parameters (defaults fill the gaps)."""
        out: dict[str, ParamValue] = {}
        for p in self.parameters.values():
            key = next((k for k in (p.point_key, p.name) if k is not None and k in point), None)
            raw = point[key] if key is not None else p.default
            value = p.coerce(raw)
            if value is None:
                src = f"from design point key '{key}'" if key is not None else "the default"
                raise TemplateError(
                    f"template '{self.name}': parameter {p.name}={_show(raw)} must be "
                    f"{p.allowed()} ({src})"
                )
            out[p.name] = value
        for expr, why in self.constraints:
            if not _EXPR_ENV.compile_expression(expr, undefined_to_none=False)(**out):
                names = jinja2.meta.find_undeclared_variables(_EXPR_ENV.parse(f"{{{{{expr}}}}}"))
                shown = ", ".join(f"{n}={_show(out[n])}" for n in sorted(names))
                because = f" ({why})" if why else ""
                raise TemplateError(
                    f"template '{self.name}': parameters {shown} violate {expr!r}{because}"
                )
        return out

    def chparam_command(self, point: Mapping[str, object]) -> str:
        """Yosys ``chparam`` command setting the top module's parameters for a design point."""
        sets = (f"-set {k} {json.dumps(v)}" for k, v in self.resolve_params(point).items())
        return f"chparam {' '.join(sets)} {self.top}"

    def output_name(self, source: str) -> str:
        """File name a source renders to: folder dropped, ``.j2`` suffix dropped."""
        return Path(source).name.removesuffix(".j2")


def load_template(name: str, root: Path | str | None = None) -> Template:
    """Load and validate ``<root>/<name>/manifest.yaml``."""
    base = Path(root) if root is not None else templates_root()
    path = base / name / "manifest.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.parent.name for p in base.glob("*/manifest.yaml"))) or "none"
        raise TemplateError(f"{path}: no such template manifest (known templates: {known})")
    return _parse_manifest(path, base)


def list_templates(root: Path | str | None = None) -> list[Template]:
    """All templates under ``root``, sorted by name (folders without a manifest are skipped)."""
    base = Path(root) if root is not None else templates_root()
    return [load_template(p.parent.name, base) for p in sorted(base.glob("*/manifest.yaml"))]


def render_template(
    template: Template,
    params: Mapping[str, object],
    out_dir: Path | str,
    *,
    include_test: bool = False,
) -> list[Path]:
    """Render ``.j2`` sources, copy the rest, write ``params.json``; return the written files.

    ``params`` may be a whole design point: parameters are resolved with ``resolve_params``;
    keys declared under the manifest's ``context`` (lists, mappings, hook text) reach Jinja
    unchanged. Output depends only on the inputs, so two renders are byte-identical.
    """
    resolved = template.resolve_params(params)
    context = {k: copy.deepcopy(params.get(k, v)) for k, v in template.context.items()}
    root = template.folder.parent.resolve()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = list(template.sources)
    if include_test and template.test is not None and template.test.testbench:
        sources.append(template.test.testbench)
    written: list[Path] = []
    for src in sources:
        path, dest = (template.folder / src).resolve(), out / template.output_name(src)
        if src.endswith(".j2"):
            variables = {**context, **resolved, "template_name": template.name}
            dest.write_text(_render_one(env, path, root, variables), "utf-8", newline="\n")
        else:
            shutil.copyfile(path, dest)
        written.append(dest)
    meta: dict[str, object] = {"template": template.name, "kind": template.kind}
    meta |= {"top": template.top, "params": resolved, "context": context}
    written.append(out / "params.json")
    written[-1].write_text(json.dumps(meta, sort_keys=True, indent=2, default=str) + "\n", "utf-8")
    return written


def _render_one(env: jinja2.Environment, path: Path, root: Path, variables: dict[str, Any]) -> str:
    try:
        return env.get_template(path.relative_to(root).as_posix()).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # Jinja rewrites the traceback so template frames carry the template's file and line.
        line, tb = 0, exc.__traceback__
        while tb is not None:
            line = tb.tb_lineno if tb.tb_frame.f_code.co_filename == str(path) else line
            tb = tb.tb_next
        raise TemplateError(f"{path}:{line}: {type(exc).__name__}: {exc}") from exc


# --- manifest parsing: every error names the manifest file, the key and what was expected ---
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
    flows: list[str]
    sources: list[str]
    parameters: dict[str, _ParamSpec] = {}
    constraints: list[_ConstraintSpec] = []
    context: dict[str, _ContextSpec] = {}
    test: _TestSpec | None = None


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


def _constraint(path: Path, i: int, spec: _ConstraintSpec, names: set[str]) -> tuple[str, str]:
    try:
        used = jinja2.meta.find_undeclared_variables(_EXPR_ENV.parse(f"{{{{{spec.expr}}}}}"))
    except jinja2.TemplateSyntaxError as exc:
        raise _bad(path, f"constraints[{i}].expr", f"an expression ({exc})", spec.expr) from exc
    if not used <= names:
        raise _bad(path, f"constraints[{i}].expr", "an expression over parameters", spec.expr)
    return spec.expr, spec.doc


def _parse_manifest(path: Path, root: Path) -> Template:
    try:
        spec = _ManifestSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: invalid YAML: {exc}") from exc
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
    if spec.top is None and spec.kind != "script":
        raise TemplateError(f"{path}: key 'top': expected a value (the key is missing)")
    template = Template(
        name=spec.name,
        kind=spec.kind,
        top=spec.top or spec.name,
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
    )
    # Defaults and test settings must pass validation too: fail at load time, not mid-sweep.
    for i, setting in enumerate([{}, *(test.settings if test else ())]):
        key = f"test.settings[{i - 1}]" if i else "parameters"
        unknown = sorted(set(setting) - params.keys() - template.context.keys())
        if unknown:
            raise _bad(path, key, "only parameter or context names", unknown)
        try:
            template.resolve_params(setting)
        except TemplateError as exc:
            raise TemplateError(f"{path}: key '{key}': {exc}") from exc
    return template
