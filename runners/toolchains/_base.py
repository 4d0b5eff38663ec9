"""The ``Toolchain`` base class: what every flow adapter provides."""

from __future__ import annotations

import abc
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._errors import RunnerError
from runners._executor import Command, find_program
from runners._result import BuildResult, tail
from runners._templates import Template, load_template, render_template
from runners.reports import Report, ReportParseError, classify_failure, parse_report

if TYPE_CHECKING:
    from runners._bundle import Bundle

FIDELITIES = ("sim", "synth", "place_route", "bitstream")
# (program path, mtime) -> version line; a tool upgraded in place gets a new entry.
_VERSION_CACHE: dict[tuple[str, float], str] = {}


class ToolchainError(RunnerError, ValueError):
    """A flow cannot build this template or part (wrong kind, unknown family, ...)."""


class Toolchain(abc.ABC):
    """One tool flow (yosys-xilinx, ecp5, vivado, ...).

    Contract:
      * ``prepare(bundle)`` writes the flow's scripts (``.ys``, TCL, cfg) into
        ``bundle.folder`` and returns the commands to run there. It runs nothing and is
        deterministic, so the bundle hash covers the scripts.
      * ``parse(workdir)`` reads what the commands left in ``workdir`` (after every step
        succeeded) and returns a ``BuildResult`` with ``status``, ``metrics``,
        ``failure_class``, ``reports`` and ``artefacts``; ``build`` fills in the rest.
      * ``version()`` names the tool versions; it is part of the bundle hash.
    Adding a flow = one module defining a subclass + one line in ``TOOLCHAINS``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    fidelity: ClassVar[str]  # one of FIDELITIES
    default_part: ClassVar[str]
    # What the flow's part names: an FPGA "part", or a "vitis_platform" (vitis-link), which
    # a board lists under build.vitis_platforms.
    part_kind: ClassVar[str] = "part"
    # program -> argv that prints its version (first line matching ``_VERSION_RE`` is kept)
    programs: ClassVar[Mapping[str, tuple[str, ...]]]
    # template kinds this flow builds
    kinds: ClassVar[tuple[str, ...]] = ("rtl",)
    step_timeout_s: ClassVar[float] = 4 * 3600.0
    # A flow that ends in a flashable file: (its ``BuildResult.artefacts`` key, file suffix).
    # ``dse promote`` publishes only such flows.
    deliverable: ClassVar[tuple[str, str] | None] = None
    # A design point the flow builds for its default part (its contract tests prepare it).
    example_point: ClassVar[Mapping[str, object]] = {}

    def accepts(self, template: Template) -> bool:
        """True when this flow can build ``template`` (its manifest lists the flow)."""
        return template.kind in self.kinds and self.name in template.flows

    def check(self, template: Template, part: str) -> None:
        """Raise ``ToolchainError`` when the template or part does not suit this flow."""
        if self.accepts(template):
            return
        # ``accepts`` may be wider than "the manifest lists this flow" (vitis-link builds any
        # HLS template that lists vitis-hls), so only its refusal is explained here.
        if self.name not in template.flows:
            raise ToolchainError(
                f"template '{template.name}' cannot be built with flow '{self.name}'; its "
                f"manifest lists flows: {', '.join(template.flows)}"
            )
        if template.kind not in self.kinds:
            # Listed by the manifest, but this flow takes other sources: say which.
            raise ToolchainError(
                f"template '{template.name}' is {template.kind}, but flow '{self.name}' builds "
                f"{' or '.join(self.kinds)} sources; fix the template manifest's flows:"
            )

    def options(self, point: Mapping[str, object]) -> dict[str, Any]:
        """Flow settings read from the design point (clock target, seed); none by default."""
        return {}

    @abc.abstractmethod
    def prepare(self, bundle: Bundle) -> list[Command]:
        """Write the flow's scripts into ``bundle.folder``; return the commands to run."""

    @abc.abstractmethod
    def parse(self, workdir: Path) -> BuildResult:
        """Read the reports the commands wrote into ``workdir``."""

    def version(self) -> dict[str, str]:
        """``{program: version line}`` for every program of the flow ("not found" if absent)."""
        return {prog: program_version(prog, args) for prog, args in self.programs.items()}

    def classify(self, workdir: Path, log: str) -> tuple[str, str | None, list[str]]:
        """``(failure_class, first_error, log_tail)`` for a failed step whose log is ``log``."""
        text = read_text(workdir / log)
        failure, first = classify_failure(text)
        if failure == "none":
            lines = [ln for ln in text.splitlines() if ln.strip()]
            failure, first = "tool_error", (lines[-1].strip() if lines else None)
        return failure, first, tail(text)


_VERSION_RE = re.compile(r"\d+\.\d+")


