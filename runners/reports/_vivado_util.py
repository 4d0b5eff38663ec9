"""Vivado utilization-style reports: report_utilization (incl. -slr),
report_accelerator_utilization, report_route_status and report_failfast."""

from __future__ import annotations

import re
from collections.abc import Sequence

from runners.reports._model import Values
from runners.reports._text import Table, iter_tables, put, to_number, vivado_header

# Site-type row names -> our key. UltraScale(+) and 7-series use different names.
_SITE_KEYS: dict[str, str] = {
    "CLB LUTs": "lut",
    "Slice LUTs": "lut",
    "LUT as Logic": "lut_logic",
    "LUT as Memory": "lutram",
    "CLB Registers": "ff",
    "Slice Registers": "ff",
    "Register as Latch": "latch",
    "CARRY8": "carry",
    "CARRY4": "carry",
    "F7 Muxes": "f7_mux",
    "Block RAM Tile": "bram36",
    "RAMB36/FIFO": "ramb36",
    "RAMB18": "ramb18",
    "URAM": "uram",
    "DSPs": "dsp",
    "Bonded IOB": "io",
    "CLB": "clb",
    "Slice": "clb",
}
# Resources reported per SLR (the SLR tables list many more rows).
_SLR_KEYS = ("lut", "ff", "bram36", "uram", "dsp")
# report_accelerator_utilization column -> key.
_KERNEL_KEYS = {
    "LUT": "lut",
    "LUTAsMem": "lutram",
    "REG": "ff",
    "BRAM": "bram36",
    "URAM": "uram",
    "DSP": "dsp",
}
_KERNEL_CELL_RE = re.compile(r"^\s*([\d.]+)\s*\[\s*([<\d.]+)%\s*\]")


def parse_utilization(lines: Sequence[str]) -> Values:
    """report_utilization: used/available/util% per resource, mapped by column name."""
    values = vivado_header(lines)
    seen: set[str] = set()
    starred_lut = False
    black_boxes = 0
    for table in iter_tables(lines):
        title = _section_title(lines, table.line_no)
        if "black boxes" in title.lower():
            black_boxes = sum(1 for row in table.rows if row and row[0])
            continue
        if table.column("SLR0") is not None:
            _slr_table(table, values)
            continue
        used = table.column("Used")
        name_col = table.column("Site Type")
        if used is not None and table.header and table.header[0] == "":
            # SLR Connectivity: the SLL crossing count sits in a "Total SLLs Used" row.
            for row in table.rows:
                if row[0] == "Total SLLs Used" and used < len(row):
                    values["sll_used"] = to_number(row[used])
            continue
        if used is None or name_col is None:
            continue
        available = table.column("Available")
        util = table.column("Util%")
        for row in table.rows:
            if len(row) <= max(used, name_col):
                continue
            name = row[name_col].rstrip("*").strip()
            if name in ("CLB LUTs", "Slice LUTs") and row[name_col].endswith("*"):
                starred_lut = True
            key = _SITE_KEYS.get(name)
            if key is None or key in seen:
                continue
            seen.add(key)
            values[key] = to_number(row[used])
            if available is not None and available < len(row) and row[available]:
                values[f"{key}_available"] = to_number(row[available])
            if util is not None and util < len(row) and row[util]:
                values[f"{key}_util"] = to_number(row[util])
    if black_boxes:
        values["black_boxes"] = black_boxes
    values["stage"] = _stage(str(values.get("design_state") or ""), starred_lut)
    if "lut" not in values and "slr_count" in values:
        # report_utilization -slr has only per-SLR tables: total them.
        for key in _SLR_KEYS:
            parts = [values.get(f"slr{i}_{key}") for i in range(int(values["slr_count"] or 0))]
            numbers = [p for p in parts if isinstance(p, int | float)]
            if numbers:
                values[key] = sum(numbers)
    return values


def _section_title(lines: Sequence[str], line_no: int) -> str:
    """The nearest ``N. Title`` heading above a table."""
    for index in range(line_no - 1, max(line_no - 6, -1), -1):
        if re.match(r"^\d+(\.\d+)*\.? \S", lines[index]):
            return lines[index]
    return ""


def _slr_table(table: Table, values: Values) -> None:
    """Per-SLR columns ``| Site Type | SLR0 | SLR1 | ... | SLR0 % | ...``."""
    name_col = table.column("Site Type")
    if name_col is None:
        return
    slrs = [cell for cell in table.header if re.fullmatch(r"SLR\d+", cell)]
    values["slr_count"] = len(slrs)
    seen: set[str] = set()
    for row in table.rows:
        name = row[name_col].rstrip("*").strip()
        key = _SITE_KEYS.get(name)
        if key not in _SLR_KEYS or key in seen:
            continue
        seen.add(key)
        for slr in slrs:
            used = table.column(slr)
            pct = table.column(f"{slr} %")
            slr_key = slr.lower()
            if used is not None and used < len(row):
                values[f"{slr_key}_{key}"] = to_number(row[used])
            if pct is not None and pct < len(row):
                values[f"{slr_key}_{key}_util"] = to_number(row[pct])


