"""``vivado``: non-project Vivado synthesis + implementation of an RTL template.

``prepare`` renders ``templates/vivado`` (``build.tcl``, ``clocks.xdc``) next to the
design's sources: the template's top, the part, the clock target and the resolved
parameters (as ``synth_design -generic``) all travel in the TCL file. One step:
``vivado -mode batch -source build.tcl -log vivado.log -nojournal``. ``parse`` reads
``reports/utilization.rpt`` and ``reports/timing_summary.rpt`` with ``runners.reports``.

A unit template (``gemv_int``, ``llm_top``...) is built out of context: no pins, no
bitstream. A whole accelerator (``WHOLE_DESIGNS``: the overlay) is built in context, every
RTL source read, through synthesis, placement, routing and ``write_bitstream``; its ports go
through the scan-chain top of ``_io_wrapper`` (a thousand AXI pins fit no package). Its pins
have no board location, so the pin DRCs are warnings: the bitstream measures the design, it
is not for loading (a board gets a released top), hence its artefact key ``scan_bitstream``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult, tail
from runners.toolchains._base import (
    RESOURCE_KEYS,
    Toolchain,
    ToolchainError,
    clock_target_mhz,
    existing,
    read_report,
    read_text,
    render_script,
    tool_metrics,
    vendor_result,
)
from runners.toolchains._io_wrapper import (
    BITSTREAM_KEY,
    IO_FILE,
    IO_TOP,
    WHOLE_DESIGNS,
    io_wrapper,
    wrapped,
)

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template

REPORT_DIR = "reports"
DEFAULT_CLOCK_MHZ = 300.0
_TIMING_KEYS = ("wns_ns", "tns_ns", "whs_ns", "ths_ns", "failing_endpoints", "timing_met")
# Unplaced pins (no LOC / IOSTANDARD) stop write_bitstream (DRC NSTD-1, UCIO-1).
_PIN_DRCS = "set_property SEVERITY {Warning} [get_drc_checks {NSTD-1 UCIO-1}]"
# An AMD/Xilinx part name: device, package, speed grade (+ temperature, revision), e.g.
# xcu280-fsvh2892-2L-e, xc7z020clg400-1, xcvh1782-lsva4737-2MP-e-S. Nothing else: the part
# lands in Tcl scripts, so a '[', '$', ';', space or newline must never get that far.
XILINX_PART_RE = re.compile(r"x[a-z0-9]{2,30}(-[A-Za-z0-9]{1,12}){0,5}")


def check_xilinx_part(flow: str, part: str) -> None:
    """Raise ``ToolchainError`` unless ``part`` looks like an AMD/Xilinx part name."""
    if not XILINX_PART_RE.fullmatch(part):
        raise ToolchainError(
            f"flow '{flow}': part {part!r} is not an AMD/Xilinx part name like "
            "xcu280-fsvh2892-2L-e (a lowercase device name starting with 'x', then up to "
            "five '-'-separated groups of letters and digits)"
        )


class Vivado(Toolchain):
    """AMD Vivado (batch, non-project): routed utilisation and timing."""

    name = "vivado"
    deliverable = ("bitstream", ".bit")
    description = "Vivado synth/opt/place/route: routed utilisation, WNS, Fmax"
    fidelity = "place_route"
    default_part = "xcu280-fsvh2892-2L-e"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {"vivado": ("-version",)}
    step_timeout_s = 12 * 3600.0

    def check(self, template: Template, part: str) -> None:
        """Also require a well-formed part name (it is written into ``build.tcl``)."""
        super().check(template, part)
        check_xilinx_part(self.name, part)

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Clock target in MHz (``clock_mhz`` or ``freq_mhz``, default 300)."""
        return {"clock_mhz": round(clock_target_mhz(point, DEFAULT_CLOCK_MHZ))}

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Render ``build.tcl`` + ``clocks.xdc``; one Vivado batch step."""
        top, sources = bundle.template.top, bundle.source_files(".v", ".sv", ".vhd", ".vhdl")
        whole: dict[str, Any] = {}
        if bundle.template.name in WHOLE_DESIGNS:
            io_wrapper(bundle.folder, sources, top, bundle.params, self.name)
            top, sources = IO_TOP, [*sources, IO_FILE]
            whole = {"OOC": 0, "WRITE_BITSTREAM": 1, "hooks": {"after_route": _PIN_DRCS}}
        script_point = {
            **{k: v for k, v in bundle.point.items() if k.endswith("_directive")},
            "TOP": top,
            "PART": bundle.part,
            "CLOCK_MHZ": bundle.options["clock_mhz"],
            "REPORT_DIR": REPORT_DIR,
            "sources": sources,
            "generics": dict(bundle.params),
            **whole,
        }
        render_script("vivado", script_point, bundle.folder)
        argv = (
            "vivado",
            "-mode",
            "batch",
            "-source",
            "build.tcl",
            "-log",
            "vivado.log",
            "-nojournal",
        )
        return [Command("vivado", argv, "vivado.out", timeout_s=self.step_timeout_s)]

    def parse(self, workdir: Path) -> BuildResult:
        """Routed utilisation and timing; ``timing_not_met`` when WNS < 0."""
        util = read_report(workdir / REPORT_DIR / "utilization.rpt")
        timing = read_report(workdir / REPORT_DIR / "timing_summary.rpt")
        log = read_report(workdir / "vivado.log")
        reports = existing(
            workdir,
            {
                "utilization": f"{REPORT_DIR}/utilization.rpt",
                "timing_summary": f"{REPORT_DIR}/timing_summary.rpt",
                "post_synth_utilization": f"{REPORT_DIR}/post_synth_util.rpt",
                "log": "vivado.log",
                "script": "build.tcl",
            },
        )
        top = next((p.name for p in (workdir / REPORT_DIR).glob("*.bit")), None)
        wrapper = wrapped(workdir)
        # Behind the scan-chain top the pins have no board location: that bitstream measures
        # the design and is not a deliverable (promote wants "bitstream"), so it has its own key.
        bit_key = BITSTREAM_KEY if wrapper else "bitstream"
        artefacts = existing(
            workdir,
            {
                "checkpoint": f"{REPORT_DIR}/post_route.dcp",
                **({bit_key: f"{REPORT_DIR}/{top}"} if top else {}),
            },
        )
        metrics = tool_metrics(util, RESOURCE_KEYS) | tool_metrics(timing, _TIMING_KEYS)
        if "ff" in wrapper:  # the scan chain's flip-flops, not the design's
            metrics["io_wrapper_ff"] = int(wrapper["ff"])
        target_ns = 1000.0 / float(_clock_of(workdir))
        metrics["target_clock_ns"] = round(target_ns, 3)
        wns = metrics.get("wns_ns")
        if isinstance(wns, int | float):
            # Fmax the routed design would reach: the period shrinks (or grows) by the WNS.
            metrics["fmax_mhz"] = round(1000.0 / (target_ns - wns), 1)
        return vendor_result(
            complete=util is not None and timing is not None and (top is not None or not wrapper),
            metrics=metrics,
            log=log,
            log_tail=tail(read_text(workdir / "vivado.log")),
            reports=reports,
            artefacts=artefacts,
            missing="Vivado wrote no utilisation/timing report",
            timing_error=f"WNS {wns} ns at {metrics['target_clock_ns']} ns target",
            fidelity=self.fidelity,
        )


def _clock_of(workdir: Path) -> float:
    """The clock target the bundle was rendered with (``vivado.params.json``)."""
    meta = json.loads((workdir / "vivado.params.json").read_text(encoding="utf-8"))
    return float(meta["params"]["CLOCK_MHZ"])
