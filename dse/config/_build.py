"""The ``build:`` section of a study config: which trials of a sweep get built, and how.

```yaml
build:
  flow: yosys-ecp5        # default: the first of the board's build.flows
  sim: true               # also run each candidate on the template's sim rung (its cycles
                          # calibrate latency; not counted in budget:)
  template: overlay       # default: the accelerator of the arch (temporal: overlay)
  every: 200              # a round of candidates every 200 trials (omit: only at the end)
  at_end: true            # and a last round when the search ends
  top_k: 4                # candidates per round, as choice: picks them
  choice: merit           # build policy (dse/search/build_choice.py): merit | spread | ehvi
  diversity: 0.05         # spread: min distance between picks, normalised objective space
  wait: false             # true: the search pauses until a round's builds are in
  max_concurrent: 2       # builds running at once (local host; a hosts file sets its own)
  budget: 20              # builds in total over the study
  hosts: farm/hosts.yaml  # build hosts (relative to this file); omit: this machine
  calibrate: true         # correct the model with what the builds measured
  clock_margin: 0.05      # the calibrated clock is lowered by this share (a guard band)
  step_timeout_s: 3600    # per tool step
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cost_models as cm
from dse.config._space import _check_keys
from dse.config._yaml import LocatedYaml

_BUILD_KEYS = (
    "flow",
    "sim",
    "template",
    "every",
    "at_end",
    "top_k",
    "choice",
    "diversity",
    "wait",
    "max_concurrent",
    "budget",
    "hosts",
    "calibrate",
    "clock_margin",
    "step_timeout_s",
)


@dataclass(frozen=True)
class BuildPolicy:
    """When and what a sweep builds (see the module docstring for the YAML)."""

    flow: str | None = None
    sim: bool = False
    template: str = "overlay"
    every: int | None = None
    at_end: bool = True
    top_k: int = 4
    choice: str = "merit"  # a name in dse.search.build_choice.POLICIES (DEFAULT)
    diversity: float = 0.05
    wait: bool = False
    max_concurrent: int = 2
    budget: int = 20
    hosts: Path | None = None
    calibrate: bool = True
    clock_margin: float = 0.05
    step_timeout_s: float | None = None


def parse_build(
    doc: LocatedYaml, raw: Any, base: Path, arch: str = "temporal"
) -> BuildPolicy | None:
    """Validate ``build:``; None when the section is absent (the sweep builds nothing).

    Without ``template:`` a study builds the generated accelerator of its ``arch``
    (``dse.buildspec.default_template``); a spatial study has none yet and must name a unit
    template.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise doc.error("build", "expected a mapping (flow, every, top_k, budget, ...)")
    _check_keys(doc, "build", raw, _BUILD_KEYS)

    def integer(key: str, low: int, default: int | None) -> int | None:
        v = raw.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise doc.error(f"build.{key}", f"expected an integer >= {low}, got {v!r}")
        return int(v)

    def flag(key: str, default: bool) -> bool:
        v = raw.get(key, default)
        if not isinstance(v, bool):
            raise doc.error(f"build.{key}", f"expected true or false, got {v!r}")
        return v

    from dse.buildspec import ACCELERATORS

    template = raw.get("template", ACCELERATORS.get(arch))
    flow = raw.get("flow")
    _check_template(doc, template, flow)
    from dse.search.build_choice import DEFAULT, POLICIES

    choice = raw.get("choice", DEFAULT)
    if not isinstance(choice, str) or choice not in POLICIES:
        raise doc.error(
            "build.choice",
            f"expected one of {', '.join(POLICIES)}, got {choice!r}",
            cm.did_you_mean(str(choice), list(POLICIES)),
        )
    diversity = raw.get("diversity", 0.05)
    if isinstance(diversity, bool) or not isinstance(diversity, int | float) or diversity < 0:
        raise doc.error("build.diversity", f"expected a number >= 0, got {diversity!r}")
    margin = raw.get("clock_margin", 0.05)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin < 0.5:
        raise doc.error("build.clock_margin", f"expected a share in [0, 0.5), got {margin!r}")
    timeout = raw.get("step_timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise doc.error("build.step_timeout_s", f"expected seconds > 0, got {timeout!r}")
    hosts = raw.get("hosts")
    hosts_path: Path | None = None
    if hosts is not None:
        if not isinstance(hosts, str) or not hosts:
            raise doc.error("build.hosts", f"expected the path of a hosts.yaml, got {hosts!r}")
        hosts_path = Path(hosts).expanduser()
        if not hosts_path.is_absolute():
            hosts_path = base / hosts_path
        if not hosts_path.is_file():
            raise doc.error("build.hosts", f"no such file: {hosts_path}")
    every = integer("every", 1, None)
    at_end = flag("at_end", True)
    if every is None and not at_end:
        raise doc.error(
            "build", "builds nothing: set every: (trials between rounds) and/or at_end: true"
        )
    sim = flag("sim", False)
    if sim and template is not None and sim_flow(str(template)) is None:
        raise doc.error("build.sim", f"template {template!r} has no sim flow to run candidates on")
    policy = BuildPolicy(
        flow=flow,
        sim=sim,
        template=str(template),
        every=every,
        at_end=at_end,
        top_k=integer("top_k", 1, 4) or 4,
        choice=choice,
        diversity=float(diversity),
        wait=flag("wait", False),
        max_concurrent=integer("max_concurrent", 1, 2) or 2,
        budget=integer("budget", 0, 20) or 0,
        hosts=hosts_path,
        calibrate=flag("calibrate", True),
        clock_margin=float(margin),
        step_timeout_s=None if timeout is None else float(timeout),
    )
    if template is None:  # checked last: a build: section's other mistakes are named first
        raise doc.error(
            "build",
            f"arch {arch!r} has no generated accelerator to build yet (only temporal: "
            "template 'overlay'); set build.template to a unit template (llm_top, "
            "gemv_int, ...) to build units alone, or drop build:",
        )
    return policy


def sim_flow(template: str) -> str | None:
    """The first flow of ``template`` at ``sim`` fidelity (None: it has none)."""
    from runners import TOOLCHAINS, load_template

    flows = load_template(template).flows
    return next((f for f in flows if f in TOOLCHAINS and TOOLCHAINS[f].fidelity == "sim"), None)


def _check_template(doc: LocatedYaml, template: Any, flow: Any) -> None:
    from runners import TOOLCHAINS, list_templates

    names = [t.name for t in list_templates()]
    if template is None:  # no accelerator for this arch (reported later): check the flow alone
        if flow is not None and (not isinstance(flow, str) or flow not in TOOLCHAINS):
            raise doc.error(
                "build.flow",
                f"expected one of {', '.join(TOOLCHAINS)}, got {flow!r}",
                cm.did_you_mean(str(flow), list(TOOLCHAINS)),
            )
        return
    if not isinstance(template, str) or template not in names:
        raise doc.error(
            "build.template",
            f"expected one of {', '.join(names)}, got {template!r}",
            cm.did_you_mean(str(template), names),
        )
    if flow is None:
        return
    offered = next(t.flows for t in list_templates() if t.name == template)
    if not isinstance(flow, str) or flow not in offered:
        known = (
            f" (flows: {', '.join(TOOLCHAINS)})"
            if not isinstance(flow, str) or flow not in TOOLCHAINS
            else ""
        )
        raise doc.error(
            "build.flow",
            f"template {template!r} builds with {', '.join(offered)}; got {flow!r}{known}",
            cm.did_you_mean(str(flow), list(offered)),
        )
