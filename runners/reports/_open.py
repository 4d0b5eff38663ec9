"""Open-source flow reports: Yosys ``stat -json``, Yosys ``write_json`` netlists and nextpnr
``--report`` JSON."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from runners.reports._model import Values
from runners.reports._text import mhz_to_ns, version_of

# Yosys cell type -> (our key, weight). Weights turn a RAMB18 into half a 36 Kb block and a
# packed ECP5 TRELLIS_SLICE into its two LUT4s / two flip-flops.
_CELL_RULES: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (re.compile(r"^(LUT[1-6](_2)?|INV|SB_LUT4|LUT4|\$lut)$"), "lut", 1.0),
    (re.compile(r"^TRELLIS_SLICE$"), "lut", 2.0),
    (re.compile(r"^(FD\w*|TRELLIS_FF|SB_DFF\w*|DFF\w*|\$_S?DFFE?_\w*|\$a?s?dffe?)$"), "ff", 1.0),
    (re.compile(r"^(DSP48E[12]|MULT18X18D|MULT9X9D|SB_MAC16)$"), "dsp", 1.0),
    (re.compile(r"^RAMB36E[12]$"), "bram36", 1.0),
    (re.compile(r"^RAMB18E[12]$"), "bram36", 0.5),
    (re.compile(r"^(DP16KD|PDPW16KD|SB_RAM40_4K)$"), "ebr", 1.0),
    (re.compile(r"^URAM288(_BASE)?$"), "uram", 1.0),
    (re.compile(r"^(CARRY4|CARRY8|CCU2C|SB_CARRY)$"), "carry", 1.0),
    (re.compile(r"^(RAM\d+[MX]\w*|SRL16E|SRLC32E|TRELLIS_DPR16X4)$"), "lutram", 1.0),
    (re.compile(r"^(IBUF\w*|OBUF\w*|IOBUF\w*|TRELLIS_IO|SB_IO)$"), "io", 1.0),
)
# nextpnr bel type -> our key (``--report`` "utilization" section).
_BEL_KEYS = {
    "TRELLIS_COMB": "lut",
    "ICESTORM_LC": "lut",
    "SLICE_LUTX": "lut",
    "TRELLIS_FF": "ff",
    "SLICE_FFX": "ff",
    "MULT18X18D": "dsp",
    "ICESTORM_DSP": "dsp",
    "DSP48E1": "dsp",
    "DSP48E2": "dsp",
    "DP16KD": "ebr",
    "ICESTORM_RAM": "ebr",
    "RAMB36E1": "bram36",
    "RAMB36E2": "bram36",
    "TRELLIS_RAMW": "lutram",
    "TRELLIS_IO": "io",
    "SB_IO": "io",
}


def _arch(types: set[str]) -> str:
    if any(t.startswith(("TRELLIS_", "DP16KD", "MULT18X18D", "CCU2C")) for t in types):
        return "ecp5"
    if any(t.startswith(("SB_", "ICESTORM_")) for t in types):
        return "ice40"
    if any(re.match(r"^(LUT[1-6]|FD[A-Z]{2}|CARRY[48]|RAMB|DSP48|SLICE_)", t) for t in types):
        return "xilinx"
    return "generic"


def count_cells(cells: Mapping[str, int]) -> Values:
    """Map a ``{cell type: count}`` table onto lut/ff/dsp/bram36/ebr/uram/carry/lutram/io."""
    totals: dict[str, float] = {}
    for cell_type, count in cells.items():
        for pattern, key, weight in _CELL_RULES:
            if pattern.match(cell_type):
                totals[key] = totals.get(key, 0.0) + count * weight
                break
    values: Values = {"arch": _arch(set(cells))}
    for key in ("lut", "ff", "dsp", "bram36", "ebr", "uram", "carry", "lutram", "io"):
        total = totals.get(key, 0.0)
        values[key] = total if key == "bram36" else int(total)
    values["cells"] = int(sum(cells.values()))
    return values


def parse_yosys_stat(data: Mapping[str, Any]) -> Values:
    """Yosys ``stat -json``: the ``design`` totals (or the only/biggest module's counts).

    Counts ``LUT1..LUT6`` and ``INV`` (Vivado implements an INV as a LUT1) as Xilinx LUTs,
    ``LUT4`` for ECP5/Gowin, ``FD*``/``TRELLIS_FF`` flip-flops, DSP48E1/2 and MULT18X18D DSPs,
    RAMB36 = 1 and RAMB18 = 0.5 ``bram36``, DP16KD ECP5 block RAMs as ``ebr``.
    """
    modules: Mapping[str, Any] = data.get("modules") or {}
    design = data.get("design")
    if isinstance(design, Mapping) and "num_cells_by_type" in design:
        cells = design["num_cells_by_type"]
        top = next(iter(modules), None) if len(modules) == 1 else None
    else:
        blocks = sorted(modules.items(), key=lambda item: int(item[1].get("num_cells", 0)))
        top = blocks[-1][0] if blocks else None
        cells = blocks[-1][1].get("num_cells_by_type", {}) if blocks else {}
    values = count_cells({str(k): int(v) for k, v in cells.items()})
    values["tool"] = "yosys"
    values["tool_version"] = _yosys_version(data)
    if top:
        values["top"] = top.lstrip("\\")
    return values


def parse_yosys_netlist(data: Mapping[str, Any]) -> Values:
    """Yosys ``write_json`` netlist: count the cells of the top module by type."""
    modules: Mapping[str, Any] = data.get("modules") or {}

    def is_top(item: tuple[str, Any]) -> tuple[bool, int]:
        attributes = item[1].get("attributes", {})
        flag = str(attributes.get("top", "0")).lstrip("0") not in ("", "0")
        return flag, len(item[1].get("cells", {}))

    ranked = sorted(modules.items(), key=is_top)
    top, module = ranked[-1] if ranked else ("", {})
    cells: Counter[str] = Counter(
        str(cell.get("type")) for cell in module.get("cells", {}).values()
    )
    values = count_cells(cells)
    values["tool"] = "yosys"
    values["tool_version"] = _yosys_version(data)
    values["top"] = top.lstrip("\\") or None
    return values


def _yosys_version(data: Mapping[str, Any]) -> str | None:
    match = re.search(r"Yosys (\d+\.\d+(?:\+\d+)?)", str(data.get("creator", "")))
    return match.group(1) if match else version_of(str(data.get("creator", "")))


def parse_nextpnr_report(data: Mapping[str, Any]) -> Values:
    """nextpnr ``--report``: per-clock ``fmax`` (achieved vs constraint, MHz) and per-bel-type
    ``utilization`` (used/available). With several clocks the tightest one is reported and
    ``timing_met`` requires every clock to reach its constraint."""
    values: Values = {"tool": "nextpnr"}
    utilization: Mapping[str, Any] = data.get("utilization") or {}
    values["arch"] = _arch(set(utilization))
    for bel, entry in utilization.items():
        key = _BEL_KEYS.get(bel)
        if key is None or not isinstance(entry, Mapping):
            continue
        values[key] = int(values.get(key) or 0) + int(entry.get("used", 0))
        total = int(values.get(f"{key}_available") or 0)
        values[f"{key}_available"] = total + int(entry.get("available", 0))
    for key in ("lut", "ff", "dsp", "ebr", "bram36"):
        used, available = values.get(key), values.get(f"{key}_available")
        if isinstance(used, int) and isinstance(available, int) and available:
            values[f"{key}_util"] = round(100.0 * used / available, 2)
    clocks: Mapping[str, Any] = data.get("fmax") or {}
    margins = []
    for name, entry in clocks.items():
        achieved = float(entry.get("achieved", 0.0))
        constraint = float(entry.get("constraint", 0.0))
        margins.append((achieved - constraint, name, achieved, constraint))
    values["clock_count"] = len(margins)
    if margins:
        _margin, name, achieved, constraint = min(margins)
        values["clock_name"] = name
        values["fmax_mhz"] = round(achieved, 3)
        values["target_clock_mhz"] = constraint
        values["target_clock_ns"] = mhz_to_ns(constraint)
        values["estimated_clock_ns"] = mhz_to_ns(achieved)
        values["timing_met"] = all(m[2] >= m[3] for m in margins)
    return values
