"""Parsers for FPGA tool reports and logs: Vivado, Vitis HLS, v++, Yosys and nextpnr.

``parse_report(path)`` sniffs a file's kind from its content (not its name) and returns a
``Report`` whose ``values`` use shared keys where they apply: ``part``, ``lut`` /
``lut_available`` / ``lut_util`` (likewise ``ff``, ``bram36``, ``uram``, ``dsp``),
``wns_ns``, ``tns_ns``, ``whs_ns``, ``ths_ns``, ``wpws_ns``, ``tpws_ns``,
``failing_endpoints``, ``timing_met``, ``target_clock_ns``, ``estimated_clock_ns``,
``fmax_mhz``, ``latency_cycles_min`` / ``latency_cycles_max``, ``failure_class`` and
``first_error``. ``classify_failure(text)`` sorts a log into one of ``FAILURE_CLASSES``.
"""

from runners._errors import ReportParseError
from runners.reports._detect import SUPPORTED_KINDS, parse_report, parse_text, sniff
from runners.reports._logs import classify_failure
from runners.reports._model import FAILURE_CLASSES, Report, Value

__all__ = [
    "FAILURE_CLASSES",
    "SUPPORTED_KINDS",
    "Report",
    "ReportParseError",
    "Value",
    "classify_failure",
    "parse_report",
    "parse_text",
    "sniff",
]
