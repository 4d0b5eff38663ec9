"""Vivado timing reports: report_timing_summary and report_timing (path listings)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from runners.reports._complete import Truncated
from runners.reports._model import Values
from runners.reports._text import ns_to_mhz, to_float, to_number, vivado_header

# Column name in the "Design Timing Summary" table -> our key.
_SUMMARY_KEYS = {
    "WNS(ns)": "wns_ns",
    "TNS(ns)": "tns_ns",
    "TNS Failing Endpoints": "failing_endpoints",
    "TNS Total Endpoints": "total_endpoints",
    "WHS(ns)": "whs_ns",
    "THS(ns)": "ths_ns",
    "THS Failing Endpoints": "hold_failing_endpoints",
    "THS Total Endpoints": "hold_total_endpoints",
    "WPWS(ns)": "wpws_ns",
    "TPWS(ns)": "tpws_ns",
    "TPWS Failing Endpoints": "pulse_width_failing_endpoints",
    "TPWS Total Endpoints": "pulse_width_total_endpoints",
}
_VERDICTS = {
    "All user specified timing constraints are met.": "met",
    "Timing constraints are not met.": "not_met",
    "There are no user specified timing constraints.": "unconstrained",
}
_HEADING_RE = re.compile(r"^\| (?!Clock Summary)[A-Z]")
_CLOCK_RE = re.compile(r"^(\s*)(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)\s*$")


def parse_timing_summary(lines: Iterable[str]) -> Values:
    """report_timing_summary: the Design Timing Summary row, the verdict and the clocks.

    ``failing_endpoints`` / ``total_endpoints`` are the setup (TNS) counts; hold and pulse
    width counts get their own keys. ``timing_met`` is ``None`` for an unconstrained design.
    Reads ``lines`` lazily and stops after the Clock Summary: routed summaries reach 16 MB.
    """
    head: list[str] = []
    values: Values = {}
    state = "header"
    columns: list[str] = []
    periods: list[float] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if state == "header":
            head.append(line)
            if len(head) > 30 or line.startswith("Timing Summary Report"):
                values.update(vivado_header(head))
                state = "seek"
        if "| Design Timing Summary" in line:
            state = "summary"
        elif state == "summary" and line.strip().startswith("WNS(ns)"):
            columns = re.split(r"\s{2,}", line.strip())
            state = "underline"
        elif state == "underline" and line.strip().startswith("---"):
            state = "row"
        elif state == "row" and line.strip():
            for name, cell in zip(columns, line.split(), strict=False):
                if name in _SUMMARY_KEYS:
                    key = _SUMMARY_KEYS[name]
                    values[key] = to_float(cell) if key.endswith("_ns") else to_number(cell)
            state = "verdict"
        elif state == "verdict" and line.strip():
            verdict = _VERDICTS.get(line.strip())
            if verdict:
                values["timing_verdict"] = verdict
            state = "seek_clocks"
        elif "| Clock Summary" in line and state in ("seek_clocks", "seek", "verdict"):
            state = "clocks_title"
        elif state == "clocks_title" and line.startswith("Clock ") and "Period(ns)" in line:
            state = "clocks_header"
        elif state == "clocks_header" and line.startswith("-----"):
            state = "clocks"
        elif state == "clocks":
            match = _CLOCK_RE.match(line)
            if match:
                periods.append(float(match.group(3)))
            else:
                state = "after_clocks"
        if state in ("clocks_title", "clocks_header", "after_clocks") and _HEADING_RE.match(line):
            # The next section's heading: the clock table is whole (see _complete.py).
            state = "done"
            break
    if state != "done":
        raise Truncated("section heading after the Clock Summary")
    if state == "header":
        values.update(vivado_header(head))
    _verdict(values)
    values["clock_count"] = len(periods)
    if periods:
        values["min_clock_period_ns"] = min(periods)
    if len(periods) == 1:
        values["target_clock_ns"] = periods[0]
        wns = values.get("wns_ns")
        if isinstance(wns, float):
            values["fmax_mhz"] = ns_to_mhz(periods[0] - wns)
    return values


def _verdict(values: Values) -> None:
    verdict = values.get("timing_verdict")
    if verdict == "met":
        values["timing_met"] = True
    elif verdict == "not_met":
        values["timing_met"] = False
    elif verdict == "unconstrained":
        values["timing_met"] = None
    else:
        slacks = [values.get(key) for key in ("wns_ns", "whs_ns", "wpws_ns")]
        numbers = [s for s in slacks if isinstance(s, float)]
        values["timing_met"] = all(s >= 0 for s in numbers) if numbers else None


_SLACK_RE = re.compile(r"^Slack(?: \((MET|VIOLATED)\))?\s*:\s*(-?[\d.]+|inf)ns")


def parse_timing_paths(lines: Sequence[str]) -> Values:
    """report_timing: the worst path's slack, requirement, delay and logic levels."""
    values = vivado_header(lines[:30])
    worst: float | None = None
    paths = violated = 0
    current: float | None = None
    for index, line in enumerate(lines):
        match = _SLACK_RE.match(line.strip())
        if match:
            paths += 1
            violated += match.group(1) == "VIOLATED"
            current = None if match.group(2) == "inf" else float(match.group(2))
            if current is not None and (worst is None or current < worst):
                worst = current
                _path_details(lines[index + 1 : index + 20], values)
    values["path_count"] = paths
    values["wns_ns"] = worst
    values["violated_paths"] = violated
    values["timing_met"] = None if worst is None else worst >= 0 and violated == 0
    return values


def _path_details(lines: Sequence[str], values: Values) -> None:
    for line in lines:
        text = line.strip()
        if text.startswith("Requirement:"):
            values["requirement_ns"] = to_float(text.split()[1])
        elif text.startswith("Data Path Delay:"):
            values["data_path_delay_ns"] = to_float(text.split()[3])
        elif text.startswith("Logic Levels:"):
            values["logic_levels"] = to_number(text.split()[2])
