"""``vitis-link``: an HLS template all the way to an ``.xclbin`` (Vitis HLS, then ``v++``).

Step 1 is the ``vitis-hls`` C synthesis (``<top>.xo``); step 2 links it for a Vitis
platform: ``v++ --link --config link.cfg -t hw --platform P -o design.xclbin <top>.xo``.
``link.cfg`` comes from ``templates/vitis_link``: compute units, HBM channel ranges per
port (``sp=``) and SLR placement from the point's ``kernels`` / ``hbm`` entries (default:
one compute unit, linker-chosen memory). The part of a link build is the platform name.
``parse`` reads the routed utilisation and timing reports that ``v++`` leaves under
``_x/reports/link/imp/`` and the link log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult, tail
from runners._templates import Template
from runners.toolchains._base import (
    RESOURCE_KEYS,
    ToolchainError,
    clock_target_mhz,
    existing,
    read_report,
    read_text,
    render_script,
    tool_metrics,
    vendor_result,
)
from runners.toolchains._vitis_hls import DEFAULT_CLOCK_MHZ, VitisHls

if TYPE_CHECKING:
    from runners._bundle import Bundle

IMPL_REPORTS = "_x/reports/link/imp"
XCLBIN = "design.xclbin"
_TIMING_KEYS = ("wns_ns", "tns_ns", "whs_ns", "ths_ns", "timing_met")


class VitisLink(VitisHls):
    """Vitis HLS + ``v++ --link``: routed kernel on a platform, ``.xclbin``."""

    name = "vitis-link"
    deliverable = ("xclbin", ".xclbin")
    description = "Vitis HLS + v++ --link: routed utilisation and timing on a platform, .xclbin"
    fidelity = "bitstream"
    default_part = "xilinx_u280_gen3x16_xdma_1_202211_1"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "vitis_hls": ("-version",),
        "v++": ("--version",),
    }
    kinds = ("hls",)
    step_timeout_s = 12 * 3600.0
    # The HLS step synthesises for the platform's FPGA; the platform names it.
    platform_parts: ClassVar[Mapping[str, str]] = {
        "xilinx_u280": "xcu280-fsvh2892-2L-e",
        "xilinx_u55c": "xcu55c-fsvh2892-2L-e",
        "xilinx_u250": "xcu250-figd2104-2L-e",
        "xilinx_u200": "xcu200-fsgd2104-2-e",
    }

    def accepts(self, template: Template) -> bool:
        """Any HLS template that lists ``vitis-hls`` or ``vitis-link`` among its flows."""
        return template.kind in self.kinds and bool({"vitis-hls", self.name} & set(template.flows))

    def check(self, template: Template, part: str) -> None:
        """Also require a platform whose FPGA part is known."""
        super().check(template, part)
        if self.fpga_part(part) is None:
            known = ", ".join(f"{k}_*" for k in self.platform_parts)
            raise ToolchainError(
                f"flow '{self.name}': platform '{part}' is not one of the known platform "
                f"families ({known}); pass a Vitis platform name as the part"
            )

    def fpga_part(self, platform: str) -> str | None:
        """FPGA part of a Vitis platform name."""
        return next((p for k, p in self.platform_parts.items() if platform.startswith(k)), None)

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Clock target, and the point's ``kernels`` / ``hbm`` connectivity if given."""
        opts: dict[str, Any] = {"clock_mhz": round(clock_target_mhz(point, DEFAULT_CLOCK_MHZ))}
        for key in ("kernels", "hbm"):
            if key in point:
                opts[key] = point[key]
        return opts

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Render ``run_hls.tcl`` and ``link.cfg``; an HLS step then a link step."""
        top = bundle.template.top
        hls_point = {**self.script_point(bundle), "PART": self.fpga_part(bundle.part)}
        render_script("vitis_hls", hls_point, bundle.folder)
        kernels = bundle.options.get("kernels") or [{"name": top, "count": 1, "ports": {}}]
        link_point = {
            "PLATFORM": bundle.part,
            "CLOCK_MHZ": bundle.options["clock_mhz"],
            "kernels": kernels,
            "hbm": bundle.options.get("hbm") or {},
        }
        render_script("vitis_link", link_point, bundle.folder)
        hls = ("vitis_hls", "-f", "run_hls.tcl", "-l", "vitis_hls.log")
        link = (
            "v++",
            "--link",
            "--config",
            "link.cfg",
            "-t",
            "hw",
            "--platform",
            bundle.part,
            "-o",
            XCLBIN,
            f"{top}.xo",
        )
        return [
            Command("csynth", hls, "vitis_hls.out", timeout_s=self.step_timeout_s),
            Command("link", link, "vpp_link.log", timeout_s=self.step_timeout_s),
        ]

    def parse(self, workdir: Path) -> BuildResult:
        """Routed utilisation and timing of the link run; HLS estimates as ``hls_*``."""
        hls = self.parse_hls(workdir)
        util = read_report(workdir / IMPL_REPORTS / "impl_1_full_util_routed.rpt")
        timing_files = sorted((workdir / IMPL_REPORTS).glob("*timing_summary*.rpt"))
        timing = read_report(timing_files[0]) if timing_files else None
        log = read_report(workdir / "vpp_link.log")
        metrics = {f"hls_{k}": v for k, v in hls.metrics.items() if k != "part"}
        metrics |= tool_metrics(util, RESOURCE_KEYS) | tool_metrics(timing, _TIMING_KEYS)
        rel = {
            "utilization": f"{IMPL_REPORTS}/impl_1_full_util_routed.rpt",
            "link_log": "vpp_link.log",
            "link_cfg": "link.cfg",
        }
        if timing_files:
            rel["timing_summary"] = timing_files[0].relative_to(workdir).as_posix()
        reports = {**hls.reports, **existing(workdir, rel)}
        artefacts = {**hls.artefacts, **existing(workdir, {"xclbin": XCLBIN})}
        return vendor_result(
            complete="xclbin" in artefacts and util is not None,
            metrics=metrics,
            log=log,
            log_tail=tail(read_text(workdir / "vpp_link.log")),
            reports=reports,
            artefacts=artefacts,
            missing=f"v++ wrote no {XCLBIN} or no routed report",
            timing_error=f"WNS {metrics.get('wns_ns')} ns after linking",
            fidelity=self.fidelity,
        )
