"""Build bundles: a template rendered for one design point and flow, with a content hash.

``make_bundle`` renders the template's sources, lets the flow write its scripts
(``Toolchain.prepare``) and a ``bundle.json`` describing the build, then hashes the folder.
The hash (sha256) covers every file's bytes under its sorted relative path, the resolved
parameters, the flow, the part and the tool versions, so two requests with the same hash
would run the same tools on the same bytes: that is the build-cache key.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runners._errors import TemplateError
from runners._executor import Command
from runners._templates import Template, load_template, render_template
from runners.toolchains import Toolchain, get_toolchain

BUNDLE_FORMAT = 1  # bump when the bundle layout or hash recipe changes
BUNDLE_JSON = "bundle.json"


@dataclass(frozen=True)
class Bundle:
    """A rendered build folder for (template, point, flow, part)."""

    template: Template
    point: dict[str, Any]
    params: dict[str, Any]
    flow: str
    part: str
    folder: Path
    options: dict[str, Any] = field(default_factory=dict)
    tool_versions: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # rendered template files, relative to ``folder``
    commands: tuple[Command, ...] = ()
    hash: str = ""

    @property
    def toolchain(self) -> Toolchain:
        """The flow's adapter."""
        return get_toolchain(self.flow)

    def source_files(self, *suffixes: str) -> list[str]:
        """Rendered source files whose names end with one of ``suffixes`` (in manifest order)."""
        return [s for s in self.sources if s.endswith(suffixes)]


def make_bundle(
    template: Template | str,
    point: Mapping[str, Any],
    flow: str,
    part: str | None = None,
    root: Path | str | None = None,
) -> Bundle:
    """Render ``template`` at ``point`` for ``flow`` into a new folder under ``root``.

    ``part`` defaults to the point's ``part`` key, then to the flow's default part. The
    folder is a fresh ``.stage-*`` directory (under a temporary directory when ``root`` is
    None); ``Bundle.hash`` is its content hash.

    Raises:
        TemplateError: a parameter is out of range (names template, parameter and range).
        ToolchainError: the flow cannot build this template or part.
        UnknownToolchain: no such flow.
    """
    tpl = load_template(template) if isinstance(template, str) else template
    toolchain = get_toolchain(flow)
    chosen = part or (point.get("part") if isinstance(point.get("part"), str) else None)
    chosen = str(chosen or toolchain.default_part)
    toolchain.check(tpl, chosen)
    params = tpl.resolve_params(point)
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".stage-", dir=base))
    try:
        return _fill(tpl, point, toolchain, chosen, params, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _fill(
    tpl: Template,
    point: Mapping[str, Any],
    toolchain: Toolchain,
    chosen: str,
    params: dict[str, Any],
    folder: Path,
) -> Bundle:
    written = render_template(tpl, point, folder)
    if tpl.generator:
        written += generate(tpl, point, toolchain.name, folder)
    bundle = Bundle(
        template=tpl,
        point=dict(point),
        params=dict(params),
        flow=toolchain.name,
        part=chosen,
        folder=folder,
        options=toolchain.options(point),
        tool_versions=toolchain.version(),
        sources=tuple(p.relative_to(folder).as_posix() for p in written if p.name != "params.json"),
    )
    commands = tuple(toolchain.prepare(bundle))
    meta = {
        "format": BUNDLE_FORMAT,
        "template": tpl.name,
        "flow": toolchain.name,
        "part": chosen,
        "params": params,
        "options": bundle.options,
        "tool_versions": bundle.tool_versions,
        "commands": [c.to_json() for c in commands],
    }
    (folder / BUNDLE_JSON).write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n", "utf-8")
    digest = content_hash(folder, params, toolchain.name, chosen, bundle.tool_versions)
    return replace(bundle, commands=commands, hash=digest)


def generate(tpl: Template, point: Mapping[str, Any], flow: str, folder: Path) -> list[Path]:
    """Run the template's generator: ``<module>.write_sources(folder, point, flow)`` writes
    the sources computed from the point (a generated top, ROM images) and returns their
    names relative to ``folder``. A point it cannot build (``ValueError``) is refused here,
    before any tool runs, as a ``TemplateError`` naming the template and the key."""
    try:
        module = importlib.import_module(tpl.generator)
    except ImportError as exc:
        raise TemplateError(
            f"template '{tpl.name}': generator {tpl.generator!r} cannot be imported ({exc})"
        ) from None
    try:
        names = module.write_sources(folder, dict(point), flow)
    except ValueError as exc:
        raise TemplateError(f"template '{tpl.name}': design point {exc}") from None
    return [folder / n for n in names]


def content_hash(
    folder: Path,
    params: Mapping[str, Any],
    flow: str,
    part: str,
    tool_versions: Mapping[str, str],
) -> str:
    """sha256 over the folder's files (sorted relative paths and bytes) and the build facts."""
    h = hashlib.sha256()
    facts = {
        "format": BUNDLE_FORMAT,
        "params": dict(params),
        "flow": flow,
        "part": part,
        "tool_versions": dict(tool_versions),
    }
    h.update(json.dumps(facts, sort_keys=True, default=str).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        # Length-prefix names and contents so no two different folders hash alike.
        h.update(len(rel).to_bytes(8, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()
