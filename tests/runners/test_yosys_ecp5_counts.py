"""yosys-ecp5 reports the overlay's block RAM: ``bram36`` from the DP16KD count (two 18 Kb
EBRs per 36 Kb equivalent), not the stat's Xilinx-only RAMB count, which is 0 on an ECP5
(the overlay's 16 EBRs were reported as 0 BRAM, and calibration took that as measured)."""

from __future__ import annotations

import json
from pathlib import Path

from runners.toolchains import TOOLCHAINS

# The cell table of `dse build examples/tiny-llama-ecp5.yaml --template overlay --flow
# yosys-ecp5` at the small point of docs/overlay.md (Yosys 0.70).
CELLS = {
    "$scopeinfo": 23, "CCU2C": 2876, "DP16KD": 16, "L6MUX21": 38, "LUT4": 12243,
    "MULT18X18D": 45, "PFUMX": 1143, "TRELLIS_DPR16X4": 288, "TRELLIS_FF": 5045,
}  # fmt: skip


def test_yosys_ecp5_counts_ebr_as_bram36(tmp_path: Path) -> None:
    stat = {
        "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release) stat -json",
        "invocation": "stat -json",
        "modules": {},
        "design": {"num_cells": sum(CELLS.values()), "num_cells_by_type": CELLS},
    }
    (tmp_path / "stat.json").write_text(json.dumps(stat))
    res = TOOLCHAINS["yosys-ecp5"].parse(tmp_path)
    assert res.ok, res.first_error
    m = res.metrics
    assert (m["lut"], m["ff"], m["dsp"], m["ebr"]) == (12243, 5045, 45, 16)
    assert m["bram36"] == 8.0 and m["lutram"] == 288
