"""Sniff a report's kind from its content and dispatch to the matching parser."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runners._errors import ReportParseError
from runners.reports import _hls, _hls_xml, _logs, _open, _vitis, _vivado_timing, _vivado_util
from runners.reports._complete import Truncated, check_complete, truncated
from runners.reports._model import Report, Values
from runners.reports._text import header_block, normalise_newlines

# Every kind ``parse_report`` can return, with a one-line description.
SUPPORTED_KINDS: dict[str, str] = {
    "vivado_utilization": "Vivado report_utilization (also -slr per-SLR tables)",
    "vivado_kernel_utilization": "Vivado report_accelerator_utilization (Vitis kernel_util)",
    "vivado_timing_summary": "Vivado report_timing_summary",
    "vivado_timing_paths": "Vivado report_timing path listing",
    "vivado_route_status": "Vivado report_route_status",
    "vivado_failfast": "report_failfast guideline table",
    "hls_csynth": "HLS <top>_csynth.rpt (Vivado HLS / Vitis HLS per-module report)",
    "hls_csynth_summary": "Vitis HLS 2020.2+ csynth.rpt synthesis summary",
    "hls_csynth_xml": "HLS csynth.xml",
    "hls_design_size": "Vitis HLS csynth_design_size.rpt",
    "hls_export_impl": "HLS export_design export_impl.rpt / export_syn.rpt",
    "hls_export_xml": "HLS export_design export_impl.xml / export_syn.xml",
    "vitis_system_estimate": "v++ system_estimate_*.xtxt",
    "vitis_xclbin_info": "xclbinutil --info (*.xclbin.info)",
    "vitis_compile_summary": "v++ *.compile_summary",
    "vitis_link_summary": "v++ *.link_summary",
    "log": "tool log (vivado.log, runme.log, vitis_hls.log, v++.log)",
    "yosys_stat": "Yosys stat -json",
    "yosys_netlist": "Yosys write_json netlist",
    "nextpnr_report": "nextpnr --report JSON",
}

_SNIFF_BYTES = 64 * 1024
_LOG_LINE_RE = re.compile(r"^(?:.*\s)?(ERROR|CRITICAL WARNING|WARNING|INFO): \[", re.M)


def _unsupported(name: str, reason: str) -> ReportParseError:
    kinds = ", ".join(SUPPORTED_KINDS)
    return ReportParseError(name or "<text>", f"{reason}; supported kinds: {kinds}")


def sniff(text: str, name_hint: str = "") -> str | None:
    """Guess the kind of a report from its content (the first 64 KiB; all of it for JSON).

    ``name_hint`` only breaks the compile/link tie of v++ summaries whose flow entry is
    missing. Returns ``None`` when nothing matches.
    """
    head = normalise_newlines(text[:_SNIFF_BYTES])
    stripped = head.lstrip()
    name = Path(name_hint).name.lower()
    if stripped.startswith("<ENTRY>"):
        flow = "link" if '"BF_LINK"' in text or name.endswith("link_summary") else "compile"
        return f"vitis_{flow}_summary"
    if stripped.startswith("{"):
        return _sniff_json(text)
    if stripped.startswith("<profile>"):
        return "hls_export_xml" if "<RunData>" in head[:2000] else "hls_csynth_xml"
    lines = head.split("\n")
    command = header_block(lines).get("command", "")
    by_command = [
        ("report_utilization", "vivado_utilization"),
        ("report_accelerator_utilization", "vivado_kernel_utilization"),
        ("report_timing_summary", "vivado_timing_summary"),
        ("report_timing", "vivado_timing_paths"),
        ("report_route_status", "vivado_route_status"),
    ]
    for prefix, kind in by_command:
        if command.split(" ")[0] == prefix:
            return kind
    by_text = [
        ("== Synthesis Summary Report of", "hls_csynth_summary"),
        ("HLS Report for '", "hls_csynth"),
        ("== Design Size Report", "hls_design_size"),
        ("== Vivado Place & Route Results", "hls_export_impl"),
        ("== Vivado RTL Synthesis Results", "hls_export_impl"),
        ("xclbin Information", "vitis_xclbin_info"),
        ("Design Route Status", "vivado_route_status"),
        ("| Design Timing Summary", "vivado_timing_summary"),
        ("Utilization Design Information", "vivado_utilization"),
        ("with report_failfast", "vivado_failfast"),
    ]
    for marker, kind in by_text:
        if marker in head:
            return kind
    if re.search(r"^Version:\s+v\+\+", head, re.M) and (
        "Kernel Summary" in head or stripped.startswith("=====")
    ):
        # (a system estimate opens with a "=====" banner; one cut before its Kernel Summary
        # is still one, and then fails as cut short instead of passing for a log)
        return "vitis_system_estimate"
    if _LOG_LINE_RE.search(head) or re.search(r"\(64-bit\)|\*\*\* Running vivado", head):
        return "log"
    return None


def _sniff_json(text: str) -> str | None:
    data = _load_json(text)
    if not isinstance(data, dict):
        return None
    if "fmax" in data or "utilization" in data:
        return "nextpnr_report"
    modules = data.get("modules")
    if isinstance(modules, dict):
        blocks = [m for m in modules.values() if isinstance(m, dict)]
        if isinstance(data.get("design"), dict) or any("num_cells" in m for m in blocks):
            return "yosys_stat"
        if any("cells" in m for m in blocks):
            return "yosys_netlist"
    return None


def _load_json(text: str) -> Any:
    """Parse the first JSON object in ``text``, ignoring anything after it."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except (json.JSONDecodeError, RecursionError):  # ``[[[[…`` deeper than Python's stack
        return None