def _stage(design_state: str, starred_lut: bool) -> str | None:
    # The starred "CLB LUTs*" row marks a pre-placement count. Vitis full_util_synthed.rpt
    # says "Physopt postRoute" (the shell's state), so the star wins over Design State.
    state = design_state.lower()
    if starred_lut:
        return "opt" if "optimized" in state else "synth"
    if "rout" in state:
        return "route"
    if "placed" in state:
        return "place"
    if "optimized" in state:
        return "opt"
    if "synth" in state:
        return "synth"
    return None


def parse_kernel_utilization(lines: Sequence[str]) -> Values:
    """report_accelerator_utilization (Vitis ``kernel_util_*.rpt``): kernel vs user budget."""
    values = vivado_header(lines)
    kernels: list[str] = []
    units: list[str] = []
    for table in iter_tables(lines):
        if table.column("Name") is None or table.column("LUT") is None:
            continue
        for row, indent in zip(table.rows, table.indents, strict=True):
            name = row[0]
            prefix = {"Used Resources": "", "User Budget": "avail", "Platform": "platform"}
            if name in prefix:
                _kernel_row(table, row, values, prefix[name])
            elif name not in ("Unused Resources",) and name:
                (units if indent > 1 else kernels).append(name)
    if kernels:
        values["kernels"] = ",".join(kernels)
    if units:
        values["compute_units"] = len(units)
    return values


def _kernel_row(table: Table, row: list[str], values: Values, prefix: str) -> None:
    for column, key in _KERNEL_KEYS.items():
        index = table.column(column)
        if index is None or index >= len(row):
            continue
        match = _KERNEL_CELL_RE.match(row[index])
        if not match:
            continue
        number = to_number(match.group(1))
        if prefix == "":
            values[key] = number
            values[f"{key}_util"] = to_number(match.group(2))
        elif prefix == "avail":
            values[f"{key}_available"] = number
        else:
            values[f"platform_{key}"] = number


def parse_route_status(lines: Sequence[str]) -> Values:
    """report_route_status: net counts and whether every routable net is routed."""
    values: Values = {}
    names = {
        "# of logical nets": "logical_nets",
        "# of routable nets": "routable_nets",
        "# of fully routed nets": "fully_routed_nets",
        "# of nets with routing errors": "nets_with_routing_errors",
        "# of unrouted nets": "unrouted_nets",
    }
    for line in lines:
        match = re.match(r"^\s*(#[^.:]*?)\.*\s*:\s*(\d+)\s*:", line)
        if match and match.group(1).strip() in names:
            values[names[match.group(1).strip()]] = int(match.group(2))
    errors = values.get("nets_with_routing_errors")
    if isinstance(errors, int):
        values["fully_routed"] = errors == 0 and values.get("routable_nets") == values.get(
            "fully_routed_nets"
        )
    return values


def parse_failfast(lines: Sequence[str]) -> Values:
    """report_failfast: guideline checks; ``failfast_failed`` counts rows not ``OK``."""
    values: Values = {}
    version = re.search(r"report_failfast \(([\d.]+)\)", "\n".join(lines[:5]))
    if version:
        values["failfast_version"] = version.group(1)
    for table in iter_tables(lines):
        for cells in table.header_rows:
            if len(cells) == 1 and re.match(r"^x[a-z]{1,3}\d", cells[0]):
                values["part"] = cells[0]
    values.update(failfast_checks(lines))
    return values


def failfast_checks(lines: Sequence[str]) -> Values:
    """Count the rows of a ``Criteria | Guideline | Actual | Status`` table (also used by the
    HLS export_impl report) and pick out the LUT/FF/DSP/BRAM utilisation percentages."""
    util_keys = {"LUT": "lut_util", "FD": "ff_util", "DSP": "dsp_util", "RAMB/FIFO": "bram36_util"}
    values: Values = {}
    checks = failed = 0
    for table in iter_tables(lines):
        rows = table.header_rows + table.rows
        try:
            head = next(i for i, row in enumerate(rows) if row[:1] == ["Criteria"])
        except StopIteration:
            continue
        status = rows[head].index("Status") if "Status" in rows[head] else None
        actual = rows[head].index("Actual") if "Actual" in rows[head] else None
        if status is None or actual is None:
            continue
        for row in rows[head + 1 :]:
            if len(row) <= max(status, actual):
                continue
            checks += 1
            failed += row[status] != "OK"
            if row[0] in util_keys:
                put(values, util_keys[row[0]], to_number(row[actual]))
    if checks:
        values["failfast_checks"] = checks
        values["failfast_failed"] = failed
    return values
