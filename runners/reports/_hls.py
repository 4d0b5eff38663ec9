"""Vivado/Vitis HLS text reports: <top>_csynth.rpt, the csynth.rpt synthesis summary,
csynth_design_size.rpt and the export_design ``export_impl.rpt``."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from runners.reports._model import Values
from runners.reports._text import (
    bullet_fields,
    find_line,
    iter_tables,
    ns_to_mhz,
    to_float,
    to_ns,
    to_number,
    version_of,
)
from runners.reports._vivado_util import failfast_checks

# HLS resource column -> our key. BRAM_18K counts 18 Kb halves; ``bram36`` is derived.
RESOURCE_KEYS = {
    "BRAM_18K": "bram18",
    "BRAM": "bram18",
    "DSP48E": "dsp",
    "DSP": "dsp",
    "FF": "ff",
    "LUT": "lut",
    "URAM": "uram",
}
_PCT_RE = re.compile(r"^\s*(\S+)\s*\(\s*(~?[\d.]+)%\)\s*$")


def general_info(lines: Sequence[str]) -> Values:
    """The ``* Version: / * Target device: / * Solution:`` bullets every HLS report starts with."""
    fields = bullet_fields(lines[:30])
    values: Values = {}
    if "version" in fields:
        values["tool_version"] = version_of(fields["version"])
    if "target device" in fields:
        values["part"] = fields["target device"]
    if "product family" in fields:
        values["product_family"] = fields["product family"]
    solution = fields.get("solution", "")
    if "Vitis Kernel Flow" in solution:
        values["flow_target"] = "vitis"
    elif "Vivado IP Flow" in solution:
        values["flow_target"] = "vivado"
    title = re.search(r"== (Vivado|Vitis) HLS Report for '([^']+)'", "\n".join(lines[:10]))
    summary = re.search(r"== Synthesis Summary Report of '([^']+)'", "\n".join(lines[:10]))
    if title:
        values["tool"] = f"{title.group(1).lower()}_hls"
        values["top"] = title.group(2)
    elif summary:
        values["tool"] = "vitis_hls"
        values["top"] = summary.group(1)
    return values


def _add_bram36(values: Values) -> None:
    for suffix in ("", "_available", "_available_slr"):
        bram18 = values.get(f"bram18{suffix}")
        if isinstance(bram18, int | float):
            values[f"bram36{suffix}"] = bram18 / 2


def parse_csynth_rpt(lines: Sequence[str]) -> Values:
    """Per-module report (``== Vivado HLS Report for 'top'``), both the <=2019.1 layout with
    bare numbers and the 2019.2+ layout with ``ns`` units and absolute latency columns."""
    values = general_info(lines)
    timing = find_line(lines, "+ Timing")
    if timing is not None:
        for table in iter_tables(lines, timing, timing + 12)[:1]:
            for row in table.rows[:1]:
                values["target_clock_ns"] = to_ns(row[1])
                values["estimated_clock_ns"] = to_ns(row[2])
                values["clock_uncertainty_ns"] = to_ns(row[3])
    latency = find_line(lines, "+ Latency")
    if latency is not None:
        for table in iter_tables(lines, latency, latency + 12)[:1]:
            for row in table.rows[:1]:
                _latency_row(row, values)
    util = find_line(lines, "== Utilization Estimates")
    if util is not None:
        for table in iter_tables(lines, util, util + 40)[:1]:
            _utilization_table(table.header, table.rows, values)
    hls_timing_verdict(values)
    return values


def _latency_row(row: list[str], values: Values) -> None:
    if len(row) >= 7:  # cycles min/max, absolute min/max, interval min/max, pipeline type
        values["latency_ns_min"] = to_ns(row[2])
        values["latency_ns_max"] = to_ns(row[3])
        interval = row[4:6]
    else:  # <= 2019.1: latency min/max, interval min/max, pipeline type
        interval = row[2:4]
    values["latency_cycles_min"] = to_number(row[0])
    values["latency_cycles_max"] = to_number(row[1])
    values["interval_min"] = to_number(interval[0])
    values["interval_max"] = to_number(interval[1])
    values["pipeline_type"] = row[-1] or None


def _utilization_table(header: list[str], rows: list[list[str]], values: Values) -> None:
    suffixes = {
        "Total": "",
        "Available": "_available",
        "Utilization (%)": "_util",
        "Available SLR": "_available_slr",
        "Utilization SLR (%)": "_util_slr",
    }
    for row in rows:
        suffix = suffixes.get(row[0])
        if suffix is None:
            continue
        for column, cell in zip(header[1:], row[1:], strict=False):
            key = RESOURCE_KEYS.get(column)
            if key:
                values[f"{key}{suffix}"] = to_number(cell)
    _add_bram36(values)


def hls_timing_verdict(values: Values) -> None:
    """``slack_ns``, ``timing_met`` and ``fmax_mhz`` from the HLS clock estimate.

    HLS schedules against the effective budget ``target - uncertainty`` and flags a timing
    issue when the estimate exceeds it, so that is the bound used here too.
    """
    target = values.get("target_clock_ns")
    estimated = values.get("estimated_clock_ns")
    uncertainty = values.get("clock_uncertainty_ns")
    if not isinstance(target, float) or not isinstance(estimated, float):
        return
    budget = target - (uncertainty if isinstance(uncertainty, float) else 0.0)
    values["slack_ns"] = round(budget - estimated, 3)
    values["timing_met"] = estimated <= budget + 1e-6
    if estimated > 0:
        values["fmax_mhz"] = ns_to_mhz(estimated)


def parse_csynth_summary(lines: Sequence[str]) -> Values:
    """Vitis 2020.2+ ``== Synthesis Summary Report``: the top row of ``Modules & Loops``.

    The first header row merges cells differently across versions (2025.1 joins the two
    latency columns), so columns are named from the second header row only.
    """
    values = general_info(lines)
    start = find_line(lines, "+ Performance & Resource Estimates")
    tables = iter_tables(lines, start or 0)
    if not tables:
        return values
    table = tables[0]
    names = {
        "Type": "issue_type",
        "Slack": "slack_ns",
        "(cycles)": "latency_cycles",
        "(ns)": "latency_ns",
        "Interval": "interval",
        "Pipelined": "pipelined",
    }
    top = next((row for row in table.rows if row and row[0].startswith("+")), None)
    if top is None:
        return values
    for column, cell in zip(table.header[1:], top[1:], strict=False):
        if column in names:
            key = names[column]
            if key in ("latency_cycles", "interval"):
                # one number, or "min ~ max" when the latency is data dependent
                low, _, high = cell.partition("~")
                values[f"{key}_min"] = to_number(low)
                values[f"{key}_max"] = to_number(high or low)
            elif key == "latency_ns":
                low, _, high = cell.partition("~")
                values["latency_ns_min"] = to_ns(low)
                values["latency_ns_max"] = to_ns(high or low)
            elif key in ("issue_type", "pipelined"):
                values[key] = None if cell == "-" else cell
            else:
                values[key] = to_ns(cell)
        elif column in RESOURCE_KEYS:
            key = RESOURCE_KEYS[column]
            match = _PCT_RE.match(cell)
            values[key] = to_number(match.group(1) if match else cell)
            if match:
                values[f"{key}_util"] = to_number(match.group(2))
    for key in ("bram18", "dsp", "ff", "lut", "uram"):
        if key in values and values[key] is None:
            values[key] = 0  # "-" in a resource column means none used
    _add_bram36(values)
    slack = values.get("slack_ns")
    # "-0.00" is a real (rounded) violation, so test the sign bit rather than ``< 0``.
    negative = isinstance(slack, float) and math.copysign(1.0, slack) < 0
    values["timing_met"] = not negative and values.get("issue_type") != "Timing"
    return values


def parse_design_size(lines: Sequence[str]) -> Values:
    """csynth_design_size.rpt: instruction counts per compilation phase."""
    values: Values = {}
    counts: list[int] = []
    for table in iter_tables(lines):
        if table.column("Instructions") is not None:
            column = table.column("Instructions") or 0
            for row in table.rows:
                number = to_number(row[column]) if len(row) > column else None
                if isinstance(number, int):
                    if row[0] == "Compile/Link":
                        values["instructions_compile_link"] = number
                    counts.append(number)
        elif table.column("Function") is not None and table.rows and "top" not in values:
            values["top"] = table.rows[0][0].lstrip("+ ").strip()
    if counts:
        values["instructions_final"] = counts[-1]
        values["instructions_max"] = max(counts)
    return values


def parse_export_impl(lines: Sequence[str]) -> Values:
    """HLS ``export_design -flow impl|syn`` summary (export_impl.rpt / export_syn.rpt)."""
    values = general_info(lines)
    values["tool"] = "vitis_hls"
    resources = find_line(lines, "Resource Summary")
    if resources is not None:
        for line in lines[resources + 2 : resources + 12]:
            match = re.match(r"^(LUT|FF|DSP|BRAM|URAM|SRL|CLB|LATCH):\s+(\S+)", line)
            if match:
                key = "bram18" if match.group(1) == "BRAM" else match.group(1).lower()
                values[key] = to_number(match.group(2))
    text = "\n".join(lines)
    if "Timing was met" in text:
        values["timing_met"] = True
    elif re.search(r"Timing was not met|Timing (constraints )?not met", text):
        values["timing_met"] = False
    for table in iter_tables(lines):
        if table.column("Period (ns)") is None:
            continue
        periods = {row[0]: to_float(row[1]) for row in table.rows if len(row) > 1}
        values["target_clock_ns"] = periods.get("Target")
        values["synth_clock_ns"] = periods.get("Post-Synthesis")
        achieved = periods.get("Post-Route", periods.get("Post-Synthesis"))
        values["estimated_clock_ns"] = achieved
        values["fmax_mhz"] = ns_to_mhz(achieved)
        break
    _add_bram36(values)
    values.update(failfast_checks(lines))
    return values
