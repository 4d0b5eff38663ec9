"""``vitis-link``: a kernel all the way to an ``.xclbin`` (a packaged ``.xo``, then ``v++``).

Step 1 makes the kernel ``.xo``: for an HLS template, the ``vitis-hls`` C synthesis (a
``VitisHls`` this flow holds, not inherits); for an RTL template with a kernel wrapper (the
whole overlay accelerator, ``_vitis_kernel.RTL_KERNELS``), ``package_xo`` of every RTL
source in a Vivado batch run. Step 2 links it for a Vitis platform:
``v++ --link --config link.cfg -t hw --platform P -o design.xclbin <kernel>.xo``.
``link.cfg`` comes from ``templates/vitis_link``: compute units, HBM channel ranges per
port (``sp=``) and SLR placement. For the overlay the ``sp=`` lines follow the point's
channel map (``hbm_ch_*`` over the platform's HBM channels, ``overlay.xrt_host.hbm_banks``:
the same ranges the host runner allocates its buffers in); for HLS kernels they come from
the point's ``kernels`` / ``hbm`` entries (default: one compute unit, linker-chosen
memory). The part of a link build is the platform name. ``parse`` reads the routed
utilisation and timing reports that ``v++`` leaves under ``_x/reports/link/imp/`` and the
link log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cost_models as cm
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
from runners.toolchains._vitis_kernel import RtlKernel, rtl_kernel, write_package

if TYPE_CHECKING:
    from runners._bundle import Bundle

IMPL_REPORTS = "_x/reports/link/imp"
XCLBIN = "design.xclbin"
_TIMING_KEYS = ("wns_ns", "tns_ns", "whs_ns", "ths_ns", "timing_met")
# Values written into link.cfg (one ``key=value`` per line, sections in brackets) and into
# run_hls.tcl: a newline, '[' or ';' in any of them would add lines or Tcl commands.
PLATFORM_RE = re.compile(r"[A-Za-z0-9_]{1,120}")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class VitisLink(Toolchain):
    """Vitis HLS + ``v++ --link``: routed kernel on a platform, ``.xclbin``."""

    name = "vitis-link"
    deliverable = ("xclbin", ".xclbin")
    description = "kernel .xo (Vitis HLS or RTL package_xo) + v++ --link: routed, .xclbin"
    fidelity = "bitstream"
    default_part = "xilinx_u280_gen3x16_xdma_1_202211_1"
    part_kind = "vitis_platform"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "vitis_hls": ("-version",),
        "vivado": ("-version",),
        "v++": ("--version",),
    }
    kinds = ("hls", "rtl")
    hls = VitisHls()  # the C-synthesis step of an HLS kernel
    step_timeout_s = 12 * 3600.0

    def accepts(self, template: Template) -> bool:
        """An HLS template that lists ``vitis-hls`` or ``vitis-link``; an RTL template that
        lists ``vitis-link`` and has a kernel wrapper."""
        if template.kind == "hls":
            return bool({"vitis-hls", self.name} & set(template.flows))
        return self.name in template.flows and rtl_kernel(template.name) is not None

    def check(self, template: Template, part: str) -> None:
        """Also require a well-formed platform name whose FPGA part is known."""
        super().check(template, part)
        if not PLATFORM_RE.fullmatch(part):
            raise ToolchainError(
                f"flow '{self.name}': platform {part!r} is not a Vitis platform name like "
                "xilinx_u280_gen3x16_xdma_1_202211_1 (letters, digits and '_' only)"
            )
        if self.fpga_part(part) is None:
            known = ", ".join(cm.vitis_platforms())
            raise ToolchainError(
                f"flow '{self.name}': no board lists the Vitis platform '{part}' (nor another "
                f"version of it) under build.vitis_platforms (boards list: {known}); add it to "
                "its board's cost_models/platforms/<board>.yaml"
            )

    def fpga_part(self, platform: str) -> str | None:
        """FPGA part of a Vitis platform name: the part of the board that lists it."""
        return cm.part_of_vitis_platform(platform)

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Clock target, and the point's ``kernels`` / ``hbm`` connectivity if given."""
        opts: dict[str, Any] = {"clock_mhz": round(clock_target_mhz(point, DEFAULT_CLOCK_MHZ))}
        for key in ("kernels", "hbm"):
            if key in point:
                opts[key] = point[key]
        _check_connectivity(opts.get("kernels") or [], opts.get("hbm") or {})
        return opts

    def prepare(self, bundle: Bundle) -> list[Command]:
        """The kernel step (C synthesis or RTL packaging), ``link.cfg``, the link step."""
        kernel = rtl_kernel(bundle.template.name) if bundle.template.kind == "rtl" else None
        part = self.fpga_part(bundle.part) or ""
        if kernel is None:
            name = bundle.template.top
            hls_point = {**self.hls.script_point(bundle), "PART": part}
            render_script("vitis_hls", hls_point, bundle.folder)
            argv = ("vitis_hls", "-f", "run_hls.tcl", "-l", "vitis_hls.log")
            first = Command("csynth", argv, "vitis_hls.out", timeout_s=self.step_timeout_s)
            kernels = bundle.options.get("kernels") or [{"name": name, "count": 1, "ports": {}}]
            hbm = bundle.options.get("hbm") or {}
        else:
            name = kernel.name
            first = write_package(bundle, kernel, part, self.step_timeout_s)
            kernels, hbm = self.channel_map(bundle, kernel)
        link_point = {
            "PLATFORM": bundle.part,
            "CLOCK_MHZ": bundle.options["clock_mhz"],
            "kernels": kernels,
            "hbm": hbm,
        }
        render_script("vitis_link", link_point, bundle.folder)
        link = (
            *("v++", "--link", "--config", "link.cfg", "-t", "hw", "--platform", bundle.part),
            *("-o", XCLBIN, f"{name}.xo"),
        )
        return [first, Command("link", link, "vpp_link.log", timeout_s=self.step_timeout_s)]

    def channel_map(
        self, bundle: Bundle, kernel: RtlKernel
    ) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
        """One compute unit whose AXI ports sit on the channels the point's ``hbm_ch_*``
        give each tensor group on this platform (the kernel's program and token ports on
        the activations' channels)."""
        from overlay.xrt_host import EXTRA_PORTS, hbm_banks

        if "kernels" in bundle.options or "hbm" in bundle.options:
            raise ToolchainError(
                f"flow '{self.name}': template '{bundle.template.name}' links its ports from "
                "the point's hbm_ch_* channel map; drop the point's kernels/hbm keys"
            )
        channels = hbm_channels(bundle.part)
        if channels is None:
            raise ToolchainError(
                f"flow '{self.name}': platform '{bundle.part}' has no HBM the cost model knows "
                "(cost_models/platforms/<board>.yaml memory.kind: hbm); the accelerator's "
                "channel map needs one"
            )
        groups = [g for g in kernel.buffers if g not in EXTRA_PORTS]
        counts = {g: bundle.point.get(f"hbm_ch_{g}", 1) for g in groups}
        bad = {g: n for g, n in counts.items() if not isinstance(n, int) or isinstance(n, bool)}
        if bad or any(n < 1 for n in counts.values()):
            raise ToolchainError(
                f"flow '{self.name}': hbm_ch_* must be channel counts >= 1, got {counts}"
            )
        banks = hbm_banks(counts, channels=channels)
        ports = {m: g for g, m in kernel.buffers.items() if g in banks}
        ports |= {kernel.buffers[a]: g for a, g in EXTRA_PORTS.items() if a in kernel.buffers}
        unit = {"name": kernel.name, "count": 1, "ports": ports}
        return [unit], {g: [a, b] for g, (a, b) in banks.items()}

    def parse(self, workdir: Path) -> BuildResult:
        """Routed utilisation and timing of the link run; HLS estimates as ``hls_*``."""
        hls = self.hls.parse_hls(workdir) if (workdir / "run_hls.tcl").is_file() else None
        util = read_report(workdir / IMPL_REPORTS / "impl_1_full_util_routed.rpt")
        timing_files = sorted((workdir / IMPL_REPORTS).glob("*timing_summary*.rpt"))
        timing = read_report(timing_files[0]) if timing_files else None
        log = read_report(workdir / "vpp_link.log")
        metrics = {f"hls_{k}": v for k, v in (hls.metrics if hls else {}).items() if k != "part"}
        metrics |= tool_metrics(util, RESOURCE_KEYS) | tool_metrics(timing, _TIMING_KEYS)
        rel = {
            "utilization": f"{IMPL_REPORTS}/impl_1_full_util_routed.rpt",
            "link_log": "vpp_link.log",
            "link_cfg": "link.cfg",
            "package_log": "package_xo.log",
            "package_script": "package_xo.tcl",
            "kernel_xml": "kernel.xml",
        }
        if timing_files:
            rel["timing_summary"] = timing_files[0].relative_to(workdir).as_posix()
        reports = {**(hls.reports if hls else {}), **existing(workdir, rel)}
        packaged = sorted(workdir.glob("*.xo"))  # the RTL kernel's package_xo output
        artefacts = dict(hls.artefacts) if hls else ({"xo": packaged[0].name} if packaged else {})
        artefacts |= existing(workdir, {"xclbin": XCLBIN})
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


def hbm_channels(platform: str) -> int | None:
    """HBM channels of the board a Vitis platform name is for (``xilinx_u280_...`` -> the
    ``u280`` platform file), None when the board is unknown or has no HBM."""
    fields = platform.split("_")
    if len(fields) < 3:
        return None
    try:
        board = cm.load_platform(fields[1])
    except (cm.InputError, OSError, ValueError):
        return None
    memory = getattr(board, "memory", None)
    kind = str(getattr(memory, "kind", ""))
    return int(memory.channels) if memory is not None and kind == "hbm" else None


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
