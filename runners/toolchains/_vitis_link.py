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

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult, tail
from runners._templates import Template
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
from runners.toolchains._vitis_hls import DEFAULT_CLOCK_MHZ, VitisHls

if TYPE_CHECKING:
    from runners._bundle import Bundle

IMPL_REPORTS = "_x/reports/link/imp"
XCLBIN = "design.xclbin"
_TIMING_KEYS = ("wns_ns", "tns_ns", "whs_ns", "ths_ns", "timing_met")
# Values written into link.cfg (one ``key=value`` per line, sections in brackets) and into
# run_hls.tcl: a newline, '[' or ';' in any of them would add lines or Tcl commands.
PLATFORM_RE = re.compile(r"[A-Za-z0-9_]{1,120}")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


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
        """Also require a well-formed platform name whose FPGA part is known."""
        Toolchain.check(self, template, part)  # not VitisHls.check: the part is a platform
        if not PLATFORM_RE.fullmatch(part):
            raise ToolchainError(
                f"flow '{self.name}': platform {part!r} is not a Vitis platform name like "
                "xilinx_u280_gen3x16_xdma_1_202211_1 (letters, digits and '_' only)"
            )
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
        _check_connectivity(opts.get("kernels") or [], opts.get("hbm") or {})
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


def _check_connectivity(kernels: Any, hbm: Any) -> None:
    """The point's ``kernels`` / ``hbm`` as ``link.cfg`` needs them, or ``ToolchainError``."""

    def bad(where: str, expected: str, value: object) -> ToolchainError:
        return ToolchainError(f"flow 'vitis-link': {where}: expected {expected}, got {value!r}")

    def count(value: object, lo: int, hi: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    if not isinstance(hbm, Mapping):
        raise bad("hbm", "a mapping of group name -> [first, last] channel", hbm)
    for group, span in hbm.items():
        if not isinstance(group, str) or not _NAME_RE.fullmatch(group):
            raise bad("hbm", "group names of letters, digits and '_'", group)
        ok = isinstance(span, list | tuple) and len(span) == 2
        if not (ok and all(count(c, 0, 63) for c in span) and span[0] <= span[1]):
            raise bad(f"hbm.{group}", "[first, last] HBM channels, 0 <= first <= last <= 63", span)
    if not isinstance(kernels, list):
        raise bad("kernels", "a list of {name, count, slr, ports}", kernels)
    for i, k in enumerate(kernels):
        where = f"kernels[{i}]"
        if not isinstance(k, Mapping) or not isinstance(k.get("name"), str):
            raise bad(where, "a mapping with a name", k)
        if not _NAME_RE.fullmatch(k["name"]):
            raise bad(f"{where}.name", "a C identifier", k["name"])
        if not count(k.get("count"), 1, 64):
            raise bad(f"{where}.count", "an integer 1..64", k.get("count"))
        slr = k.get("slr", [0])
        if not (isinstance(slr, list) and slr and all(count(s, 0, 3) for s in slr)):
            raise bad(f"{where}.slr", "a non-empty list of SLR numbers 0..3", slr)
        ports = k.get("ports", {})
        if not isinstance(ports, Mapping):
            raise bad(f"{where}.ports", "a mapping of port -> hbm group", ports)
        for port, group in ports.items():
            if not isinstance(port, str) or not _NAME_RE.fullmatch(port):
                raise bad(f"{where}.ports", "port names that are C identifiers", port)
            if group not in hbm:
                raise bad(f"{where}.ports.{port}", f"one of the hbm groups {list(hbm)}", group)
