"""Tool logs (vivado.log, runme.log, vitis_hls.log, v++.log): failure class and a few numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from runners.reports._complete import log_complete
from runners.reports._model import Values
from runners.reports._text import normalise_newlines, to_float, version_of

# Message level of a line. Loggers may prefix lines ("... [localhost] out: ERROR: ..."), so
# the level word may sit anywhere after whitespace. "bare" lines start with a message ID,
# e.g. "[DRC RTSTAT-4] ..." (pasted or report_drc output without the level word).
_LEVEL_RE = re.compile(r"(?:^|\s)(ERROR|CRITICAL WARNING|WARNING|INFO):\s")
_BARE_RE = re.compile(r"^\s*\[(?:[A-Za-z][\w+]*[ _])?[A-Za-z_]*-?\d+(?:-\d+)?\]")
_ALL = frozenset({"ERROR", "CRITICAL WARNING", "WARNING", "bare", "text"})
_ERR = frozenset({"ERROR", "bare"})

# (class, pattern, levels the pattern counts at). When several classes match, the one
# listed first wins: the earlier ones name root causes, later ones are often consequences
# (an over-utilisation or a congestion failure also ends in DRC and "route_design failed").
_RULES: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...] = (
    (
        "license",
        re.compile(
            r"Common 17-34[58]\]|VPL 17-301\]|Failed to get (?:a|the) license"
            r"|valid license was not found|License checkout failed",
            re.I,
        ),
        _ALL,
    ),
    (
        "disk_or_io",
        re.compile(
            r"No space left on device|Disk quota exceeded|Failed writing to file"
            r"|Read-only file system|Input/output error|Unable to (?:write|create) (?:to )?file",
            re.I,
        ),
        _ALL,
    ),
    (
        "host_error",
        re.compile(
            r"Out of memory|Cannot allocate memory|std::bad_alloc|^\s*Killed\b|\d+ Killed\b"
            r"|signal 9\b|SIGKILL|Connection (?:refused|reset|closed)|No route to host"
            r"|Could not resolve hostname|Host key verification failed",
            re.I,
        ),
        _ALL,
    ),
    (
        "timeout",
        re.compile(r"\btimed out\b|\bTIMEOUT\b|time limit exceeded|deadline exceeded"),
        frozenset({"ERROR", "CRITICAL WARNING", "bare", "text"}),
    ),
    (
        "over_utilization",
        re.compile(
            r"Place 30-640\]|UTLZ-1|over-utilized|requires more .+ cells than are available",
            re.I,
        ),
        frozenset({"ERROR", "bare", "text"}),
    ),
    (
        "routing_congestion",
        re.compile(
            r"35-3339\]|35-368\]|18-1000\]|congestion|Router failed|unroutable"
            r"|Routing results verification failed",
            re.I,
        ),
        _ERR,
    ),
    (
        "drc",
        re.compile(r"\[DRC |DRC 23-20\]|Rule violation|Error\(s\) found during DRC", re.I),
        _ERR,
    ),
    (
        "timing_not_met",
        re.compile(
            r"did not meet timing|failed to meet timing|Timing constraints (?:are|were) not met"
            r"|Timing 38-282\]|failed to meet the timing requirements|\[VPL-4\]",
            re.I,
        ),
        frozenset({"ERROR", "CRITICAL WARNING", "bare", "text"}),
    ),
    (
        "tool_error",
        re.compile(
            r"^\s*[\w-]+ failed\.?\s*$|\b[1-9]\d* Errors? encountered|Run Status: .*\bERROR\b"
            r"|Abnormal program termination|Segmentation fault|core dumped",
            re.I,
        ),
        frozenset({"text", "bare", "ERROR"}),
    ),
)


def line_level(line: str) -> str:
    """``ERROR`` / ``CRITICAL WARNING`` / ``WARNING`` / ``INFO`` / ``bare`` / ``text``."""
    match = _LEVEL_RE.search(line)
    if match:
        return match.group(1)
    return "bare" if _BARE_RE.match(line) else "text"


def classify_failure(text: str) -> tuple[str, str | None]:
    """Classify a tool log (or a fragment of one) and return ``(failure_class, first_error)``.

    ``failure_class`` is one of ``FAILURE_CLASSES``; ``first_error`` is the first ``ERROR:``
    line (from ``ERROR:`` on, trimmed), or, when the log has none, the first line that
    matched the winning class. A log with no failure sign gives ``("none", None)``.
    A WARNING-level match (a license warning) is ignored when the log has no ERROR and
    reports a step ``completed successfully``: the tool found another license and went on.
    """
    first_error: str | None = None
    hits: dict[str, str] = {}
    warning_only: set[str] = set()
    succeeded = False
    for line in normalise_newlines(text).split("\n"):
        level = line_level(line)
        if level == "INFO":
            continue
        if level == "ERROR":
            if first_error is None:
                first_error = line[line.index("ERROR:") :].strip()
            hits.setdefault("tool_error", line.strip())
        elif _SUCCESS_RE.search(line):
            succeeded = True
        for name, pattern, levels in _RULES:
            if level in levels and pattern.search(line):
                if name not in hits:
                    hits[name] = line.strip()
                    if level == "WARNING":
                        warning_only.add(name)
                elif level != "WARNING":
                    warning_only.discard(name)
    ignore = warning_only if succeeded and "tool_error" not in hits else set()
    for name, _pattern, _levels in _RULES:
        if name in hits and name not in ignore:
            return name, first_error or hits[name]
    return "none", None


_SUCCESS_RE = re.compile(r"completed successfully|Run Status: \w+ Complete")
_STEP_RE = re.compile(r"^(\w[\w ]*?) completed successfully\s*$")
_TIMING_RE = re.compile(r"Timing Summary \|(.*)$")
_PAIR_RE = re.compile(r"(WNS|TNS|WHS|THS)=\s*(-?[\d.]+)")


def detect_tool(lines: Sequence[str]) -> str:
    """Which tool wrote a log: ``vivado``, ``vitis_hls``, ``vivado_hls``, ``v++`` or ``unknown``."""
    head = "\n".join(lines[:12])
    if "Vitis HLS" in head:
        return "vitis_hls"
    if "Vivado HLS" in head:
        return "vivado_hls"
    if "[v++ " in head or "v++ " in head:
        return "v++"
    if re.search(r"Vivado v\d|\*\*\* Running vivado|^# Vivado", head, re.M):
        return "vivado"
    body = "\n".join(lines[:400])
    for marker, tool in (("[v++ ", "v++"), ("[HLS ", "vitis_hls"), ("[VPL ", "v++")):
        if marker in body:
            return tool
    return "vivado" if re.search(r"\[(Common|Place|Route|Synth|Vivado) ", body) else "unknown"


def parse_log(lines: Sequence[str]) -> Values:
    """Counts of ERROR/CRITICAL WARNING/WARNING lines, the failure class and, where the log
    shows them, the last interim timing (``WNS=`` lines), HLS Fmax and the last finished step.

    A log without the tool's exit line is unfinished (the tool is running or was killed,
    or the file was cut): its counts, interim numbers and verdict could all still change,
    so it gives only the tool version. Classify a killed tool's log with
    ``classify_failure``.
    """
    if not log_complete(lines):
        done = lines[:-1] if lines and lines[-1] else lines  # the last line may be partial
        found = next(
            (version_of(ln) for ln in done if re.search(r"v20\d\d\.\d(\.\d)? \(64-bit\)", ln)),
            None,
        )
        return {} if found is None else {"tool_version": found}
    values: Values = {"tool": detect_tool(lines)}
    counts = {"ERROR": 0, "CRITICAL WARNING": 0, "WARNING": 0}
    version: str | None = None
    for line in lines:
        level = line_level(line)
        if level in counts:
            counts[level] += 1
        if version is None and re.search(r"v20\d\d\.\d(\.\d)? \(64-bit\)", line):
            version = version_of(line)
        if match := _STEP_RE.match(line):
            values["last_step_completed"] = match.group(1)
        elif match := _TIMING_RE.search(line):
            for name, number in _PAIR_RE.findall(match.group(1)):
                values[f"{name.lower()}_ns"] = to_float(number)
        elif "Estimated Fmax:" in line:
            values["fmax_mhz"] = to_float(line.split("Estimated Fmax:")[1].split()[0])
        elif match := re.search(r"Setting target device to '([^']+)'", line):
            values["part"] = match.group(1)
        elif match := re.search(r"^Command: \w+ .*-part (\S+)", line):
            values.setdefault("part", match.group(1))
        elif match := re.search(r"Run Status: (\w+) (\w+)", line):
            values["vpl_status"] = match.group(2).rstrip("!").lower()
    values["tool_version"] = version
    values["error_count"] = counts["ERROR"]
    values["critical_warning_count"] = counts["CRITICAL WARNING"]
    values["warning_count"] = counts["WARNING"]
    failure, first_error = classify_failure("\n".join(lines))
    values["failure_class"] = failure
    values["first_error"] = first_error
    return values
