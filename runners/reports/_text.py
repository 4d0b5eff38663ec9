"""Small text helpers shared by the report parsers: numbers, header blocks and ASCII tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from runners.reports._model import Value, Values

# Cells that mean "no number here" in Vivado / Vitis reports.
_MISSING = {"", "-", "NA", "N/A", "?", "undef", "none", "-nan", "nan", "inf", "-inf"}
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TIME_RE = re.compile(r"^([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s*(ps|ns|us|ms|sec|s)?$")
_TIME_SCALE = {"ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "sec": 1e9, "s": 1e9, None: 1.0}
_VERSION_RE = re.compile(r"(20\d\d\.\d(?:\.\d)?)")


def normalise_newlines(text: str) -> str:
    """Turn CRLF / CR line endings into LF (one fixture is a Windows CRLF report)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def to_number(cell: str | None) -> int | float | None:
    """Parse a report cell into an int or float; ``None`` for NA/undef/'-'/'?' and junk.

    Accepts thousands separators (``2,153``), trailing ``%`` / ``ns`` / ``MHz``, Vivado's
    ``<0.01`` (returned as 0.01, an upper bound) and HLS's ``~0`` (returned as 0).
    """
    if cell is None:
        return None
    text = cell.strip().replace(",", "")
    if text in _MISSING:
        return None
    for suffix in ("%", "MHz", "ns"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
    text = text.lstrip("<~")
    if not _NUMBER_RE.match(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return float(text)


def to_float(cell: str | None) -> float | None:
    """Like ``to_number`` but always a float (or ``None``)."""
    number = to_number(cell)
    return None if number is None else float(number)


def to_ns(cell: str | None) -> float | None:
    """Parse a time such as ``4.163 ns``, ``0.650 us`` or ``1.000e+03`` into nanoseconds."""
    if cell is None:
        return None
    match = _TIME_RE.match(cell.strip())
    if not match:
        return None
    return float(match.group(1)) * _TIME_SCALE[match.group(2)]


def version_of(text: str | None) -> str | None:
    """Pull a ``2022.2`` / ``2019.1.1`` style release number out of a banner string."""
    if not text:
        return None
    match = _VERSION_RE.search(text)
    return match.group(1) if match else None


def mhz_to_ns(mhz: float | None) -> float | None:
    """Clock period in ns for a frequency in MHz (``None`` for missing or zero)."""
    return round(1000.0 / mhz, 3) if mhz else None


def ns_to_mhz(period_ns: float | None) -> float | None:
    """Frequency in MHz for a period in ns (``None`` for missing or zero)."""
    return round(1000.0 / period_ns, 3) if period_ns else None


def header_block(lines: Sequence[str], limit: int = 40) -> dict[str, str]:
    """Read the ``| Key : value`` header Vivado prints at the top of every report.

    Keys are lower-cased (``tool version``, ``device``, ``design state``). The padding before
    the colon varies between versions, so split on the first colon only.
    """
    out: dict[str, str] = {}
    for line in lines[:limit]:
        match = re.match(r"^\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s?(.*)$", line)
        if match:
            out.setdefault(match.group(1).lower(), match.group(2).strip())
    return out


def vivado_header(lines: Sequence[str]) -> Values:
    """Common keys from the ``| Tool Version : ...`` header block."""
    head = header_block(lines)
    values: Values = {}
    if "tool version" in head:
        values["tool_version"] = version_of(head["tool version"])
    if "device" in head:
        values["part"] = head["device"]
    if "design" in head:
        values["top"] = head["design"]
    if "design state" in head:
        values["design_state"] = head["design state"]
    if head.get("speed file"):
        values["speed_grade"] = head["speed file"].split()[0]
    return values


def bullet_fields(lines: Iterable[str]) -> dict[str, str]:
    """Read HLS ``* Key:  value`` bullets (``* Target device:  xcu250-...``), lower-case keys."""
    out: dict[str, str] = {}
    for line in lines:
        match = re.match(r"^\s*\*\s+([A-Za-z][A-Za-z &/-]*?):\s+(.*\S)\s*$", line)
        if match:
            out.setdefault(match.group(1).lower(), match.group(2))
    return out


def put(values: Values, key: str, value: Value) -> None:
    """Set ``values[key]`` unless ``value`` is ``None`` and the key already has a value."""
    if value is None and values.get(key) is not None:
        return
    values[key] = value


@dataclass
class Table:
    """An ASCII table drawn with ``+---+`` borders and ``|`` cells.

    ``header_rows`` are the rows before the second border (several when a header wraps),
    ``rows`` everything after it, and ``indents`` the leading spaces of each row's first cell
    (Vivado shows nesting that way).
    """

    line_no: int
    header_rows: list[list[str]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    indents: list[int] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        """The last header row, with whitespace collapsed."""
        if not self.header_rows:
            return []
        return [" ".join(cell.split()) for cell in self.header_rows[-1]]

    def column(self, *names: str) -> int | None:
        """Index of the first header cell equal (case-insensitively) to one of ``names``."""
        wanted = [name.lower() for name in names]
        for index, cell in enumerate(self.header):
            if cell.lower() in wanted:
                return index
        return None


def split_row(line: str) -> tuple[list[str], int]:
    """Split ``| a | b |`` into stripped cells plus the indent of the first cell."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    raw = body.split("|")
    first = raw[0] if raw else ""
    indent = len(first) - len(first.lstrip(" "))
    return [cell.strip() for cell in raw], indent


def iter_tables(lines: Sequence[str], start: int = 0, stop: int | None = None) -> list[Table]:
    """Find every bordered table in ``lines[start:stop]``.

    A table is a run of lines that (after indentation and an optional ``#`` comment marker)
    start with ``+`` or ``|``. Footnotes (``* Note: ...``) and blank lines end a table.
    """
    end = len(lines) if stop is None else min(stop, len(lines))
    tables: list[Table] = []
    index = start
    while index < end:
        body = _table_body(lines[index])
        if body is None or not body.startswith("+"):
            index += 1
            continue
        table = Table(line_no=index)
        borders = 0
        while index < end:
            body = _table_body(lines[index])
            if body is None:
                break
            if body.startswith("+"):
                borders += 1
            else:
                cells, indent = split_row(body)
                if borders < 2:
                    table.header_rows.append(cells)
                else:
                    table.rows.append(cells)
                    table.indents.append(indent)
            index += 1
        tables.append(table)
    return tables


def _table_body(line: str) -> str | None:
    body = line.strip()
    if body.startswith("#"):
        body = body[1:].strip()
    if body.startswith(("+-", "|")):
        return body
    return None


def find_line(lines: Sequence[str], needle: str, start: int = 0) -> int | None:
    """Index of the first line at or after ``start`` that contains ``needle``."""
    for index in range(start, len(lines)):
        if needle in lines[index]:
            return index
    return None
