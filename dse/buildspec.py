"""From a study config and a design point to one build request (template, params, flow, part).

``dse build``, the build loop of ``dse sweep`` and ``dse promote`` all resolve a point the
same way: keys the config leaves out take the cost model's defaults (as ``dse estimate``
does), so a template's ``derive:`` rules see exactly the point the model scored; the flow
and part come from the board's ``build:`` section (``cost_models/platforms/<board>.yaml``):
its first flow by default, its part (or Vitis platform) for the flows it lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cost_models as cm
from cost_models import _overlay_program as ovp
from dse.config import StudyConfig
from dse.errors import ConfigError

# What a study builds when no template is named: the whole generated accelerator of its
# architecture, for every flow. The unit templates (llm_top, gemv_int, ...) build by name only.
ACCELERATORS = {"temporal": "overlay", "spatial": "spatial_rtl"}
# Point keys a build of a temporal study is given beside the design: the memories its
# model's program needs (``overlay_words``); not cost-model keys.
MEMORY_KEYS = tuple(ovp.TEMPLATE_MAX)


def default_template(arch: str, source: str = "--template") -> str:
    """The accelerator template of ``arch``; ConfigError when that architecture has none yet
    (a spatial study must not silently build the temporal overlay)."""
    if arch in ACCELERATORS:
        return ACCELERATORS[arch]
    raise ConfigError(
        source,
        "template",
        f"arch {arch!r} has no generated accelerator yet ({_offered()}); "
        "name a unit template to build units alone (llm_top, gemv_int, ...)",
    )


def _offered() -> str:
    return ", ".join(f"{a}: template '{t}'" for a, t in ACCELERATORS.items())


def workload_context(cfg: StudyConfig, template: Any) -> dict[str, Any]:
    """What a generated template reads from the study rather than from the design point:
    the context keys it declares among ``model_shape`` (the workload's model, whose whole
    accelerator it generates), ``max_pos`` (positions its KV buffers hold: prompt and
    generated tokens, at most the model's) and ``platform`` (the board's name)."""
    shape = cfg.workload.model
    facts = {
        "model_shape": asdict(shape),
        "max_pos": min(
            cfg.workload.prompt_len + cfg.workload.gen_len, shape.max_positions or 1 << 30
        ),
        "platform": cfg.platform.name,
    }
    return {k: v for k, v in facts.items() if k in template.context}


def overlay_words(cfg: StudyConfig, template: Any, point: Mapping[str, Any]) -> dict[str, int]:
    """The memories (``spad_words``, ``imem_words``, ``xbuf_words``) that hold the program of
    the study's model at ``point``, for a template that has them (the overlay), else {}: the
    same function (``cost_models._overlay_program.point_words``) sizes the accelerator the
    cost model scores."""
    keys = {p.point_key for p in template.parameters.values()}
    if cfg.arch != "temporal" or not set(ovp.TEMPLATE_MAX) <= keys:
        return {}
    shape, w = cfg.workload.model, cfg.workload
    words = ovp.point_words(point, shape, ovp.study_max_pos(shape, w.prompt_len, w.gen_len))
    return {k: int(v) for k, v in words.items()}


def refuse_oversized(cfg: StudyConfig, words: Mapping[str, int]) -> None:
    """ConfigError naming the workload when its program needs more than the template's
    largest memories: no build of the point could run the model the study scores."""
    missing = ovp.shortfall(dict(words)) if words else ""
    if missing:
        raise ConfigError(
            cfg.source,
            "workload.model",
            f"the overlay's program of {cfg.workload.model.name} needs {missing} (the "
            "template's largest); no build of this point can run it",
        )


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


def board_facts(platform: Any) -> cm.BuildFacts | None:
    """The ``build:`` section of an FPGA platform file; None for a GPU baseline."""
    return platform.build if isinstance(platform, cm.Platform) else None


def default_flow(platform: Any) -> str:
    """The platform's default flow: the first of its ``build.flows``."""
    facts = board_facts(platform)
    if facts is None:
        source = str(getattr(platform, "source", "") or "platform")
        raise ConfigError(source, "kind", "a GPU baseline has no build flow; pick an FPGA board")
    return facts.default_flow


def platform_part(cfg: StudyConfig) -> str:
    return str(getattr(cfg.platform, "part", "") or "")


def choose_flow(cfg: StudyConfig, flow: str | None) -> str:
    return flow or default_flow(cfg.platform)


