"""Reading a Yosys run for the resource benchmarks: per-module cells of ``stat -json``,
a module's cells with its sub-modules flattened in, the parameters of each derived module
(from the log's hierarchy messages) and the counts the benchmarks compare with the models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runners.reports._open import count_cells


def module_cells(stat: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Module name (without Yosys's leading backslash) -> its own cells by type."""
    return {k.lstrip("\\"): v.get("num_cells_by_type", {}) for k, v in stat["modules"].items()}


def flatten(mods: Mapping[str, Mapping[str, int]], name: str) -> dict[str, int]:
    """Cells of one instance of module ``name``, every sub-module instance flattened in."""
    cells: dict[str, int] = {}
    for ctype, n in mods[name].items():
        sub = ctype.lstrip("\\")
        for c2, n2 in (flatten(mods, sub) if sub in mods else {ctype: 1}).items():
            cells[c2] = cells.get(c2, 0) + n * n2
    return cells


def paramods(log: str) -> dict[str, dict[str, int]]:
    """Module (derived or not, without the leading backslash) -> its integer parameters."""
    out: dict[str, dict[str, int]] = {}
    params: dict[str, int] = {}
    for line in log.splitlines():
        if "derive mode" in line:
            params = {}
        # "Parameter \\U = 8" or, set by position, "Parameter 2 (\\DEPTH) = 4"; strings
        # (file names) are printed as bit strings and skipped
        elif m := re.match(r"^Parameter (?:\d+ \()?\\(\w+)\)? = (-?\d+)$", line):
            params[m.group(1)] = int(m.group(2))
        elif m := re.match(r"^Generating RTLIL representation for module `(.+)'\.", line):
            out[m.group(1).lstrip("\\")] = dict(params)
    return out


def counts(cells: Mapping[str, int], flow: str) -> dict[str, float]:
    """LUT (logic and LUT-RAM cells; an ECP5 CCU2C carry is two LUT4 slots), FF, DSP, BRAM
    (RAMB36 equivalents, or ECP5 EBRs) and the LUT-RAM share of the LUTs."""
    v = count_cells(cells)
    n = {k: float(v.get(k) or 0) for k in ("lut", "lutram", "carry", "ff", "dsp", "bram36", "ebr")}
    lut = n["lut"] + n["lutram"] + (2 * n["carry"] if flow == "yosys-ecp5" else 0.0)
    bram = n["ebr"] if flow == "yosys-ecp5" else n["bram36"]
    return {"lut": lut, "ff": n["ff"], "dsp": n["dsp"], "bram": bram, "lutram": n["lutram"]}
