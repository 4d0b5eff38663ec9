"""Tool steps, and flows written as a sequence of them.

A ``ToolStep`` is one tool inside a flow: it checks that the part suits it, writes its input
files into the bundle and returns its commands (``commands``), and reads what it left
(``read`` -> ``StepOutput``). A ``StepFlow`` is a ``Toolchain`` whose ``steps`` run in
order; its programs, options, part check, commands and result all come from its steps, so
a flow module is a list of steps plus its name, fidelity and default part:

    class Ice40(StepFlow):
        name, fidelity, default_part = "ice40", "bitstream", "iCE40UP5K-SG48"
        description = "Yosys synth_ice40 + nextpnr-ice40 + icepack"
        steps = (Yosys("ice40", synth_options="-json synth.json"), Nextpnr("ice40", ...), ...)

The steps themselves (Yosys with an ``arch``, nextpnr, a bitstream packer, the delay estimate)
live in ``_open_steps.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult
from runners.toolchains._base import Toolchain, result

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template


@dataclass
class StepOutput:
    """What one step left in the build folder, as the flow's result will hold it."""

    metrics: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    artefacts: dict[str, str] = field(default_factory=dict)
    # Why the step's required output is absent (the build then failed with this message).
    missing: str | None = None
    # The message of a build that completed but missed its clock (``timing_met`` False).
    timing_error: str | None = None


class ToolStep(abc.ABC):
    """One tool of a flow. Steps are frozen dataclasses: their fields are their settings."""

    def programs(self) -> Mapping[str, tuple[str, ...]]:
        """program -> argv that prints its version (part of the bundle hash)."""
        return {}

    def check_part(self, flow: str, part: str) -> None:
        """Raise ``ToolchainError`` when this tool cannot build for ``part`` (any part by
        default: the delay estimate, a packer that takes whatever nextpnr routed)."""
        return

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Settings this step reads from the design point (clock target, seed)."""
        return {}

    @abc.abstractmethod
    def commands(self, bundle: Bundle, timeout_s: float) -> list[Command]:
        """Write this step's input files into ``bundle.folder``; return its commands."""

    @abc.abstractmethod
    def read(self, workdir: Path) -> StepOutput:
        """Read what this step's commands wrote into ``workdir``."""


class StepFlow(Toolchain):
    """A flow that is its ``steps`` run in order (``_steps.py`` module docstring)."""

    steps: ClassVar[tuple[ToolStep, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "steps" in cls.__dict__:
            cls.programs = {p: a for s in cls.steps for p, a in s.programs().items()}

    def check(self, template: Template, part: str) -> None:
        """The template check of every flow, then each step's part check."""
        super().check(template, part)
        for step in self.steps:
            step.check_part(self.name, part)

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Every step's settings from the point."""
        out: dict[str, Any] = {}
        for step in self.steps:
            out |= step.options(point)
        return out

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Each step writes its inputs; their commands in order."""
        return [c for s in self.steps for c in s.commands(bundle, self.step_timeout_s)]

    def parse(self, workdir: Path) -> BuildResult:
        """The steps' outputs merged in order (a later step's figure wins: nextpnr's LUT
        count after placement over Yosys's); failed at the first step whose output is
        missing, ``timing_not_met`` when a step says the clock was missed."""
        merged = StepOutput()
        for out in (s.read(workdir) for s in self.steps):
            merged.metrics |= out.metrics
            merged.reports |= out.reports
            merged.artefacts |= out.artefacts
            if out.missing is not None and merged.missing is None:
                merged.missing = out.missing
            merged.timing_error = out.timing_error or merged.timing_error
        # No step timed the design (synthesis only): the clock, if any, is an estimate.
        merged.metrics.setdefault("timing_met", None)
        metrics, reports = merged.metrics, merged.reports
        if merged.missing is not None:
            return result(
                "failed",
                metrics=metrics,
                failure_class="tool_error",
                first_error=merged.missing,
                reports=reports,
                fidelity=self.fidelity,
            )
        if metrics["timing_met"] is False:
            return result(
                "failed",
                metrics=metrics,
                failure_class="timing_not_met",
                first_error=merged.timing_error or "the design missed its clock target",
                reports=reports,
                artefacts=merged.artefacts,
                fidelity=self.fidelity,
            )
        return result(
            "ok",
            metrics=metrics,
            reports=reports,
            artefacts=merged.artefacts,
            fidelity=self.fidelity,
        )