def choose_part(cfg: StudyConfig, flow: str, part: str | None) -> str:
    """``part``; else what the board builds with ``flow`` (its part, or its Vitis platform for
    a flow whose part is a platform); else the flow's default part when the flow is another
    vendor's (an ECP5 study may still try a Xilinx synthesis).

    Raises:
        ConfigError: ``flow`` is for the board's vendor but not among its ``build.flows``
            (e.g. ``yosys-xilinx`` for a Versal board): building for another board's part
            silently would measure something else.
    """
    from runners import get_toolchain

    toolchain = get_toolchain(flow)
    facts = board_facts(cfg.platform)
    if part:
        return part
    if facts is None:
        return toolchain.default_part
    if flow in facts.flows:
        if toolchain.part_kind == "vitis_platform":
            return facts.vitis_platforms[0] if facts.vitis_platforms else toolchain.default_part
        return platform_part(cfg)
    vendor = flow_vendor(toolchain)
    if vendor is None:
        return platform_part(cfg)  # vendor-neutral (simulation): the board's part, as named
    if vendor != facts.vendor:
        return toolchain.default_part
    source = str(getattr(cfg.platform, "source", "") or "platform")
    raise ConfigError(
        "--flow",
        flow,
        f"platform '{cfg.platform.name}' is not built with this flow ({source} build.flows: "
        f"{', '.join(facts.flows)}); pass --part to build for another part",
    )


def flow_vendor(toolchain: Any) -> str | None:
    """The vendor a flow builds for (of its default part), None for a vendor-neutral flow."""
    part = str(toolchain.default_part)
    if toolchain.part_kind == "vitis_platform":
        part = cm.part_of_vitis_platform(part) or ""
    family = cm.family_of_part(part) if part else None
    return family.vendor if family is not None else None


def promote_choices(platform: Any, release_flows: Sequence[str]) -> tuple[str, list[str]]:
    """(default flow, flows allowed) for publishing a build on ``platform``: its
    ``build.flows`` that make a deliverable, the first of them the default (``vivado`` when
    the board lists none) — except on a card with a Vitis platform (Alveo), where only a
    ``vitis-link`` build (an ``.xclbin``) loads under XRT, so that is the default."""
    facts = board_facts(platform)
    allowed = [f for f in (facts.flows if facts else ()) if f in release_flows]
    default = allowed[0] if allowed else "vivado"
    if facts is not None and facts.vitis_platforms and "vitis-link" in allowed:
        default = "vitis-link"
    return default, allowed or [default]


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
    check_memory: bool = True,
) -> BuildSpec:
    """The build of ``point`` (merged over the config's ``design:``) for ``cfg``.

    Raises:
        ConfigError: a key of ``point`` is neither a template parameter nor a design key
            (``source`` names where the point came from), or the template does not offer
            ``flow``.
        runners.TemplateError: unknown template, or its parameters are out of range.

    With ``check_memory`` (``dse build``, ``dse promote``) a temporal point whose model's
    program needs more than the overlay's largest memories is a ConfigError naming
    ``workload.model``; a sweep checks only template and flow (its model calls such points
    infeasible, so its build rung never picks one).
    """
    from runners import load_template

    specs = cm.param_specs(cfg.arch, cfg.platform)
    design = {k: v for k, v in point.items() if k in specs}
    try:  # a design key builds what the model scores: 'bogus' must not build as the default
        cm.check_written(design, specs, source)
        cm.normalise({**cfg.design, **design}, cfg.arch, cfg.platform, source)
    except cm.InputError as exc:
        raise ConfigError(source, exc.key, exc.expected, hint=exc.hint) from None
    tpl = load_template(template or default_template(cfg.arch))
    if check_keys:
        _check_keys(point, tpl, set(cfg.design) | set(specs), source)
    merged = {**model_defaults(cfg), **workload_context(cfg, tpl), **cfg.point, **point}
    chosen = choose_flow(cfg, flow)
    if chosen not in tpl.flows:
        raise ConfigError(
            "--flow" if flow else source,
            chosen,
            f"template '{tpl.name}' has no such flow (its flows: {', '.join(tpl.flows)})",
            hint=cm.did_you_mean(chosen, list(tpl.flows)),
        )
    if not _is_sim(chosen):  # the sim rung sizes the memories of the tiny model it runs
        words = overlay_words(cfg, tpl, merged)
        merged = {**words, **merged}  # a point's own spad_words etc. win (explicit builds)
        if check_memory and _template_accepts(
            tpl, {k: v for k, v in merged.items() if k not in words}
        ):
            refuse_oversized(cfg, {k: merged[k] for k in words})
    chosen_part = choose_part(cfg, chosen, part)
    if not part and chosen_part == platform_part(cfg):
        _check_platform_part(cfg, tpl, chosen, chosen_part)
    return BuildSpec(tpl.name, merged, chosen, chosen_part)


def _is_sim(flow: str) -> bool:
    from runners import get_toolchain

    return bool(get_toolchain(flow).fidelity == "sim")


def _template_accepts(tpl: Any, point: Mapping[str, Any]) -> bool:
    """Whether the template resolves ``point`` (its own refusal, e.g. TT=128, comes first)."""
    from runners import TemplateError

    try:
        tpl.resolve_params(point)
    except TemplateError:
        return False
    return True


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
