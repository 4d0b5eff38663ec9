"""From a study config and a design point to one build request (template, params, flow, part).

``dse build``, the build loop of ``dse sweep`` and ``dse promote`` all resolve a point the
same way: keys the config leaves out take the cost model's defaults (as ``dse estimate``
does), so a template's ``derive:`` rules see exactly the point the model scored; the flow
defaults to the platform's open flow and the part to the platform's when the flow is for the
same vendor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cost_models as cm
from dse.config import StudyConfig
from dse.errors import ConfigError

DEFAULT_TEMPLATE = "llm_top"
OPEN_FLOWS = ("ecp5", "yosys-ecp5")  # flows for Lattice ECP5 parts


@dataclass(frozen=True)
class BuildSpec:
    """Everything ``runners.build`` needs for one design point."""

    template: str
    point: dict[str, Any] = field(hash=False)
    flow: str
    part: str

    def template_params(self) -> dict[str, Any]:
        """The template's parameters at this point (after ``derive:`` and defaults)."""
        from runners import load_template

        return load_template(self.template).resolve_params(self.point)


def default_flow(family: str, part: str) -> str:
    """The open flow for a platform: ECP5 -> ``ecp5``, Xilinx parts -> ``yosys-xilinx``."""
    return "ecp5" if family.lower() == "ecp5" or part.upper().startswith("LFE5") else "yosys-xilinx"


def platform_part(cfg: StudyConfig) -> str:
    return str(getattr(cfg.platform, "part", "") or "")


def choose_flow(cfg: StudyConfig, flow: str | None) -> str:
    return flow or default_flow(str(getattr(cfg.platform, "family", "")), platform_part(cfg))


def choose_part(cfg: StudyConfig, flow: str, part: str | None) -> str:
    """``part``, else the platform's when ``flow`` targets its vendor, else the flow's default."""
    from runners import get_toolchain

    toolchain = get_toolchain(flow)
    plat = platform_part(cfg)
    same_vendor = plat.upper().startswith("LFE5") == (flow in OPEN_FLOWS)
    if part:
        return part
    if plat and same_vendor and flow != "vitis-link":
        return plat
    return toolchain.default_part


def model_defaults(cfg: StudyConfig) -> dict[str, Any]:
    """The cost model's defaults for every parameter (some depend on the platform)."""
    out = {}
    for k, p in cm.param_specs(cfg.arch, cfg.platform).items():
        value = p.default(cfg.platform) if callable(p.default) else p.default
        if value is not None:
            out[k] = value
    return out


def resolve_build(
    cfg: StudyConfig,
    point: Mapping[str, Any],
    *,
    template: str | None = None,
    flow: str | None = None,
    part: str | None = None,
    source: str = "point",
    check_keys: bool = True,
) -> BuildSpec:
    """The build of ``point`` (merged over the config's ``design:``) for ``cfg``.

    Raises:
        ConfigError: a key of ``point`` is neither a template parameter nor a design key
            (``source`` names where the point came from), or the template does not offer
            ``flow``.
        runners.TemplateError: unknown template, or its parameters are out of range.
    """
    from runners import load_template

    tpl = load_template(template or DEFAULT_TEMPLATE)
    specs = cm.param_specs(cfg.arch, cfg.platform)
    if check_keys:
        _check_keys(point, tpl, set(cfg.design) | set(specs), source)
    design = {k: v for k, v in point.items() if k in specs}
    try:  # a design key builds what the model scores: 'bogus' must not build as the default
        cm.check_written(design, specs, source)
        cm.normalise({**cfg.design, **design}, cfg.arch, cfg.platform, source)
    except cm.InputError as exc:
        raise ConfigError(source, exc.key, exc.expected, hint=exc.hint) from None
    merged = {**model_defaults(cfg), **cfg.point, **point}
    chosen = choose_flow(cfg, flow)
    if chosen not in tpl.flows:
        raise ConfigError(
            "--flow" if flow else source,
            chosen,
            f"template '{tpl.name}' has no such flow (its flows: {', '.join(tpl.flows)})",
            hint=cm.did_you_mean(chosen, list(tpl.flows)),
        )
    chosen_part = choose_part(cfg, chosen, part)
    if not part and chosen_part == platform_part(cfg):
        _check_platform_part(cfg, tpl, chosen, chosen_part)
    return BuildSpec(tpl.name, merged, chosen, chosen_part)


def _check_platform_part(cfg: StudyConfig, tpl: Any, flow: str, part: str) -> None:
    """A part taken from the platform file is that file's ``part:`` key: blame it there."""
    from runners import ToolchainError, get_toolchain

    toolchain = get_toolchain(flow)
    if not toolchain.accepts(tpl):
        return  # not a part problem: the flow check reports it with its own words
    try:
        toolchain.check(tpl, part)
    except ToolchainError as exc:
        source = str(getattr(cfg.platform, "source", "") or "platform")
        raise ConfigError(source, "part", str(exc)) from None


def _check_keys(extra: Mapping[str, Any], template: Any, known: set[str], source: str) -> None:
    """Reject point keys that neither the template nor the cost model knows (typos)."""
    ours = {p.name for p in template.parameters.values()}
    ours |= {p.point_key for p in template.parameters.values() if p.point_key}
    ours |= set(template.context)
    for key in extra:
        if key not in ours and key not in known:
            listed = ", ".join(
                f"{p.name} ({p.point_key})" if p.point_key else p.name
                for p in template.parameters.values()
            )
            raise ConfigError(
                source,
                key,
                f"not a parameter of template '{template.name}' (parameters: {listed}) "
                "nor a design key of the config",
                hint=cm.did_you_mean(key, sorted(ours | known)),
            )