def _lines(text: str) -> list[str]:
    return normalise_newlines(text).split("\n")


def _xml(parse: Callable[[ET.Element], Values]) -> Callable[[str], Values]:
    def run(text: str) -> Values:
        return parse(ET.fromstring(text.strip()))

    return run


def _json(parse: Callable[[dict[str, Any]], Values]) -> Callable[[str], Values]:
    def run(text: str) -> Values:
        return parse(_load_json(text))

    return run


def _text(parse: Callable[[list[str]], Values]) -> Callable[[str], Values]:
    def run(text: str) -> Values:
        return parse(_lines(text))

    return run


_PARSERS: dict[str, Callable[[str], Values]] = {
    "vivado_utilization": _text(_vivado_util.parse_utilization),
    "vivado_kernel_utilization": _text(_vivado_util.parse_kernel_utilization),
    "vivado_timing_summary": _text(_vivado_timing.parse_timing_summary),
    "vivado_timing_paths": _text(_vivado_timing.parse_timing_paths),
    "vivado_route_status": _text(_vivado_util.parse_route_status),
    "vivado_failfast": _text(_vivado_util.parse_failfast),
    "hls_csynth": _text(_hls.parse_csynth_rpt),
    "hls_csynth_summary": _text(_hls.parse_csynth_summary),
    "hls_csynth_xml": _xml(_hls_xml.parse_csynth_xml),
    "hls_design_size": _text(_hls.parse_design_size),
    "hls_export_impl": _text(_hls.parse_export_impl),
    "hls_export_xml": _xml(_hls_xml.parse_export_xml),
    "vitis_system_estimate": _text(_vitis.parse_system_estimate),
    "vitis_xclbin_info": _text(_vitis.parse_xclbin_info),
    "vitis_compile_summary": _vitis.parse_vpp_summary,
    "vitis_link_summary": _vitis.parse_vpp_summary,
    "log": _text(_logs.parse_log),
    "yosys_stat": _json(_open.parse_yosys_stat),
    "yosys_netlist": _json(_open.parse_yosys_netlist),
    "nextpnr_report": _json(_open.parse_nextpnr_report),
}


def parse_text(text: str, name_hint: str = "") -> Report:
    """Parse report text already in memory; ``name_hint`` (a file name) helps sniffing and
    ends up as ``Report.path``. Raises ``ReportParseError`` for unrecognised content."""
    kind = sniff(text, name_hint)
    if kind is None:
        raise _unsupported(name_hint, "not a recognised tool report")
    check_complete(kind, _lines(text), name_hint)
    try:
        values = _PARSERS[kind](text)
    except Truncated as exc:
        raise truncated(name_hint, kind, str(exc)) from None
    except (ET.ParseError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        if isinstance(exc, ReportParseError):
            raise
        raise ReportParseError(name_hint or "<text>", f"looks like {kind} but: {exc}") from exc
    return Report(kind=kind, path=name_hint, values=_finite(values, name_hint, kind))


def _finite(values: Values, name: str, kind: str) -> Values:
    """Refuse numbers no tool writes (``1e400`` reads as infinity, ``nan``): they would
    pass as measurements and print as ``Infinity`` in JSON."""
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ReportParseError(
                name or "<text>", f"{kind} value {key} is not a finite number ({value})"
            )
    return values


def parse_report(path: str | Path) -> Report:
    """Read a report file, detect its kind from its content and parse it.

    Timing summaries are streamed and only read up to the Clock Summary (they can be
    tens of MB); everything else is read whole. Raises ``ReportParseError`` if the file is
    missing, unreadable or of an unsupported kind.
    """
    file = Path(path)
    if file.exists() and not file.is_file() and not file.is_dir():
        raise ReportParseError(file, "is not a regular file")  # a FIFO would block the read
    try:
        with file.open("r", encoding="utf-8", errors="replace", newline=None) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ReportParseError(
            file, f"cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    if len(head) == _SNIFF_BYTES and head.lstrip().startswith("{"):
        # JSON can only be recognised once the whole object has been read.
        head = file.read_text("utf-8", errors="replace")
    kind = sniff(head, str(file))
    if kind is None:
        raise _unsupported(str(file), "not a recognised tool report")
    if kind == "vivado_timing_summary":
        with file.open("r", encoding="utf-8", errors="replace", newline=None) as handle:
            try:
                values = _vivado_timing.parse_timing_summary(handle)
            except Truncated as exc:
                raise truncated(str(file), kind, str(exc)) from None
        return Report(kind=kind, path=str(file), values=_finite(values, str(file), kind))
    text = head if len(head) < _SNIFF_BYTES else file.read_text("utf-8", errors="replace")
    return parse_text(text, str(file))