def program_version(program: str, args: tuple[str, ...]) -> str:
    """First line of ``program args`` output that holds a version number (cached)."""
    path = find_program(program)
    if path is None:
        return "not found"
    key = (path, Path(path).stat().st_mtime)
    if key not in _VERSION_CACHE:
        try:
            done = subprocess.run(
                [path, *args], capture_output=True, text=True, timeout=300, check=False
            )
            text = done.stdout + done.stderr
        except (OSError, subprocess.TimeoutExpired) as exc:
            text = f"unknown ({exc})"
        lines = [ln.strip() for ln in text.splitlines() if _VERSION_RE.search(ln)]
        _VERSION_CACHE[key] = lines[0] if lines else "unknown"
    return _VERSION_CACHE[key]


def read_text(path: Path) -> str:
    """Text of a file, or "" when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def read_report(path: Path) -> Report | None:
    """``parse_report(path)`` or None when the file is missing or not parseable."""
    if not path.is_file():
        return None
    try:
        return parse_report(path)
    except ReportParseError:
        return None


def result(
    status: str,
    *,
    metrics: Mapping[str, Any],
    failure_class: str = "none",
    first_error: str | None = None,
    log_tail: list[str] | None = None,
    reports: Mapping[str, str] | None = None,
    artefacts: Mapping[str, str] | None = None,
    fidelity: str = "",
) -> BuildResult:
    """A partial ``BuildResult`` from ``parse``; ``build`` fills in bundle and run facts."""
    return BuildResult(
        status="ok" if status == "ok" else "failed",
        flow="",
        template="",
        part="",
        metrics=dict(metrics),
        failure_class=failure_class,
        first_error=first_error,
        log_tail=log_tail or [],
        reports=dict(reports or {}),
        artefacts=dict(artefacts or {}),
        fidelity=fidelity,
    )


def clock_target_mhz(point: Mapping[str, object], default: float) -> float:
    """The point's clock target: ``clock_mhz``, else ``freq_mhz`` (cost-model key), else default."""
    for key in ("clock_mhz", "freq_mhz"):
        value = point.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return default


def existing(workdir: Path, names: Mapping[str, str]) -> dict[str, str]:
    """The subset of ``{name: relative path}`` that exists in ``workdir``."""
    return {k: v for k, v in names.items() if (workdir / v).is_file()}


def render_script(name: str, point: Mapping[str, Any], folder: Path) -> list[str]:
    """Render the script template ``templates/<name>`` (e.g. ``vivado``) into ``folder``.

    The design's own ``params.json`` is kept: the script's copy goes to
    ``<name>.params.json``. Returns the written file names.
    """
    with tempfile.TemporaryDirectory(prefix="dse-script-") as tmp:
        written = render_template(load_template(name), point, tmp)
        names = []
        for path in written:
            dest = f"{name}.params.json" if path.name == "params.json" else path.name
            shutil.copyfile(path, folder / dest)
            names.append(dest)
    return names


def tool_metrics(report: Report | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """The ``keys`` a parsed report holds (empty when the report is missing)."""
    return {k: report.values[k] for k in keys if report is not None and k in report.values}


RESOURCE_KEYS = (
    "part",
    "lut",
    "lut_available",
    "lut_util",
    "ff",
    "ff_available",
    "ff_util",
    "dsp",
    "dsp_available",
    "dsp_util",
    "bram36",
    "bram36_available",
    "bram36_util",
    "uram",
    "uram_available",
    "uram_util",
)


# --- shared by the vendor flows (Vivado, v++) ----------------------------------------------
def vendor_result(
    *,
    complete: bool,
    metrics: Mapping[str, Any],
    log: Report | None,
    log_tail: list[str],
    reports: Mapping[str, str],
    artefacts: Mapping[str, str],
    missing: str,
    timing_error: str,
    fidelity: str,
) -> BuildResult:
    """The verdict of a vendor run from its parsed reports and log.

    ``complete`` is False when a report or artefact the flow needs is missing: the run
    failed with the log's failure class (``tool_error`` when the log names none) and its
    first error, else ``missing``. A run that completed but missed timing is
    ``timing_not_met`` with ``timing_error``.
    """
    if not complete:
        failure = log.values.get("failure_class") if log is not None else None
        first = log.values.get("first_error") if log is not None else None
        return result(
            "failed",
            metrics=metrics,
            failure_class=str(failure) if failure not in (None, "none") else "tool_error",
            first_error=str(first) if first else missing,
            log_tail=log_tail,
            reports=reports,
            fidelity=fidelity,
        )
    timing_failed = metrics.get("timing_met") is False
    return result(
        "failed" if timing_failed else "ok",
        metrics=metrics,
        failure_class="timing_not_met" if timing_failed else "none",
        first_error=timing_error if timing_failed else None,
        log_tail=log_tail,
        reports=reports,
        artefacts=artefacts,
        fidelity=fidelity,
    )
