"""Vitis v++ side files: system_estimate_*.xtxt, *.xclbin.info and *.compile/link_summary."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from runners.reports._complete import Truncated
from runners.reports._model import Values
from runners.reports._text import mhz_to_ns, to_float, to_number, version_of


def _fixed_table(lines: Sequence[str], title: str) -> list[dict[str, str]]:
    """A fixed-width table: title line, header line, a ``----  ----`` underline, rows.

    Column extents come from the dash groups of the underline (cells can contain spaces,
    e.g. ``13.334 ns``), each column running up to the start of the next one.
    """
    for index, line in enumerate(lines):
        if line.strip() != title or index + 2 >= len(lines):
            continue
        header, underline = lines[index + 1], lines[index + 2]
        starts = [m.start() for m in re.finditer(r"-+", underline)]
        if not starts:
            return []
        bounds = [*starts[1:], None]
        names = [header[a:b].strip() for a, b in zip(starts, bounds, strict=True)]
        rows = []
        for row in lines[index + 3 :]:
            if not row.strip() or row.startswith("---"):
                break
            cells = [row[a:b].strip() for a, b in zip(starts, bounds, strict=True)]
            rows.append(dict(zip(names, cells, strict=True)))
        return rows
    return []


def parse_system_estimate(lines: Sequence[str]) -> Values:
    """system_estimate_*.xtxt: per-kernel HLS estimates as v++ sees them at link time.

    Area/latency are totals over each compute unit's top module (rows whose Module Name
    equals the Kernel Name); ``fmax_mhz`` is the lowest estimated frequency of any module.
    BRAM counts are BRAM_18K, as in HLS.
    """
    values: Values = {"tool": "v++"}
    for line in lines[:20]:
        key, _, rest = line.partition(":")
        rest = rest.strip()
        if key == "Version":
            values["tool_version"] = version_of(rest)
        elif key == "Design Name":
            values["top"] = rest
        elif key == "Target Device":
            values["platform"] = rest
        elif key == "Target Clock":
            values["target_clock_mhz"] = to_float(rest)
        elif key == "Total number of kernels":
            values["kernel_count"] = to_number(rest)
    timing = _fixed_table(lines, "Timing Information (MHz)")
    estimates = [to_float(row.get("Estimated Frequency")) for row in timing]
    found = [f for f in estimates if f is not None]
    targets = [to_float(row.get("Target Frequency")) for row in timing]
    if found:
        values["fmax_mhz"] = min(found)
        values["estimated_clock_ns"] = mhz_to_ns(min(found))
    target = next((t for t in targets if t), values.get("target_clock_mhz"))
    if isinstance(target, float):
        values["target_clock_ns"] = mhz_to_ns(target)
        if found:
            values["timing_met"] = min(found) >= target
    units = {row.get("Compute Unit") for row in timing}
    values["compute_units"] = len(units - {None, ""})
    area = [r for r in _fixed_table(lines, "Area Information") if _is_top(r)]
    for column, key in (("FF", "ff"), ("LUT", "lut"), ("DSP", "dsp"), ("BRAM", "bram18")):
        numbers = [to_number(row.get(column)) for row in area]
        values[key] = sum(n for n in numbers if n is not None) if area else None
    uram = [to_number(row.get("URAM")) for row in area]
    values["uram"] = sum(n for n in uram if n is not None) if area else None
    bram18 = values.get("bram18")
    if isinstance(bram18, int | float):
        values["bram36"] = bram18 / 2
    latency = [r for r in _fixed_table(lines, "Latency Information") if _is_top(r)]
    if latency:
        values["latency_cycles_min"] = _max_known([r.get("Best (cycles)") for r in latency])
        values["latency_cycles_max"] = _max_known([r.get("Worst (cycles)") for r in latency])
    return values


def _max_known(cells: list[str | None]) -> int | float | None:
    """Largest number among ``cells``; ``None`` if any cell is ``undef``/missing."""
    numbers = [to_number(cell) for cell in cells]
    known = [n for n in numbers if n is not None]
    return max(known) if known and len(known) == len(numbers) else None


def _is_top(row: dict[str, str]) -> bool:
    return bool(row.get("Kernel Name")) and row.get("Kernel Name") == row.get("Module Name")


def parse_xclbin_info(lines: Sequence[str]) -> Values:
    """``xclbinutil --info`` output: tool version, device, platform and clock frequencies."""
    values: Values = {}
    fields: dict[str, str] = {}
    clock_type = ""
    for line in lines:
        key, sep, rest = line.strip().partition(":")
        if not sep:
            continue
        rest = rest.strip()
        fields.setdefault(key, rest)
        if key == "Type":
            clock_type = rest
        elif key == "Frequency" and clock_type in ("DATA", "KERNEL"):
            values[f"{clock_type.lower()}_clock_mhz"] = to_float(rest.split()[0])
    values["tool"] = "v++"
    values["tool_version"] = version_of(fields.get("Generated by"))
    values["part"] = fields.get("FPGA Device")
    values["platform"] = fields.get("Platform VBNV")
    values["board"] = fields.get("Board")
    values["kernels"] = fields.get("Kernels")
    values["content"] = fields.get("Content")
    values["compute_units"] = sum(1 for line in lines if line.startswith("Instance:"))
    if "data_clock_mhz" in values:
        # DATA_CLK drives ap_clk: after automatic down-scaling this is the achieved clock.
        values["fmax_mhz"] = values["data_clock_mhz"]
    return values


def parse_vpp_summary(text: str) -> Values:
    """*.compile_summary / *.link_summary: a run of ``<ENTRY>{json}</ENTRY>`` blocks.

    ``status`` is the last state reported for the first command (the v++ run itself).
    """
    entries: list[dict[str, Any]] = []
    for block in re.findall(r"<ENTRY>\s*(.*?)\s*</ENTRY>", text, flags=re.S):
        try:
            entry = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    # No entry or report counts: trailing ET_Report entries follow the final status, so a
    # count cannot tell a whole summary from a cut one (see _complete.py).
    values: Values = {"tool": "v++"}
    first_cmd: str | None = None
    states: dict[str, str] = {}
    for entry in entries:
        kind = entry.get("type")
        if kind == "ET_CmdStep" and first_cmd is None:
            first_cmd = entry.get("buildStep", {}).get("cmdId")
        elif kind == "ET_Status":
            status = entry.get("status", {})
            states[status.get("cmdId", "")] = status.get("state", "")
        elif kind == "ET_FlowMetaData":
            _flow_metadata(entry.get("buildSummary", {}), values)
    state = states.get(first_cmd or "")
    if state in (None, "", "CS_RUNNING"):
        # Only a finished run's summary is whole; a running or cut one would read as failed.
        raise Truncated("final status of the v++ command")
    if state:
        values["status"] = state.removeprefix("CS_").lower()
        values["succeeded"] = state == "CS_PASSED"
    return values


def _flow_metadata(summary: dict[str, Any], values: Values) -> None:
    values["flow"] = str(summary.get("flow", "")).removeprefix("BF_").lower() or None
    values["target"] = str(summary.get("target", "")).removeprefix("TT_").lower() or None
    platform = str(summary.get("hardwarePlatform", ""))
    values["platform"] = platform.removesuffix(".xpfm") or None
    values["tool_version"] = version_of(str(summary.get("toolVersion", "")))
    kernels = [k.get("base", {}).get("name") for k in summary.get("kernels", []) or []]
    if kernels:
        values["kernels"] = ",".join(str(k) for k in kernels if k)
