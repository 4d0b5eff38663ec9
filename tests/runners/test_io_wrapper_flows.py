"""One scan-chain I/O wrapper (runners/toolchains/_io_wrapper.py) for every flow that places
a whole accelerator: vivado and ecp5 write the same ``dse_io_top``; behind it a design with
more ports than the package has pins places and routes on an ECP5, and its bitstream is
filed as ``scan_bitstream`` (measures the design, not for a board)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners import build, make_bundle
from runners.toolchains import _open_steps
from runners.toolchains._io_wrapper import IO_FILE, top_ports

OVERLAY_POINT = {"mv_k": 8, "mv_n": 1, "axi_port_bits": 32}
# 16 lanes x 32-bit results + 16 x 4-bit weights + control: 588 port bits, over the 365
# pins of the ECP5-85's CABGA381 package, so the bare module cannot be placed.
WIDE = {"lanes": 16, "w_bits": 4, "clock_mhz": 20}


def test_vivado_and_ecp5_wrap_the_overlay_with_the_same_top(tmp_path: Path) -> None:
    tops = {}
    for flow in ("vivado", "ecp5"):
        bundle = make_bundle("overlay", OVERLAY_POINT, flow, root=tmp_path / flow)
        tops[flow] = (bundle.folder / IO_FILE).read_text()
    assert tops["vivado"] == tops["ecp5"]
    script = (tmp_path / "ecp5").glob("*/synth.ys")
    text = next(script).read_text()
    assert f"read_verilog {IO_FILE}" in text and "synth_ecp5 -top dse_io_top" in text


def test_synthesis_only_flows_build_the_bare_overlay(tmp_path: Path) -> None:
    bundle = make_bundle("overlay", OVERLAY_POINT, "yosys-ecp5", root=tmp_path)
    assert not (bundle.folder / IO_FILE).exists()
    assert "synth_ecp5 -top overlay_top" in (bundle.folder / "synth.ys").read_text()


def test_ecp5_places_a_module_with_more_ports_than_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gemv_int stands in for the overlay here (a whole-overlay place and route takes ~10+
    # minutes): the flow wraps whatever WHOLE_DESIGNS names.
    monkeypatch.setattr(_open_steps, "WHOLE_DESIGNS", ("gemv_int",))
    res = build("gemv_int", WIDE, "ecp5", cache_root=tmp_path)
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    m, folder = res.metrics, Path(res.result_dir)
    assert m["io"] <= 4  # clk, io_si, io_se, io_so
    ports = top_ports(folder, ["gemv_int.v"], "gemv_int", res.params, "ecp5")
    assert sum(p.width for p in ports if p.name != "clk") == m["io_wrapper_ff"] > 365
    assert m["ff"] >= m["io_wrapper_ff"]
    assert isinstance(m["fmax_mhz"], float) and m["fmax_mhz"] > 0
    assert m["dsp"] > 0  # the lanes' multipliers survived: every input stays live
    assert "bitstream" not in res.artefacts  # not for a board: promote does not publish it
    assert (folder / res.artefacts["scan_bitstream"]).stat().st_size > 1_000_000
