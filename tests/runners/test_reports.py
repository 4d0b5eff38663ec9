"""Tests for ``runners.reports``: real Vivado/Vitis fixtures, failure classification, inline
samples, and real Yosys/nextpnr output (``slow``)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from runners.reports import (
    FAILURE_CLASSES,
    SUPPORTED_KINDS,
    Report,
    ReportParseError,
    classify_failure,
    parse_report,
    parse_text,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports"
# Companion notes and inputs in the fixture folder that are not tool reports.
NOT_REPORTS = {"INDEX.txt", "MANIFEST.tsv", "FORMAT_NOTES.txt", "FAILURE_LOG_LINES.txt"}
FIXTURE_NAMES = (
    sorted(p.name for p in FIXTURES.iterdir() if p.name not in NOT_REPORTS and p.suffix != ".tcl")
    if FIXTURES.is_dir()
    else []
)

U250 = "nmath018__topK_feature___x.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__"
ESE = "UniqueMR__ESE5320-Final-Project__"
RFSOC = "samuelkravitz__RFSOC__project_1__project_1.runs__"
LAKEROAD = (
    "gussmith23__lakeroad-evaluation__runs__2022-07-06-1704-full__vivado-eval__"
    "xilinx-ultrascale-plus-vivado-eval__vivado-synth-opt-place-route__"
)
WYI = "WYI1223__ECE8893MyLab__lab0__project_1__hls__"
LUNA = "advent-lab__LUNA__preprocessor__dot_product__runs__M100_W12_N10__"
ROSEBUD = "ucsdsysnet__Rosebud__fpga_src__image__"
AUTOBRIDGE = "UCLA-VAST__AutoBridge__archive__benchmarks__PageRank__tapa_src__report__"
HLS4ML = "fastmachinelearning__hls4ml__test__pytest__test_report__Vivado__"
NMAVUSO = "nmavuso__ese5320_final_project__"
U250_BUILD = "nmath018__topK_feature__build_dir.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__krnl.link"
JESSE = "jesselooney__vivado-report-parser__tests__integration__fixtures__inputs__"

ABSENT = object()  # marks a key that must not be in ``values``

# file name -> (kind, exact values). Numbers were read off the files by hand.
PINNED: dict[str, tuple[str, dict[str, Any]]] = {
    U250 + "reports__link__imp__impl_1_full_util_routed.rpt": (
        "vivado_utilization",
        {
            "part": "xcu250-figd2104-2L-e",
            "tool_version": "2022.2",
            "lut": 85935,
            "lut_available": 1726208,
            "lut_util": 4.98,
            "ff": 148240,
            "ff_available": 3456000,
            "bram36": 143.5,
            "bram36_available": 2688,
            "uram": 0,
            "uram_available": 1280,
            "dsp": 15,
            "dsp_available": 12288,
            "carry": 715,
            "stage": "route",
            "sll_used": 6685,
            "slr_count": 4,
            "slr1_lut": 73575,
            "slr1_bram36": 143.5,
        },
    ),
    # Vitis trap: Design State says "Physopt postRoute" but the starred LUT row is post-synth.
    U250 + "reports__link__imp__impl_1_full_util_synthed.rpt": (
        "vivado_utilization",
        {
            "design_state": "Physopt postRoute",
            "stage": "synth",
            "lut": 99407,
            "lut_available": 1726216,
            "ff": 161494,
        },
    ),
    U250 + "reports__link__imp__impl_1_slr_util_routed.rpt": (
        "vivado_utilization",
        {"slr_count": 4, "lut": 85935, "ff": 148240, "bram36": 143.5, "dsp": 15, "slr0_lut": 4910},
    ),
    U250 + "reports__link__imp__impl_1_kernel_util_routed.rpt": (
        "vivado_kernel_utilization",
        {
            "part": "xcu250",
            "lut": 4376,
            "lut_available": 1644648,
            "lut_util": 0.27,
            "ff": 5851,
            "bram36": 2,
            "uram_available": 1280,
            "dsp": 11,
            "platform_lut": 81560,
            "kernels": "topKQueryScores",
            "compute_units": 1,
        },
    ),
    ESE + "_x__reports__link__imp__impl_1_kernel_util_routed.rpt": (
        "vivado_kernel_utilization",
        {"lut": 4377, "bram36": 34, "bram36_available": 212, "uram": ABSENT},
    ),
    ESE + "_x__reports__link__imp__impl_1_full_util_routed.rpt": (
        "vivado_utilization",
        {"part": "xczu3egsbva484-1", "lut": 18830, "lut_available": 70560, "uram": ABSENT},
    ),
    HLS4ML + "vivado_synth.rpt": (
        "vivado_utilization",
        {
            "part": "7z020clg400-1",
            "tool_version": "2020.1",
            "lut": 1526,
            "lut_available": 53200,
            "ff": 2428,
            "ff_available": 106400,
            "bram36": 0,
            "bram36_available": 140,
            "dsp": 66,
            "dsp_available": 220,
            "dsp_util": 30.0,
            "uram": ABSENT,
            "stage": "synth",
        },
    ),
    ROSEBUD + "final_with_pcie__final_util_report.rpt": (
        "vivado_utilization",
        {
            "tool_version": "2019.1.1",
            "part": "xcku035fbva676-2",
            "lut": 83081,
            "lut_available": 203128,
            "bram36": 428,
            "bram36_available": 540,
            "uram": ABSENT,
            "stage": "place",
        },
    ),
    RFSOC + "impl_1__design_1_wrapper_utilization_placed.rpt": (
        "vivado_utilization",
        {
            "part": "xczu48dr-ffvg1517-2-e",
            "lut": 29992,
            "bram36": 66.5,
            "uram": 0,
            "uram_available": 80,
            "dsp": 376,
            "dsp_available": 4272,
        },
    ),
    # Block-design trap: every IP is an out-of-context black box, so the top shows 0 LUTs.
    RFSOC + "synth_1__design_1_wrapper_utilization_synth.rpt": (
        "vivado_utilization",
        {"lut": 0, "dsp": 0, "black_boxes": 17, "stage": "synth"},
    ),
    JESSE + "utilization2023.rpt": (
        "vivado_utilization",
        {"design_state": "Optimized", "stage": "opt", "lut": 57, "lut_util": 0.01, "ff": 45},
    ),
    LAKEROAD + "inlining.futil-ultrascale-util-synth.v": (
        "vivado_utilization",
        {"lut": 719, "ff": 570, "dsp": 12, "stage": "synth", "part": "xczu3eg-sbva484-1-e"},
    ),
    LUNA + "timing.rpt": (
        "vivado_timing_summary",
        {
            "wns_ns": -0.283,
            "tns_ns": -5.384,
            "failing_endpoints": 95,
            "total_endpoints": 1277,
            "whs_ns": -0.082,
            "ths_ns": -38.625,
            "hold_failing_endpoints": 749,
            "wpws_ns": -0.29,
            "tpws_ns": -1.89,
            "timing_met": False,
            "timing_verdict": "not_met",
            "target_clock_ns": 1.0,
            "part": "xczu7ev-ffvc1156",
        },
    ),
    ROSEBUD + "just_forward_16_cores_nonblocking_3_5_timing.rpt": (
        "vivado_timing_summary",
        {"tool_version": "2018.3", "wns_ns": -0.003, "failing_endpoints": 1, "timing_met": False},
    ),
    ROSEBUD + "final_with_pcie__final_timing.rpt": (
        "vivado_timing_summary",
        {"wns_ns": 0.031, "whs_ns": 0.004, "wpws_ns": 0.0, "timing_met": True},
    ),
    LAKEROAD + "inlining.futil-ultrascale-timing-summary-synth.v": (
        "vivado_timing_summary",
        {"wns_ns": None, "tns_ns": None, "timing_met": None, "timing_verdict": "unconstrained"},
    ),
    LAKEROAD + "inlining.futil-ultrascale-timing-summary-route.v": (
        "vivado_timing_summary",
        {"wns_ns": -0.089, "tns_ns": -0.762, "failing_endpoints": 20, "timing_met": False},
    ),
    RFSOC + "impl_1__design_1_wrapper_timing_summary_routed.rpt.at_9ff5aa3": (
        "vivado_timing_summary",
        {
            "part": "7z020-clg400",
            "design_state": "Routed",
            "wns_ns": 1.055,
            "clock_count": 1,
            "target_clock_ns": 10.0,
            "timing_met": True,
        },
    ),
    U250 + "link__vivado__vpl__prj__prj.runs__impl_1__dr_timing_summary.rpt": (
        "vivado_timing_summary",
        {"wns_ns": 0.057, "total_endpoints": 367300, "wpws_ns": 0.0, "timing_met": True},
    ),
    JESSE + "timing-CRLF.rpt": (
        "vivado_timing_paths",
        {
            "part": "7s25-csga324",
            "wns_ns": 6.995,
            "requirement_ns": 10.0,
            "logic_levels": 4,
            "timing_met": True,
        },
    ),
    RFSOC + "impl_1__design_1_wrapper_route_status.rpt": (
        "vivado_route_status",
        {"routable_nets": 54994, "nets_with_routing_errors": 0, "fully_routed": True},
    ),
    WYI + "impl__verilog__report__top_kernel_failfast_routed.rpt": (
        "vivado_failfast",
        {"part": "xczu3eg-sbva484-1-e", "failfast_checks": 22, "failfast_failed": 0},
    ),
    # Layout (a): Vivado HLS <= 2019.1, bare numbers.
    "yu-zou__CTREncryption__solution1__syn__report__block_aes_128_csynth.rpt": (
        "hls_csynth",
        {
            "tool": "vivado_hls",
            "tool_version": "2018.3",
            "part": "xczu7ev-ffvc1156-2-e",
            "top": "block_aes_128",
            "target_clock_ns": 5.0,
            "estimated_clock_ns": 4.091,
            "latency_cycles_min": 14,
            "latency_cycles_max": 32,
            "lut": 188270,
            "lut_available": 230400,
            "bram18": 4,
            "bram36": 2.0,
        },
    ),
    # Layout (b): 2019.2+, "ns" units, latency "?" and SLR rows.
    AUTOBRIDGE + "ProcElem_csynth.rpt": (
        "hls_csynth",
        {
            "target_clock_ns": 4.0,
            "estimated_clock_ns": 4.163,
            "timing_met": False,
            "latency_cycles_min": None,
            "latency_cycles_max": None,
            "uram": 64,
            "lut_available": 1303680,
            "lut_available_slr": 434560,
        },
    ),
    HLS4ML + "myproject_csynth.rpt": (
        "hls_csynth",
        {
            "latency_cycles_min": 10,
            "latency_cycles_max": 10,
            "latency_ns_min": 50.0,
            "interval_min": 8,
            "pipeline_type": "dataflow",
            "dsp": 73,
            "part": "xc7z020-clg400-1",
        },
    ),
    # Layout (c): Vitis 2020.2+ synthesis summary; over-utilised estimate is not an error.
    "HanderRi__AMD-Pervasive-AI__solution1__syn__report__csynth.rpt": (
        "hls_csynth_summary",
        {
            "part": "xck26-sfvc784-2LV-c",
            "top": "ViT_act",
            "lut": 270827,
            "lut_util": 231,
            "bram18": 902,
            "bram36": 451.0,
            "issue_type": "Timing",
            "slack_ns": -0.37,
            "timing_met": False,
        },
    ),
    WYI + "syn__report__csynth.rpt": (
        "hls_csynth_summary",
        {
            "tool_version": "2025.1.1",
            "latency_cycles_min": 117,
            "latency_cycles_max": 117,
            "latency_ns_min": 1170.0,
            "interval_min": 100,
            "pipelined": "rewind",
            "lut": 2627,
            "timing_met": True,
        },
    ),
    U250 + "krnl__topKQueryScores__topKQueryScores__solution__syn__report__csynth.rpt": (
        "hls_csynth_summary",
        {"flow_target": "vitis", "slack_ns": -0.0, "timing_met": False, "dsp": 12},
    ),
    "zakk-h__PartitionAcceleratorHLS__solution1__syn__report__csynth.xml": (
        "hls_csynth_xml",
        {"target_clock_ns": 10.0, "estimated_clock_ns": 12.12, "timing_met": False, "lut": 55711},
    ),
    "mzrghorbani__lr_hls_dev__solution1__syn__report__csynth.xml": (
        "hls_csynth_xml",
        {
            "latency_cycles_max": None,
            "dsp": 53,
            "lut_available": 663360,
            "part": "xcku115-flvd1517-2-i",
        },
    ),
    "yu-zou__CTREncryption__solution1__syn__report__csynth.xml": (
        "hls_csynth_xml",
        {
            "latency_cycles_min": 14,
            "latency_cycles_avg": 23,
            "latency_cycles_max": 32,
            "interval_min": 15,
            "interval_max": 33,
        },
    ),
    WYI + "syn__report__csynth.xml": (
        "hls_csynth_xml",
        {"tool_version": "2025.1.1", "flow_target": "vivado", "lut": 2625, "timing_met": True},
    ),
    WYI + "impl__report__verilog__export_impl.xml": (
        "hls_export_xml",
        {
            "top": "top_kernel",
            "wns_ns": 7.155,
            "estimated_clock_ns": 2.845,
            "lut": 1906,
            "bram36": 1.0,
            "timing_met": True,
        },
    ),
    WYI + "impl__report__verilog__export_impl.rpt": (
        "hls_export_impl",
        {"lut": 1906, "ff": 3019, "srl": 216, "target_clock_ns": 10.0, "timing_met": True},
    ),
    "kangaroo-0000__systolic-array-hls__solution1__syn__report__csynth_design_size.rpt": (
        "hls_design_size",
        {"top": "systolic_array", "instructions_compile_link": 879, "instructions_final": 1545},
    ),
    ESE + "_x__reports__link__system_estimate_kernel.xtxt": (
        "vitis_system_estimate",
        {
            "tool_version": "2020.2",
            "target_clock_mhz": 150.0,
            "fmax_mhz": 205.465378,
            "lut": 8755,
            "bram18": 68,
            "latency_cycles_max": None,
        },
    ),
    U250 + "reports__link__system_estimate_krnl.link.xtxt": (
        "vitis_system_estimate",
        {"lut": 7271, "ff": 5275, "fmax_mhz": 411.015198, "timing_met": True},
    ),
    U250_BUILD + ".xclbin.info": (
        "vitis_xclbin_info",
        {
            "part": "xcu250",
            "tool_version": "2022.2",
            "data_clock_mhz": 300.0,
            "kernel_clock_mhz": 500.0,
            "fmax_mhz": 300.0,
        },
    ),
    ESE + "kernel.xclbin.info": (
        "vitis_xclbin_info",
        {"part": "xczu3eg", "kernels": "hardware_encoding", "fmax_mhz": ABSENT},
    ),
    U250_BUILD + ".xclbin.link_summary": (
        "vitis_link_summary",
        {"flow": "link", "target": "hw", "status": "passed", "succeeded": True},
    ),
    ESE + "kernel.xo.compile_summary": (
        "vitis_compile_summary",
        {"flow": "compile", "kernels": "hardware_encoding", "tool_version": "2020.2"},
    ),
    NMAVUSO + "v++_lzw_hls.log": (
        "log",
        {
            "tool": "v++",
            "failure_class": "disk_or_io",
            "first_error": "ERROR: VPL caught an internal exception...",
        },
    ),
    NMAVUSO + "v++_lzw_hls_3673.backup.log": (
        "log",
        {
            "failure_class": "tool_error",
            "first_error": "ERROR: [v++ 214-157] Top function not found: "
            "there is no function named 'krnl_lzw'",
        },
    ),
    NMAVUSO + "_x__logs__lzw_hls__lzw_fpga_vitis_hls.log": (
        "log",
        {"tool": "vitis_hls", "failure_class": "tool_error", "error_count": 11},
    ),
    RFSOC + "impl_1__runme.log": (
        "log",
        {
            "tool": "vivado",
            "tool_version": "2024.1",
            "part": "xczu48dr-ffvg1517-2-e",
            "failure_class": "none",
            "first_error": None,
            "last_step_completed": "write_bitstream",
            "wns_ns": 0.359,
        },
    ),
    ESE + "_x__kernel__hardware_encoding__vitis_hls.log": (
        "log",
        {"tool": "vitis_hls", "fmax_mhz": 205.47, "failure_class": "none"},
    ),
    U250 + "logs__link__v++.log": (
        "log",
        {"tool": "v++", "vpl_status": "complete", "failure_class": "none"},
    ),
}


@pytest.fixture
def fixture_path(report_dir: Path) -> Any:
    def path(name: str) -> Path:
        file = report_dir / name
        if not file.exists():
            pytest.skip(f"fixture {name} missing")
        return file

    return path


# --- every fixture in the shared folder ----------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_parses(name: str, report_dir: Path) -> None:
    report = parse_report(report_dir / name)
    assert report.kind in SUPPORTED_KINDS
    flat = report.to_dict()
    assert next(iter(flat)) == "kind"
    json.dumps(flat)  # JSON-able
    assert all(isinstance(v, int | float | str | bool | type(None)) for v in flat.values())


def test_pinned_fixtures_cover_many_files() -> None:
    assert len(PINNED) >= 15


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_values(name: str, fixture_path: Any) -> None:
    kind, expected = PINNED[name]
    report = parse_report(fixture_path(name))
    assert report.kind == kind
    for key, value in expected.items():
        if value is ABSENT:
            assert key not in report.values, key
        elif isinstance(value, float) and key.endswith(("_mhz", "_util")):
            assert report.values[key] == pytest.approx(value), key
        else:
            assert report.values.get(key, "<missing>") == value, key


def test_tcl_input_is_not_a_report(report_dir: Path) -> None:
    tcl = next(iter(sorted(report_dir.glob("*.tcl"))), None)
    if tcl is None:
        pytest.skip("no .tcl fixture")
    with pytest.raises(ReportParseError) as caught:
        parse_report(tcl)
    assert tcl.name in str(caught.value)
    assert "vivado_utilization" in str(caught.value)


def test_timing_summary_fmax_single_clock(fixture_path: Any) -> None:
    report = parse_report(
        fixture_path(
            WYI + "impl__verilog__project.runs__impl_1__bd_0_wrapper_timing_summary_routed.rpt"
        )
    )
    # 10 ns clock with 7.155 ns slack -> 1000 / 2.845 MHz
    assert report.values["fmax_mhz"] == pytest.approx(1000 / 2.845, abs=1e-3)


def test_kind_comes_from_content_not_name(fixture_path: Any) -> None:
    text = fixture_path(HLS4ML + "vivado_synth.rpt").read_text()
    assert parse_text(text, "misleading_name.log").kind == "vivado_utilization"
    assert parse_text(text).values["lut"] == 1526


def test_crlf_matches_lf(fixture_path: Any, tmp_path: Path) -> None:
    for name in (
        HLS4ML + "vivado_synth.rpt",
        LUNA + "timing.rpt",
        "yu-zou__CTREncryption__solution1__syn__report__block_aes_128_csynth.rpt",
    ):
        text = fixture_path(name).read_text()
        crlf = tmp_path / "crlf.rpt"
        crlf.write_bytes(text.replace("\n", "\r\n").encode())
        assert parse_report(crlf).values == parse_report(fixture_path(name)).values
        assert parse_text(text.replace("\n", "\r\n")).values == parse_text(text).values


# --- failure classification -----------------------------------------------------------------


def _failure_lines(report_dir: Path) -> list[str]:
    path = report_dir / "FAILURE_LOG_LINES.txt"
    if not path.exists():
        pytest.skip("FAILURE_LOG_LINES.txt missing")
    return path.read_text().splitlines()


# (substring that picks one line of FAILURE_LOG_LINES.txt, expected class)
FAILURE_CASES = [
    ("[Place 30-640] Place Check : This design requires more Slice LUTs", "over_utilization"),
    ("[Place 30-640] Place Check : This design requires more LUT as Logic", "over_utilization"),
    ("ERROR: [DRC UTLZ-1] Resource utilization: LUT as Logic", "over_utilization"),
    ("ERROR: [DRC UTLZ-1] Resource utilization: F7 Muxes", "over_utilization"),
    ("RAMB18 and RAMB36/FIFO over-utilized in Top Level Design", "over_utilization"),
    ("WARNING: [Common 17-348] Failed to get the license for feature 'Synthesis'", "license"),
    ("[Common 17-345] A valid license was not found for feature 'Synthesis' and/or", "license"),
    ("ERROR: [Common 17-345] A valid license was not found", "license"),
    ("WARNING: [VPL 17-301] Failed to get a license for 'ap_opencl'", "license"),
    ("ERROR: [DRC NSTD-1] Unspecified I/O Standard: 6 out of 6", "drc"),
    ("ERROR: [DRC 23-20] Rule violation (LUTLP-1)", "drc"),
    ("ERROR: [DRC 23-20] Rule violation (INBB-3)", "drc"),
    ("[DRC RTSTAT-4] No routable drivers", "drc"),
    ("ERROR: [DRC PLIOBUF-3]", "drc"),
    ("ERROR: [Vivado_Tcl 4-23] Error(s) found during DRC. Placer not run.", "drc"),
    ("ERROR: [VPL 35-3339] The router is unable to resolve", "routing_congestion"),
    ("ERROR: [VPL 35-368] Router failed to resolve global congestion", "routing_congestion"),
    ("ERROR: [VPL 18-1000] Routing results verification failed", "routing_congestion"),
    ("ERROR: [VPL-4] design did not meet timing", "timing_not_met"),
    ("ERROR: [VPL 101-2] design did not meet timing", "timing_not_met"),
    ("[localhost] out: ERROR: [VPL 101-2] design did not meet timing", "timing_not_met"),
    ("ERROR: [VPL-4] Design failed to meet timing.", "timing_not_met"),
    ("CRITICAL WARNING: [SdsCompiler 83-5122] Timing constraints were not met", "timing_not_met"),
    ("ERROR: [VPL 60-1328] Vpl run 'vpl' failed", "tool_error"),
    ("ERROR: [v++ 60-661] v++ link run 'run_link' failed", "tool_error"),
    ("ERROR: [VPL 17-102] Failed writing to file", "disk_or_io"),
    ("ERROR: [v++ 60-633] Failed to collect compute units", "tool_error"),
    ("ERROR: [Common 17-69] Command failed: Placer could not place all instances", "tool_error"),
    ("INFO: [Common 17-349] Got license for feature 'Implementation'", "none"),
]


@pytest.mark.parametrize(("needle", "expected"), FAILURE_CASES)
def test_classify_failure_lines(needle: str, expected: str, report_dir: Path) -> None:
    line = next((ln for ln in _failure_lines(report_dir) if needle in ln), None)
    assert line is not None, f"ground-truth line not found: {needle}"
    failure, first_error = classify_failure(line)
    assert failure == expected
    if expected == "none":
        assert first_error is None
    elif "ERROR:" in line:
        assert first_error == line[line.index("ERROR:") :].strip()
    else:
        assert first_error == line.strip()


def _section(lines: list[str], start: str, stop: str) -> str:
    begin = next(i for i, ln in enumerate(lines) if ln.startswith(start))
    end = next(i for i, ln in enumerate(lines[begin + 1 :], begin + 1) if ln.startswith(stop))
    return "\n".join(lines[begin + 1 : end])


@pytest.mark.parametrize(
    ("start", "stop", "expected", "first"),
    [
        ("A5 ", "A6 ", "over_utilization", "ERROR: [DRC UTLZ-1] Resource utilization: LUT as"),
        ("B1 ", "B2 ", "license", "WARNING: [Common 17-348]"),  # no ERROR line: the warning
        ("B5 ", "---", "none", None),
        ("C4 ", "---", "drc", "ERROR: [DRC PLIOBUF-3]"),
        ("D1 ", "---", "routing_congestion", "ERROR: [VPL 35-3339]"),
        ("E1 ", "E2 ", "timing_not_met", "ERROR: [VPL-4] design did not meet timing"),
        ("E3 ", "E4 ", "timing_not_met", "ERROR: [VPL 101-2]"),
        ("E4 ", "E5 ", "timing_not_met", "ERROR: [VPL-4] Design failed to meet timing."),
        ("E6 ", "E7 ", "tool_error", "ERROR: [VPL 60-1328] Vpl run 'vpl' failed"),
    ],
)
def test_classify_failure_blocks(
    start: str, stop: str, expected: str, first: str | None, report_dir: Path
) -> None:
    block = _section(_failure_lines(report_dir), start, stop)
    failure, first_error = classify_failure(block)
    assert failure == expected
    if first is None:
        assert first_error is None
    else:
        assert first_error is not None and first_error.startswith(first)


def test_classify_failure_synthetic() -> None:
    assert classify_failure("")[0] == "none"
    assert classify_failure("INFO: [Common 17-206] Exiting Vivado\n")[0] == "none"
    assert classify_failure("synth_design failed\n") == ("tool_error", "synth_design failed")
    assert classify_failure("ERROR: write failed: No space left on device\r\n") == (
        "disk_or_io",
        "ERROR: write failed: No space left on device",
    )
    assert classify_failure("/bin/sh: line 1: 4242 Killed  vivado -mode batch")[0] == "host_error"
    assert classify_failure("Killed\n")[0] == "host_error"
    assert classify_failure("ERROR: std::bad_alloc\n")[0] == "host_error"
    assert classify_failure("TIMEOUT: vivado exceeded 7200 s and was stopped\n")[0] == "timeout"
    crlf = "INFO: start\r\nERROR: [Place 30-640] Place Check : too big\r\n"
    assert classify_failure(crlf) == (
        "over_utilization",
        "ERROR: [Place 30-640] Place Check : too big",
    )
    # over-utilisation wins over the DRC wrapper and the trailing "failed" lines it causes
    log = (
        "ERROR: [DRC UTLZ-1] Resource utilization: LUT as Logic over-utilized\n"
        "ERROR: [Vivado_Tcl 4-23] Error(s) found during DRC. Placer not run.\n"
        "place_design failed\n"
    )
    assert classify_failure(log)[0] == "over_utilization"
    assert set(FAILURE_CLASSES) >= {classify_failure(log)[0], "none"}


def test_successful_logs_classify_none(report_dir: Path) -> None:
    for name in (RFSOC + "synth_1__runme.log", ESE + "_x__link__vivado__vpl__vivado.log"):
        if (report_dir / name).exists():
            assert classify_failure((report_dir / name).read_text()) == ("none", None)


# --- inline samples (no fixtures needed) ----------------------------------------------------

UTIL_REORDERED = """\
Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.
---------------------------------------------------------
| Tool Version : Vivado v.2022.2 (lin64) Build 3671981
| Design       : top
| Device       : xczu7ev-ffvc1156-2-e
| Design State : Routed
---------------------------------------------------------

