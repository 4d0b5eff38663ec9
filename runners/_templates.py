"""Design templates: load ``templates/<name>/manifest.yaml``, check parameters, render files.

A template is a folder of RTL, HLS C++ or tool-script sources plus a manifest describing its
parameters. ``Template.resolve_params`` maps a design point onto those parameters and
``render_template`` writes the (Jinja2-rendered) sources and a ``params.json`` to a folder.
The records live in ``_template_types``, manifest parsing in ``_manifest``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from runners._errors import TemplateError
from runners._manifest import parse_manifest
from runners._template_types import (
    ModelTerm,
    ParamValue,
    Template,
    TemplateParam,
    TemplateTest,
)

__all__ = [
    "TEMPLATES_ROOT",
    "ModelTerm",
    "ParamValue",
    "Template",
    "TemplateParam",
    "TemplateTest",
    "list_templates",
    "load_template",
    "render_template",
    "templates_root",
]

_DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "templates"


def templates_root() -> Path:
    """The templates folder: ``$DSE_TEMPLATES`` if set, else the repository's ``templates/``."""
    return Path(os.environ.get("DSE_TEMPLATES") or _DEFAULT_ROOT)


TEMPLATES_ROOT = templates_root()


def load_template(name: str, root: Path | str | None = None) -> Template:
    """Load and validate ``<root>/<name>/manifest.yaml``."""
    base = Path(root) if root is not None else templates_root()
    path = base / name / "manifest.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.parent.name for p in base.glob("*/manifest.yaml"))) or "none"
        raise TemplateError(f"{path}: no such template manifest (known templates: {known})")
    return parse_manifest(path, base)


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
