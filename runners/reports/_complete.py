"""Is a report whole? A cut report must fail, not parse into different numbers.

A tool writes a report from top to bottom, so a file copied mid-write, or cut by a full disk
or a killed transfer, is a prefix of the real report. A prefix often still parses: a table
loses its last rows, a number loses its last digits, a verdict line is missing. Each kind
below names what only a complete report has — the closing border of its last table, the
heading after the last section a parser reads, a closing tag — and ``check_complete``
raises when it is missing. Tool logs are streams that a killed tool legitimately leaves
unfinished; ``_logs.parse_log`` handles them itself (see ``log_complete``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from runners._errors import ReportParseError

_BORDER_RE = re.compile(r"^\s*#?\s*\+-[-+]*$")
_LOG_END_RE = re.compile(
    r"INFO: \[Common 17-206\] Exiting |\[v\+\+ 60-791\] Total elapsed time"
    r"|\[v\+\+ 60-1653\] Closing dispatch client|\[v\+\+ 60-1662\] Stopping dispatch session"
)


_SESSION_RE = re.compile(r"^(?:# Vivado v|\*{6} (?:Vivado|Vitis HLS) )")


class Truncated(ValueError):
    """Raised by a parser that reads its input lazily and finds it ends early."""


def truncated(path: str, kind: str, missing: str) -> ReportParseError:
    """The error for a report that ends early, naming the file and what is missing."""
    return ReportParseError(
        path or "<text>",
        f"{kind} report ends early (no {missing}): the file is cut short or still being "
        "written; re-run or re-copy the report",
    )


def _last_line(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        if line.strip():
            return line
    return ""


def _ends_with_border(lines: Sequence[str]) -> bool:
    return bool(_BORDER_RE.match(_last_line(lines)))


def _has(lines: Sequence[str], needle: str) -> bool:
    return any(needle in line for line in lines)


def _toc_complete(lines: Sequence[str]) -> str | None:
    """Vivado text reports list their sections under ``Table of Contents``; the last one
    must appear again as a heading and the report must end with a closed table."""
    try:
        start = next(i for i, ln in enumerate(lines[:60]) if ln.strip() == "Table of Contents")
    except StopIteration:
        return None if _ends_with_border(lines) else "closing table border"
    entries: list[str] = []
    for line in lines[start + 2 :]:
        if not re.match(r"^\d+(\.\d+)*\.? \S", line):
            break
        entries.append(line.strip())
    if not entries:
        return "table of contents"
    last = entries[-1]
    headings = [i for i, ln in enumerate(lines) if ln.strip() == last]
    if len(headings) < 2:
        return f"section '{last}'"
    return None if _ends_with_border(lines) else f"closing border of section '{last}'"


def _needs(
    *needles: str, border: bool = False, last: str | None = None
) -> Callable[..., str | None]:
    def check(lines: Sequence[str]) -> str | None:
        for needle in needles:
            if not _has(lines, needle):
                return f"'{needle.strip()}'"
        if border and not _ends_with_border(lines):
            return "closing table border"
        if last is not None and not re.match(last, _last_line(lines)):
            return "closing line"
        return None

    return check


def _csynth_summary(lines: Sequence[str]) -> str | None:
    """The ``Modules & Loops`` table (the one the parser reads) must be closed."""
    start = next((i for i, ln in enumerate(lines) if "+ Performance & Resource Estimates" in ln), 0)
    borders = 0
    for line in lines[start:]:
        body = line.strip()
        if body.startswith("+-"):
            borders += 1
            if borders == 3:
                return None
        elif borders and not body.startswith("|"):
            break
    return "closing border of the Modules & Loops table"


def _vpp_summary(lines: Sequence[str]) -> str | None:
    return None if _last_line(lines).strip().endswith("</ENTRY>") else "closing </ENTRY>"


_RULES: dict[str, Callable[[Sequence[str]], str | None]] = {
    "vivado_utilization": _toc_complete,
    "vivado_kernel_utilization": _toc_complete,
    "vivado_timing_paths": _needs(last=r"^\s*slack\s+\S+\s*$"),
    "vivado_route_status": _needs("# of nets with routing errors", last=r"^\s*-+ : -+ :\s*$"),
    "vivado_failfast": _needs("Number of paths above max", border=True),
    "hls_csynth": _needs("== Interface", border=True),
    "hls_csynth_summary": _csynth_summary,
    "hls_design_size": _needs(border=True),
    "hls_export_impl": _needs("Vivado Reports", border=True),
    "vitis_system_estimate": _needs("Area Information", last=r"^-{20,}\s*$"),
    "vitis_xclbin_info": _needs("User Added Key Value Pairs", last=r"^={20,}\s*$"),
    "vitis_compile_summary": _vpp_summary,
    "vitis_link_summary": _vpp_summary,
}


def check_complete(kind: str, lines: Sequence[str], path: str) -> None:
    """Raise ``ReportParseError`` when a ``kind`` report lacks what a complete one has.

    XML and JSON kinds need no rule: a prefix of either does not parse.
    """
    rule = _RULES.get(kind)
    missing = rule(lines) if rule is not None else None
    if missing is not None:
        raise truncated(path, kind, missing)


def log_complete(lines: Sequence[str]) -> bool:
    """A Vivado / Vitis HLS / v++ log is finished when it ends with the tool's exit line.

    The exit line must be the last line, and every session the log opened (its ``# Vivado``
    header, each ``******`` banner) must have exited: a v++ link's vivado.log embeds the
    logs of the runs it started, each with its own banner and exit line, so a log cut just
    after an embedded exit line still has a session open.
    """
    if not _LOG_END_RE.search(_last_line(lines[-20:])):
        return False
    opened = sum(1 for line in lines if _SESSION_RE.match(line))
    exits = sum(1 for line in lines if "[Common 17-206] Exiting " in line)
    return exits >= opened
