"""``vitis-hls``: C synthesis of an HLS template with Vitis HLS, exported as a ``.xo`` kernel.

``prepare`` renders ``templates/vitis_hls`` (``run_hls.tcl``) with the kernel's C++ files,
top function, part and clock; one step ``vitis_hls -f run_hls.tcl -l vitis_hls.log``.
``parse`` reads ``hls_prj/sol1/syn/report/csynth.xml`` (estimated resources, latency,
clock) with ``runners.reports``. HLS numbers are estimates, so ``timing_met`` is the HLS
verdict (estimated clock within the target), not a routed result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult, tail
from runners.toolchains._base import (
    RESOURCE_KEYS,
    Toolchain,
    clock_target_mhz,
    existing,
    read_report,
    read_text,
    render_script,
    result,
    tool_metrics,
)
from runners.toolchains._vivado import check_xilinx_part

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template

DEFAULT_CLOCK_MHZ = 300.0
PROJECT, SOLUTION = "hls_prj", "sol1"
CSYNTH_XML = f"{PROJECT}/{SOLUTION}/syn/report/csynth.xml"
_HLS_KEYS = (
    "target_clock_ns",
    "estimated_clock_ns",
    "fmax_mhz",
    "latency_cycles_min",
    "latency_cycles_max",
    "timing_met",
)


class VitisHls(Toolchain):
    """AMD Vitis HLS: csynth estimates and a ``.xo`` kernel."""

    name = "vitis-hls"
    description = "Vitis HLS csynth + export: estimated resources, latency, clock, .xo"
    fidelity = "synth"
    default_part = "xcu280-fsvh2892-2L-e"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {"vitis_hls": ("-version",)}
    kinds = ("hls",)
    step_timeout_s = 6 * 3600.0

    def check(self, template: Template, part: str) -> None:
        """Also require a well-formed part name (it is written into ``run_hls.tcl``)."""
        super().check(template, part)
        check_xilinx_part(self.name, part)

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Clock target in MHz (``clock_mhz`` or ``freq_mhz``, default 300)."""
        return {"clock_mhz": round(clock_target_mhz(point, DEFAULT_CLOCK_MHZ))}

    def script_point(self, bundle: Bundle) -> dict[str, Any]:
        """Inputs of ``templates/vitis_hls`` for this bundle."""
        return {
            "TOP": bundle.template.top,
            "PART": bundle.part,
            "CLOCK_MHZ": bundle.options["clock_mhz"],
            "PROJECT": PROJECT,
            "SOLUTION": SOLUTION,
            "sources": bundle.source_files(".cpp", ".cc", ".c"),
            "cflags": "-std=c++14 -I.",
        }

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Render ``run_hls.tcl``; one Vitis HLS step."""
        render_script("vitis_hls", self.script_point(bundle), bundle.folder)
        argv = ("vitis_hls", "-f", "run_hls.tcl", "-l", "vitis_hls.log")
        return [Command("csynth", argv, "vitis_hls.out", timeout_s=self.step_timeout_s)]

    def parse(self, workdir: Path) -> BuildResult:
        """Estimates from ``csynth.xml``; the ``.xo`` as artefact."""
        return self.parse_hls(workdir)

    def parse_hls(self, workdir: Path) -> BuildResult:
        """Shared with ``vitis-link``, whose first step is the same C synthesis."""
        top = json.loads(read_text(workdir / "vitis_hls.params.json") or "{}")
        top_name = str(top.get("params", {}).get("TOP", ""))
        csynth = read_report(workdir / CSYNTH_XML)
        log = read_report(workdir / "vitis_hls.log")
        reports = existing(
            workdir,
            {
                "csynth_xml": CSYNTH_XML,
                "csynth_rpt": f"{PROJECT}/{SOLUTION}/syn/report/{top_name}_csynth.rpt",
                "log": "vitis_hls.log",
                "script": "run_hls.tcl",
            },
        )
        artefacts = existing(workdir, {"xo": f"{top_name}.xo"})
        metrics = tool_metrics(csynth, (*RESOURCE_KEYS, *_HLS_KEYS))
        log_tail = tail(read_text(workdir / "vitis_hls.log"))
        if csynth is None:
            failure = log.values.get("failure_class") if log is not None else None
            first = log.values.get("first_error") if log is not None else None
            return result(
                "failed",
                metrics=metrics,
                failure_class=str(failure) if failure not in (None, "none") else "tool_error",
                first_error=str(first) if first else f"Vitis HLS wrote no {CSYNTH_XML}",
                log_tail=log_tail,
                reports=reports,
                fidelity=self.fidelity,
            )
        return result(
            "ok",
            metrics=metrics,
            log_tail=log_tail,
            reports=reports,
            artefacts=artefacts,
            fidelity=self.fidelity,
        )
