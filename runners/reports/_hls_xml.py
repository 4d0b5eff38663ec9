"""HLS XML reports: csynth.xml (``<profile>`` with UserAssignments) and export_impl.xml."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from runners.reports._hls import RESOURCE_KEYS, hls_timing_verdict
from runners.reports._model import Values
from runners.reports._text import ns_to_mhz, to_float, to_ns, to_number, version_of

# Resource tags: the text report's names (DSP48E up to 2020.1, DSP from 2020.2) plus two
# only the XML carries. Child order varies, so look up by name.
_RESOURCE_TAGS = {**RESOURCE_KEYS, "SRL": "srl", "CLB": "clb"}


def _text(root: ET.Element, path: str) -> str | None:
    node = root.find(path)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _resources(node: ET.Element | None, values: Values, suffix: str) -> None:
    if node is None:
        return
    for child in node:
        key = _RESOURCE_TAGS.get(child.tag)
        if key:
            values[f"{key}{suffix}"] = to_number(child.text)
    for tail in ("", "_available"):
        bram18 = values.get(f"bram18{tail}")
        if isinstance(bram18, int | float):
            values[f"bram36{tail}"] = bram18 / 2


def _utilisation(values: Values) -> None:
    for key in ("lut", "ff", "dsp", "bram18", "uram"):
        used, available = values.get(key), values.get(f"{key}_available")
        if isinstance(used, int | float) and isinstance(available, int | float) and available:
            values[f"{key}_util"] = round(100.0 * used / available, 2)


def parse_csynth_xml(root: ET.Element) -> Values:
    """csynth.xml: part, clocks, overall latency and area estimates of the top function.

    Only direct paths are read: per-module ``<Module>`` blocks reuse the same tag names.
    Any latency field can be the string ``undef``; that becomes ``None``.
    """
    values: Values = {"tool_version": _text(root, "ReportVersion/Version")}
    user = "UserAssignments/"
    values["part"] = _text(root, user + "Part")
    values["top"] = _text(root, user + "TopModelName")
    values["product_family"] = _text(root, user + "ProductFamily")
    flow = _text(root, user + "FlowTarget")
    if flow:
        values["flow_target"] = flow
    values["target_clock_ns"] = to_float(_text(root, user + "TargetClockPeriod"))
    values["clock_uncertainty_ns"] = to_float(_text(root, user + "ClockUncertainty"))
    perf = "PerformanceEstimates/"
    estimated = to_float(_text(root, perf + "SummaryOfTimingAnalysis/EstimatedClockPeriod"))
    values["estimated_clock_ns"] = estimated
    latency = perf + "SummaryOfOverallLatency/"
    values["latency_cycles_min"] = to_number(_text(root, latency + "Best-caseLatency"))
    values["latency_cycles_avg"] = to_number(_text(root, latency + "Average-caseLatency"))
    values["latency_cycles_max"] = to_number(_text(root, latency + "Worst-caseLatency"))
    if root.find(latency + "Best-caseRealTimeLatency") is not None:
        values["latency_ns_min"] = to_ns(_text(root, latency + "Best-caseRealTimeLatency"))
        values["latency_ns_max"] = to_ns(_text(root, latency + "Worst-caseRealTimeLatency"))
    values["interval_min"] = to_number(_text(root, latency + "Interval-min"))
    values["interval_max"] = to_number(_text(root, latency + "Interval-max"))
    issue = _text(root, perf + "SummaryOfViolations/IssueType")
    if issue is not None:
        values["issue_type"] = None if issue == "-" else issue
    _resources(root.find("AreaEstimates/Resources"), values, "")
    _resources(root.find("AreaEstimates/AvailableResources"), values, "_available")
    _utilisation(values)
    hls_timing_verdict(values)
    return values


def parse_export_xml(root: ET.Element) -> Values:
    """export_impl.xml / export_syn.xml written by HLS ``export_design -flow impl|syn``."""
    values: Values = {
        "tool": "vivado",
        "tool_version": version_of(_text(root, "RunData/VIVADO_VERSION")),
        "run_type": _text(root, "RunData/RUN_TYPE"),
    }
    for item in root.iterfind("GeneralInfo/item"):
        if item.get("NAME") == "Target device":
            values["part"] = item.get("VALUE")
    for module in root.iterfind("RtlModules/RtlModule"):
        if module.get("IS_TOP") == "1":
            values["top"] = module.get("MODULENAME")
    timing = "TimingReport/"
    values["target_clock_ns"] = to_float(_text(root, timing + "TargetClockPeriod"))
    achieved = to_float(_text(root, timing + "AchievedClockPeriod"))
    values["estimated_clock_ns"] = achieved
    values["fmax_mhz"] = ns_to_mhz(achieved)
    values["wns_ns"] = to_float(_text(root, timing + "WNS_FINAL"))
    values["tns_ns"] = to_float(_text(root, timing + "TNS_FINAL"))
    met = _text(root, timing + "TIMING_MET")
    if met is not None:
        values["timing_met"] = met.upper() == "TRUE"
    clock = _text(root, timing + "CLOCK_NAME")
    if clock:
        values["clock_name"] = clock
    _resources(root.find("AreaReport/Resources"), values, "")
    _resources(root.find("AreaReport/AvailableResources"), values, "_available")
    _utilisation(values)
    return values
