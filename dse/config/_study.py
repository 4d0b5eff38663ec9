"""The study config: one YAML file saying workload, platform, architecture and design.

Loading goes YAML (with line numbers) -> ``--set`` overrides -> validation of every
section -> a frozen :class:`StudyConfig`; code past this point never sees raw dicts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cost_models as cm
from cost_models._safeload import UnsafeInput
from cost_models._safeload import load_yaml as load_yaml_text
from dse.config._build import BuildPolicy, parse_build
from dse.config._space import (
    STUDY_NAME,
    Budget,
    Constraints,
    Objective,
    SamplerSpec,
    parse_sections,
)
from dse.config._yaml import LocatedYaml, load_yaml
from dse.errors import ConfigError
from dse.space import SearchSpace

TOP_KEYS = (
    "version",
    "name",
    "description",
    "workload",
    "platform",
    "arch",
    "baseline",
    "design",
    "space",
    "derived",
    "objectives",
    "constraints",
    "budget",
    "sampler",
    "seed",
    "batch_size",
    "storage",
    "build",
)


@dataclass(frozen=True)
class StudyConfig:
    """A validated study config.

    ``raw`` is the file as written; ``resolved`` is the document after ``--set`` overrides
    (what a sweep records in its study so a resume can check it runs the same study).
    """

    name: str
    source: str
    workload: cm.Workload
    platform: cm.Platform
    arch: str
    baseline: cm.Gpu | None
    design: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    space: SearchSpace = field(default_factory=SearchSpace)
    objectives: tuple[Objective, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    budget: Budget | None = None
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    seed: int = 0
    batch_size: int | None = None
    storage: str | None = None
    build: BuildPolicy | None = None
    resolved: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def point(self) -> dict[str, Any]:
        """The one design ``dse estimate`` scores: ``design:`` plus the ``default:`` of each
        searched parameter that has one (the others take the cost model's defaults)."""
        defaults = {p.name: p.default for p in self.space.params if p.default is not None}
        return {**self.design, **defaults}

    @property
    def derived(self) -> dict[str, str]:
        """Derived parameter name -> expression text."""
        return {name: expr.text for name, expr in self.space.derived}


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` -> ``("a.b", value)`` with ``value`` read as a YAML scalar."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            "--set", text, "expected KEY=VALUE with a dotted key, e.g. design.m_ffn=1024"
        )
    try:
        parsed = load_yaml_text(value) if value.strip() else ""
    except UnsafeInput:
        parsed = value  # not YAML: the text itself (validation then says what was expected)
    return key.strip(), parsed


def _apply_override(doc: LocatedYaml, key: str, value: Any, text: str) -> None:
    parts = key.split(".")
    if parts[0] not in TOP_KEYS:
        raise ConfigError(
            f"--set {text.strip()}",
            key,
            f"unknown top-level key {parts[0]!r}; expected one of {', '.join(TOP_KEYS)}",
            hint=cm.did_you_mean(parts[0], TOP_KEYS),
        )
    node = doc.data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    doc.lines.pop(key, None)
    doc.overrides[key] = text.strip()


def _from_input_error(doc: LocatedYaml, exc: cm.InputError, section: str) -> ConfigError:
    """Re-home a cost-model error onto the config file and line it came from."""
    key = exc.key if exc.key.startswith(f"{section}.") or section == "" else f"{section}.{exc.key}"
    if exc.source not in ("", "design point", "workload", "platform", doc.source):
        # The error is inside another file the config points at (a config.json, a platform).
        return ConfigError(exc.source, exc.key, exc.expected, hint=exc.hint)
    return doc.error(key, exc.expected, exc.hint)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> StudyConfig:
    """Load and validate a study config, applying ``--set KEY=VALUE`` overrides.

    Raises:
        ConfigError: naming the file, line, key and what was expected.
    """
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error("(top level)", "expected a mapping with workload, platform, arch, design")
    raw = copy.deepcopy(doc.data)
    for text in overrides:
        key, value = parse_override(text)
        _apply_override(doc, key, value, text)
    data: dict[str, Any] = doc.data
    for key in data:
        if key not in TOP_KEYS:
            raise doc.error(
                str(key),
                f"unknown key; expected one of {', '.join(TOP_KEYS)}",
                cm.did_you_mean(str(key), TOP_KEYS),
            )
    if data.get("version", 1) != 1:
        raise doc.error("version", f"expected 1, got {data.get('version')!r}")
    for key in ("workload", "platform"):
        if key not in data:
            raise doc.error(key, "missing; required")
    if not isinstance(data["workload"], Mapping):
        raise doc.error("workload", "expected a mapping (model / hf_config / shape, batch, ...)")
    base = Path(doc.source).parent
    try:
        workload = cm.load_workload(data["workload"], source=doc.source, base_dir=base)
    except cm.InputError as exc:
        raise _from_input_error(doc, exc, "workload") from None
    try:
        platform_name = data["platform"]
        if not isinstance(platform_name, str) or not platform_name:
            raise doc.error(
                "platform", f"expected a platform name or YAML path, got {platform_name!r}"
            )
        if platform_name.endswith((".yaml", ".yml")):
            platform_name = str(base / platform_name)
            if not Path(platform_name).exists():
                raise doc.error("platform", f"file not found: {platform_name}")
        platform = cm.load_platform(str(platform_name))
    except cm.InputError as exc:
        if exc.source == "platform":
            raise doc.error("platform", exc.expected, exc.hint) from None
        raise ConfigError(exc.source, exc.key, exc.expected, hint=exc.hint) from None
    if not isinstance(platform, cm.Platform):
        raise doc.error(
            "platform",
            f"{platform.name} is a GPU; design points need an FPGA "
            "platform (put GPUs under baseline:)",
        )
    arch = data.get("arch", "spatial")
    if not isinstance(arch, str) or arch not in cm.ARCHS:
        raise doc.error(
            "arch",
            f"expected one of {', '.join(cm.ARCHS)}, got {arch!r}",
            cm.did_you_mean(str(arch), cm.ARCHS),
        )
    baseline: cm.Gpu | None = None
    spec = data.get("baseline", "a100")
    if spec is not None:
        form = "expected [N x]gpu[:stack], e.g. a100, h100:graphs, 4xv100s:eager"
        if not isinstance(spec, str) or not spec:
            raise doc.error("baseline", f"{form}; got {spec!r}")
        try:
            # load_baseline: N GPUs (tensor parallel) and the serving stack, not just a name
            baseline = cm.load_baseline(spec)
        except cm.InputError as exc:
            hint = " ".join(x for x in (exc.expected, exc.hint) if x)
            raise doc.error("baseline", f"{form}; got {spec!r}", hint) from None
    design = {} if data.get("design") is None else data["design"]
    if not isinstance(design, Mapping):
        raise doc.error("design", "expected a mapping of design parameters")
    try:
        cm.check_written(design, cm.param_specs(arch, platform), doc.source)
        cm.normalise(dict(design), arch, platform)
    except cm.InputError as exc:
        raise _from_input_error(doc, exc, "design") from None
    if "name" in data and (not isinstance(data["name"], str) or not data["name"]):
        raise doc.error("name", f"expected the study's name (text), got {data['name']!r}")
    if not isinstance(data.get("description", ""), str):
        raise doc.error("description", f"expected text, got {data['description']!r}")
    name = str(data.get("name") or Path(doc.source).stem)
    if not STUDY_NAME.fullmatch(name):  # fullmatch: '$' alone would let 'name\n' through
        raise doc.error(
            "name",
            f"expected letters, digits, '.', '_' or '-' (it names the study and its results "
            f"folder), got {name!r}",
        )
    sections = parse_sections(doc, data, arch, platform, baseline is not None)
    return StudyConfig(
        name,
        doc.source,
        workload,
        platform,
        arch,
        baseline,
        dict(design),
        raw,
        space=sections.space,
        objectives=sections.objectives,
        constraints=sections.constraints,
        budget=sections.budget,
        sampler=sections.sampler,
        seed=sections.seed,
        batch_size=sections.batch_size,
        storage=sections.storage,
        build=parse_build(doc, data.get("build"), base, arch),
        resolved=copy.deepcopy(data),
    )