Utilization Design Information

1. CLB Logic
------------

+------------+-----------+-------+--------+------------+-------+
|  Site Type | Available | Util% |  Used  | Prohibited | Fixed |
+------------+-----------+-------+--------+------------+-------+
| CLB LUTs   |    230400 |  0.53 |   1220 |          0 |     0 |
| CLB Registers |  460800 |  0.27 |   1254 |          0 |     0 |
+------------+-----------+-------+--------+------------+-------+
* Warning! LUT value is adjusted to account for LUT combining.

3. BLOCKRAM
-----------

+----------------+-----------+-------+------+
|    Site Type   | Available | Util% | Used |
+----------------+-----------+-------+------+
| Block RAM Tile |       312 | 62.66 | 195.5 |
|   RAMB36/FIFO* |       312 | 60.90 |  190 |
+----------------+-----------+-------+------+
"""


def test_utilization_columns_are_mapped_by_name() -> None:
    report = parse_text(UTIL_REORDERED, "util.rpt")
    assert report.kind == "vivado_utilization"
    assert report.values["lut"] == 1220
    assert report.values["lut_available"] == 230400
    assert report.values["ff"] == 1254
    assert report.values["bram36"] == 195.5
    assert report.values["bram36_available"] == 312
    assert report.values["ramb36"] == 190
    assert report.values["stage"] == "route"
    assert "uram" not in report.values


TIMING_NA = """\
| Tool Version      : Vivado v.2021.2 (lin64) Build 3367213
| Device            : xczu3eg-sbva484

------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
      0.120        0.000                      0                  10           NA           NA                     NA                   NA        1.000        0.000                       0                     4  


All user specified timing constraints are met.


------------------------------------------------------------------------------------------------
| Clock Summary
| -------------
------------------------------------------------------------------------------------------------

Clock   Waveform(ns)       Period(ns)      Frequency(MHz)
-----   ------------       ----------      --------------
clk     {0.000 2.500}      5.000           200.000


------------------------------------------------------------------------------------------------
| Intra Clock Table
| -----------------
"""  # noqa: E501, W291


def test_timing_summary_na_cells() -> None:
    values = parse_text(TIMING_NA).values
    assert values["wns_ns"] == 0.12
    assert values["whs_ns"] is None
    assert values["hold_failing_endpoints"] is None
    assert values["wpws_ns"] == 1.0
    assert values["timing_met"] is True


YOSYS_XILINX = {
    "creator": "Yosys 0.40 (git sha1 a1bb0255d)",
    "invocation": "stat -json ",
    "modules": {
        "\\top": {
            "num_cells": 0,
            "num_cells_by_type": {
                "LUT2": 3,
                "LUT6": 4,
                "INV": 1,
                "FDRE": 10,
                "FDCE": 2,
                "CARRY8": 1,
                "DSP48E2": 2,
                "RAMB36E2": 1,
                "RAMB18E2": 3,
                "URAM288": 1,
                "IBUF": 5,
                "OBUF": 4,
                "BUFG": 1,
            },
        }
    },
}


def test_yosys_stat_inline_xilinx() -> None:
    values = parse_text(json.dumps(YOSYS_XILINX), "stat.json").values
    assert values["lut"] == 8  # LUT2 x3 + LUT6 x4 + INV (a LUT1 in Vivado)
    assert values["ff"] == 12
    assert values["dsp"] == 2
    assert values["bram36"] == 2.5  # one RAMB36 + three half-size RAMB18
    assert values["uram"] == 1
    assert values["carry"] == 1
    assert values["io"] == 9
    assert values["arch"] == "xilinx"
    assert values["tool_version"] == "0.40"
    assert values["top"] == "top"


def test_yosys_stat_inline_ecp5_design_block() -> None:
    data = {
        "creator": "Yosys 0.70",
        "modules": {"\\top": {"num_cells": 7}},
        "design": {
            "num_cells": 7,
            "num_cells_by_type": {
                "LUT4": 25,
                "TRELLIS_FF": 58,
                "CCU2C": 4,
                "DP16KD": 2,
                "MULT18X18D": 1,
            },
        },
    }
    values = parse_text(json.dumps(data, indent=3)).values
    assert (values["lut"], values["ff"], values["carry"]) == (25, 58, 4)
    assert (values["ebr"], values["dsp"], values["bram36"]) == (2, 1, 0.0)
    assert values["arch"] == "ecp5"


def test_nextpnr_inline_two_clocks() -> None:
    data = {
        "fmax": {
            "clk_a": {"achieved": 250.5, "constraint": 200.0},
            "clk_b": {"achieved": 90.25, "constraint": 100.0},
        },
        "utilization": {
            "TRELLIS_COMB": {"used": 100, "available": 24288},
            "TRELLIS_FF": {"used": 80, "available": 24288},
            "DP16KD": {"used": 3, "available": 56},
            "MULT18X18D": {"used": 0, "available": 28},
        },
    }
    report = parse_text(json.dumps(data), "report.json")
    assert report.kind == "nextpnr_report"
    values = report.values
    assert values["clock_name"] == "clk_b"
    assert values["fmax_mhz"] == 90.25
    assert values["target_clock_ns"] == 10.0
    assert values["timing_met"] is False
    assert (values["lut"], values["lut_available"], values["ebr"]) == (100, 24288, 3)


def test_report_record() -> None:
    report = Report(kind="log", path="x.log", values={"failure_class": "none"})
    assert report.to_dict() == {"kind": "log", "path": "x.log", "failure_class": "none"}
    assert report.get("missing", 3) == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.kind = "other"  # type: ignore[misc]


def test_unrecognised_input_raises() -> None:
    with pytest.raises(ReportParseError, match="supported kinds"):
        parse_text("hello world\n", "notes.txt")
    with pytest.raises(ReportParseError, match=r"notes\.txt"):
        parse_text("", "notes.txt")
    with pytest.raises(ValueError):  # ReportParseError is a ValueError too
        parse_text('{"not": "a report"}')


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ReportParseError) as caught:
        parse_report(tmp_path / "nope.rpt")
    assert caught.value.path == tmp_path / "nope.rpt"


def test_reports_never_import_dse() -> None:
    package = Path(__file__).resolve().parents[2] / "runners" / "reports"
    for source in package.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"^\s*(from|import)\s+dse\b", text, re.M), source.name


# --- real open-source tool output (slow: runs Yosys and nextpnr) ----------------------------


def _num(values: dict[str, Any], key: str) -> float:
    value = values[key]
    assert isinstance(value, int | float), f"{key}={value!r}"
    return float(value)


@pytest.mark.slow
def test_yosys_stat_xilinx_real(open_flow_outputs: dict[str, Path]) -> None:
    report = parse_report(open_flow_outputs["xilinx_stat"])
    assert report.kind == "yosys_stat"
    values = report.values
    assert values["arch"] == "xilinx"
    assert values["dsp"] == 1  # the 8x8 multiply
    assert _num(values, "ff") >= 24  # 16 product + 8 counter bits at least
    assert values["bram36"] in (0.5, 1.0)  # the 512x8 RAM
    assert values["tool"] == "yosys"


@pytest.mark.slow
def test_yosys_ecp5_real(open_flow_outputs: dict[str, Path]) -> None:
    stat = parse_report(open_flow_outputs["ecp5_stat"])
    netlist = parse_report(open_flow_outputs["ecp5_netlist"])
    assert (stat.kind, netlist.kind) == ("yosys_stat", "yosys_netlist")
    for values in (stat.values, netlist.values):
        assert values["arch"] == "ecp5"
        assert values["dsp"] == 1
        assert values["ebr"] == 1
        assert _num(values, "lut") > 0
    assert stat.values["lut"] == netlist.values["lut"]
    assert stat.values["ff"] == netlist.values["ff"]


@pytest.mark.slow
def test_nextpnr_report_real(open_flow_outputs: dict[str, Path]) -> None:
    report = parse_report(open_flow_outputs["nextpnr_report"])
    assert report.kind == "nextpnr_report"
    values = report.values
    assert values["arch"] == "ecp5"
    assert values["lut_available"] == 83640  # LFE5U-85F
    assert values["target_clock_mhz"] == 100.0
    assert _num(values, "fmax_mhz") > 100.0
    assert values["timing_met"] is True
    assert values["dsp"] == 1
    assert values["ebr"] == 1


def test_license_warning_in_successful_run_is_not_a_failure() -> None:
    log = (
        "WARNING: [VPL 17-301] Failed to get a license for 'ap_opencl'.\n"
        "Feature available: ap_sdsoc\n"
        "route_design completed successfully\n"
    )
    assert classify_failure(log) == ("none", None)
    failed = log + "ERROR: [Common 17-39] 'write_bitstream' failed due to earlier errors.\n"
    assert classify_failure(failed)[0] == "license"
