"""Vivado / Vitis HLS / v++ adapters against stand-in executables (tests only).

Each stand-in is a small script named like the real tool, put first on PATH. It checks its
argv (exiting 3 with "STAND-IN: unexpected invocation" otherwise) and that the files the
adapter generated exist, then writes *real* report files copied from the shared fixture
corpus plus a log, so the adapter's parse path runs on real report formats.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from overlay.isa import PORTS
from overlay.xrt_host import KERNEL_ARGS, hbm_banks, sp_lines
from runners import ToolchainError, build, load_template, make_bundle
from runners.toolchains._io_wrapper import top_ports

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports"
# The stand-ins copy real vendor reports from the shared corpus. Without it (a bare clone)
# the module skips, as every fixture reader does, and tests/conftest.py says so in the
# run's summary, so a skipped vendor ladder is never mistaken for a tested one.
if not FIXTURES.is_dir():
    pytest.skip(
        f"vendor stand-in flows need the report corpus at {FIXTURES}", allow_module_level=True
    )

RFSOC = "samuelkravitz__RFSOC__project_1__project_1.runs__impl_1__design_1_wrapper_"
ROSEBUD = "ucsdsysnet__Rosebud__fpga_src__image__just_forward_16_cores_nonblocking_3_5_"
U250 = "nmath018__topK_feature___x.hw.xilinx_u250_gen3x16_xdma_4_1_202210_1__"
F = {
    "util_ok": RFSOC + "utilization_placed.rpt",
    "timing_ok": RFSOC + "timing_summary_routed.rpt",
    "util_fail": ROSEBUD + "utilization.rpt",
    "timing_fail": ROSEBUD + "timing.rpt",
    "csynth_xml": "kangaroo-0000__systolic-array-hls__solution1__syn__report__csynth.xml",
    "link_util": U250 + "reports__link__imp__impl_1_full_util_routed.rpt",
    "link_timing": U250 + "link__vivado__vpl__prj__prj.runs__impl_1__dr_timing_summary.rpt",
    "link_log": U250 + "logs__link__v++.log",
}

_COMMON = """
import os, re, shutil, sys
from pathlib import Path
FIX = Path(os.environ["STANDIN_FIXTURES"])
MODE = os.environ.get("STANDIN_MODE", "ok")
with open(os.environ["STANDIN_CALLS"], "a") as calls:
    calls.write(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) + "\\n")
def die(msg):
    print("STAND-IN: " + msg, file=sys.stderr)
    sys.exit(3)
def need(path):
    if not Path(path).is_file():
        die("missing input file " + str(path))
def copy(key, dest):
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIX / FILES[key], dest)
def license_line():
    text = (FIX / "FAILURE_LOG_LINES.txt").read_text()
    return next(l for l in text.splitlines() if l.startswith("ERROR: [Common 17-345]"))
"""

_VIVADO = """
if sys.argv[1:] == ["-version"]:
    print("Vivado v2023.2 (64-bit)"); sys.exit(0)
if sys.argv[1:] == PACKAGE:
    package_xo(); sys.exit(0)
if sys.argv[1:] != ["-mode", "batch", "-source", "build.tcl", "-log", "vivado.log", "-nojournal"]:
    die("unexpected invocation " + repr(sys.argv[1:]))
need("build.tcl"); need("clocks.xdc")
tcl = Path("build.tcl").read_text()
read = re.findall(r"^read_verilog (\\S+)", tcl, re.M)
for src in read:
    need(src)
rtl = sorted(p.name for p in Path(".").glob("*.v"))
if sorted(read) != rtl:  # every RTL source of the bundle, nothing else
    die("build.tcl reads " + repr(read) + ", the bundle holds " + repr(rtl))
TOP = os.environ.get("STANDIN_TOP", "gemv_int")
if "synth_design -top " + TOP + " -part xcu280-fsvh2892-2L-e" not in tcl:
    die("build.tcl does not synthesise " + TOP + " for xcu280")
in_context = "out_of_context" not in tcl
if in_context:  # a whole design: routed, then a bitstream (pins unplaced: DRCs downgraded)
    steps = ["synth_design", "place_design", "route_design", "set_property SEVERITY .*NSTD-1",
             "write_bitstream"]
    at = [m.start() if m else -1 for m in (re.search("^" + k, tcl, re.M) for k in steps)]
    if -1 in at or at != sorted(at):
        die("build.tcl lacks synth/place/route/pin DRCs/write_bitstream in order: " + repr(at))
    design = os.environ.get("STANDIN_DESIGN")
    if design and not re.search("^    " + design + " #", Path(TOP + ".v").read_text(), re.M):
        die(TOP + ".v does not instantiate " + design)
log = ["****** Vivado v2023.2 (64-bit)", "Command: synth_design -top " + TOP]
if MODE == "license":
    log += [license_line(), "ERROR: synth_design failed"]
    Path("vivado.log").write_text("\\n".join(log) + "\\n")
    print(license_line()); sys.exit(1)
kind = "fail" if MODE == "timing" else "ok"
copy("util_" + kind, "reports/utilization.rpt")
copy("timing_" + kind, "reports/timing_summary.rpt")
Path("reports/post_route.dcp").write_bytes(b"PK stand-in checkpoint")
if in_context:
    Path("reports/" + TOP + ".bit").write_bytes(b"stand-in bitstream")
log += ["route_design completed successfully"]
Path("vivado.log").write_text("\\n".join(log) + "\\n")
"""

_PACKAGE = """
PACKAGE = ["-mode", "batch", "-source", "package_xo.tcl", "-log", "package_xo.log", "-nojournal"]
def package_xo():
    need("package_xo.tcl"); need("kernel.xml")
    tcl = Path("package_xo.tcl").read_text()
    files = re.search(r"^add_files \\[list ([^\\]]*)\\]", tcl, re.M).group(1).split()
    for src in files:
        need(src)
    rtl = sorted(p.name for p in Path(".").glob("*.v"))
    if sorted(files) != rtl:
        die("package_xo.tcl adds " + repr(files) + ", the bundle holds " + repr(rtl))
    xml = Path("kernel.xml").read_text()
    kernel = re.search(r'<kernel name="(\\w+)"', xml).group(1)
    masters = re.findall(r'<port name="(m_axi_\\w+)" mode="master"', xml)
    want = os.environ.get("STANDIN_MASTERS", "").split()
    if want and sorted(masters) != sorted(want):
        die("kernel.xml masters " + repr(masters) + ", expected " + repr(want))
    busifs = re.search(r"^foreach busif \\{([^}]*)\\}", tcl, re.M).group(1).split()
    if sorted(busifs) != sorted(["s_axi_control", *masters]):
        die("package_xo.tcl associates " + repr(busifs) + " with ap_clk")
    line = "package_xo -force -xo_path " + kernel + ".xo -kernel_name " + kernel
    if line not in tcl or "-kernel_xml kernel.xml" not in tcl:
        die("package_xo.tcl has no package_xo step for " + kernel)
    if not re.search("^module " + kernel + " ", Path(kernel + ".v").read_text(), re.M):
        die("no RTL module " + kernel)
    Path(kernel + ".xo").write_bytes(b"PK stand-in rtl kernel")
    Path("package_xo.log").write_text("INFO: [Vivado 12-4829] package_xo: done\\n")
"""

_VITIS_HLS = """
if sys.argv[1:] == ["-version"]:
    print("Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2023.2 (64-bit)"); sys.exit(0)
if sys.argv[1:] != ["-f", "run_hls.tcl", "-l", "vitis_hls.log"]:
    die("unexpected invocation " + repr(sys.argv[1:]))
need("run_hls.tcl")
tcl = Path("run_hls.tcl").read_text()
for src in re.findall(r"^add_files (\\S+)", tcl, re.M):
    need(src)
top = re.search(r"^set_top (\\S+)", tcl, re.M).group(1)
part = re.search(r"^set_part (\\S+)", tcl, re.M).group(1)
if part != "xcu280-fsvh2892-2L-e":
    die("unexpected part " + part)
copy("csynth_xml", "hls_prj/sol1/syn/report/csynth.xml")
Path(top + ".xo").write_bytes(b"PK stand-in kernel")
Path("vitis_hls.log").write_text("INFO: [HLS 200-111] Finished Command csynth_design\\n")
"""

_VPP = """
if sys.argv[1:] == ["--version"]:
    print("v++ v2023.2 (64-bit)"); sys.exit(0)
args = sys.argv[1:]
head = ["--link", "--config", "link.cfg", "-t", "hw", "--platform"]
if args[:6] != head or args[7:9] != ["-o", "design.xclbin"] or len(args) != 10:
    die("unexpected invocation " + repr(args))
need("link.cfg"); need(args[9])
cfg = Path("link.cfg").read_text()
kernel = args[9][: -len(".xo")]
if "platform=" + args[6] not in cfg or "nk=" + kernel + ":1:" + kernel + "_1" not in cfg:
    die("link.cfg does not match the command line")
want = [x for x in os.environ.get("STANDIN_SP", "").split(";") if x]
sp = re.findall(r"^sp=\\S+", cfg, re.M)
if want and sorted(sp) != sorted(want):
    die("link.cfg sp= lines " + repr(sp) + " differ from the channel map's " + repr(want))
copy("link_util", "_x/reports/link/imp/impl_1_full_util_routed.rpt")
copy("link_timing", "_x/reports/link/imp/impl_1_level0_wrapper_timing_summary_routed.rpt")
shutil.copyfile(FIX / FILES["link_log"], "v++_link.log")
Path("design.xclbin").write_bytes(b"xclbin2 stand-in")
"""


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write vivado / vitis_hls / v++ stand-ins into a bin folder first on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    bodies = (("vivado", _PACKAGE + _VIVADO), ("vitis_hls", _VITIS_HLS), ("v++", _VPP))
    for name, body in bodies:
        script = bindir / name
        text = f"#!{sys.executable}\nFILES = {F!r}\n{_COMMON}\n{textwrap.dedent(body)}"
        script.write_text(text)
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_FIXTURES", str(FIXTURES))
    monkeypatch.setenv("STANDIN_CALLS", str(tmp_path / "calls.txt"))
    return tmp_path


def _calls(root: Path) -> list[str]:
    return (root / "calls.txt").read_text().splitlines()


def test_vivado_flow_parses_routed_reports(standins: Path) -> None:
    res = build("gemv_int", {"lanes": 16, "clock_mhz": 250}, "vivado", cache_root=standins / "c")
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    assert res.metrics["lut"] == 29992 and res.metrics["dsp"] == 376
    assert res.metrics["bram36"] == 66.5 and res.metrics["lut_available"] == 425280
    assert res.metrics["wns_ns"] == 0.36 and res.metrics["timing_met"] is True
    assert res.metrics["target_clock_ns"] == 4.0
    assert res.metrics["fmax_mhz"] == round(1000 / (4.0 - 0.36), 1)
    assert res.tool_versions == {"vivado": "Vivado v2023.2 (64-bit)"}
    assert "checkpoint" in res.artefacts and res.fidelity == "place_route"
    tcl = (Path(res.result_dir) / "build.tcl").read_text()
    assert "-generic ACCBITS=32 -generic LANES=16 -generic WBITS=8" in tcl
    assert "-period 4.000" in (Path(res.result_dir) / "clocks.xdc").read_text()
    assert _calls(standins)[-1] == (
        "vivado -mode batch -source build.tcl -log vivado.log -nojournal"
    )


def test_vivado_timing_failure_is_classified_and_cached(
    standins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "timing")
    res = build("gemv_int", {"lanes": 8}, "vivado", cache_root=standins / "c")
    assert res.status == "failed" and res.failure_class == "timing_not_met"
    assert res.metrics["wns_ns"] == -0.003 and res.metrics["lut"] == 37347
    assert (Path(res.result_dir) / "result.json").is_file()
    runs = len(_calls(standins))
    assert build("gemv_int", {"lanes": 8}, "vivado", cache_root=standins / "c").cached
    assert len(_calls(standins)) == runs  # served from the cache: no tool call


def test_vivado_license_failure_is_not_cached(
    standins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "license")
    res = build("gemv_int", {"lanes": 8}, "vivado", cache_root=standins / "c")
    assert res.status == "failed" and res.failure_class == "license"
    assert res.first_error is not None and "Common 17-345" in res.first_error
    folder = Path(res.result_dir)
    assert (folder / "attempt.json").is_file() and not (folder / "result.json").exists()
    monkeypatch.setenv("STANDIN_MODE", "ok")  # the licence server is back
    again = build("gemv_int", {"lanes": 8}, "vivado", cache_root=standins / "c")
    assert again.ok and not again.cached and (folder / "result.json").is_file()


def test_vitis_hls_flow(standins: Path) -> None:
    res = build("hls_gemv", {}, "vitis-hls", cache_root=standins / "c")
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    # The numbers of the fixture csynth.xml the stand-in copied (an HLS estimate).
    assert res.metrics["lut"] == 9516 and res.metrics["dsp"] == 10
    assert res.metrics["estimated_clock_ns"] == 7.674 and res.metrics["target_clock_ns"] == 10.0
    assert res.artefacts == {"xo": "hls_gemv.xo"}
    tcl = (Path(res.result_dir) / "run_hls.tcl").read_text()
    assert "set_top hls_gemv" in tcl and "create_clock -period 3.333" in tcl


def test_vitis_link_flow(standins: Path) -> None:
    res = build("hls_gemv", {"clock_mhz": 250}, "vitis-link", cache_root=standins / "c")
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    assert res.metrics["lut"] == 85935 and res.metrics["wns_ns"] == 0.057
    assert res.metrics["timing_met"] is True and res.metrics["hls_dsp"] == 10
    assert set(res.artefacts) == {"xo", "xclbin"} and res.fidelity == "bitstream"
    calls = _calls(standins)
    assert calls[-2:] == [
        "vitis_hls -f run_hls.tcl -l vitis_hls.log",
        "v++ --link --config link.cfg -t hw --platform xilinx_u280_gen3x16_xdma_1_202211_1 "
        "-o design.xclbin hls_gemv.xo",
    ]


def test_missing_vivado_is_a_host_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no vivado anywhere
    res = build("gemv_int", {}, "vivado", cache_root=tmp_path / "c")
    assert res.failure_class == "host_error" and "vivado" in (res.first_error or "")
    assert res.tool_versions == {"vivado": "not found"}
    assert not (Path(res.result_dir) / "result.json").exists()


# --- the whole accelerator (templates/overlay) ------------------------------------------
OVERLAY_POINT = {"mv_k": 8, "mv_n": 4, "axi_port_bits": 64, "clock_mhz": 250}


def test_vivado_builds_the_whole_overlay_in_context_to_a_bitstream(
    standins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_TOP", "dse_io_top")
    monkeypatch.setenv("STANDIN_DESIGN", "overlay_top")
    res = build("overlay", OVERLAY_POINT, "vivado", cache_root=standins / "c")
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    # a bitstream of the whole design, but its pins are nowhere: not a release deliverable
    assert res.artefacts["scan_bitstream"] == "reports/dse_io_top.bit"
    assert "bitstream" not in res.artefacts
    folder = Path(res.result_dir)
    tcl = (folder / "build.tcl").read_text()
    for src in load_template("overlay").sources:
        if src.endswith(".v"):
            assert f"read_verilog {src}\n" in tcl
    assert "-generic MV_N=4" in tcl and "-mode out_of_context" not in tcl
    # every port bit of overlay_top crosses the scan chain once: 64-bit AXI data here
    assert res.metrics["io_wrapper_ff"] == sum(
        p.width for p in top_ports(folder, ["overlay_top.v"], "overlay_top", res.params, "vivado")
        if p.name != "clk"
    )  # fmt: skip


def test_the_vivado_io_top_is_lint_clean_around_the_overlay(tmp_path: Path) -> None:
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    bundle = make_bundle("overlay", OVERLAY_POINT, "vivado", root=tmp_path)
    ports = top_ports(bundle.folder, ["overlay_top.v"], "overlay_top", bundle.params, "vivado")
    assert {p.name: p.width for p in ports}["m_axi_kv_wdata"] == 64
    assert {p.name: p.width for p in ports}["m_axi_kv_wstrb"] == 8
    argv = ["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--top-module", "dse_io_top"]
    argv += ["dse_io_top.v", "-y", str(load_template("overlay").folder)]
    done = subprocess.run(argv, cwd=bundle.folder, capture_output=True, text=True, check=False)
    ours = [ln for ln in done.stderr.splitlines() if ln.startswith("%") and "dse_io_top.v:" in ln]
    assert not ours, ours
    assert "Cannot find" not in done.stderr, done.stderr


def _sp_expected(point: dict[str, int]) -> list[str]:
    banks = hbm_banks({g: point.get(f"hbm_ch_{g}", 1) for g in PORTS}, channels=32)
    return sp_lines(banks)


@pytest.mark.parametrize(
    "channels",
    [
        {"hbm_ch_wqkv": 4, "hbm_ch_wo": 2, "hbm_ch_wffn": 8, "hbm_ch_kv": 2, "hbm_ch_act": 1},
        {"hbm_ch_wqkv": 27, "hbm_ch_wo": 27, "hbm_ch_wffn": 27, "hbm_ch_kv": 4, "hbm_ch_act": 1},
    ],
)
def test_vitis_link_packages_the_overlay_as_an_rtl_kernel(
    standins: Path, monkeypatch: pytest.MonkeyPatch, channels: dict[str, int]
) -> None:
    point = {**OVERLAY_POINT, **channels}
    masters = [f"m_axi_{a}" for a in ("prog", "out", *PORTS)]
    monkeypatch.setenv("STANDIN_MASTERS", " ".join(masters))
    monkeypatch.setenv("STANDIN_SP", ";".join(_sp_expected(point)))
    res = build("overlay", point, "vitis-link", cache_root=standins / "c")
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    assert res.artefacts == {"xo": "overlay_kernel.xo", "xclbin": "design.xclbin"}
    assert res.metrics["lut"] == 85935 and "hls_lut" not in res.metrics
    assert _calls(standins)[-2:] == [
        "vivado -mode batch -source package_xo.tcl -log package_xo.log -nojournal",
        "v++ --link --config link.cfg -t hw --platform xilinx_u280_gen3x16_xdma_1_202211_1 "
        "-o design.xclbin overlay_kernel.xo",
    ]
    folder = Path(res.result_dir)
    xml = (folder / "kernel.xml").read_text()
    # the kernel's arguments are the host runner's, at the register offsets of the RTL
    assert re.findall(r'<arg name="(\w+)"', xml) == list(KERNEL_ARGS)
    assert 'dataWidth="64"' in xml and 'name="prog_len" addressQualifier="0"' in xml
    assert "-generic" not in (folder / "package_xo.tcl").read_text()
    assert "MV_N 4" in (folder / "package_xo.tcl").read_text()


def test_vitis_link_stand_in_refuses_a_link_off_the_channel_map(
    standins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = {**OVERLAY_POINT, "hbm_ch_wqkv": 4}
    monkeypatch.setenv("STANDIN_SP", ";".join(_sp_expected({**point, "hbm_ch_wqkv": 3})))
    res = build("overlay", point, "vitis-link", cache_root=standins / "c")
    assert not res.ok and "differ from the channel map" in " ".join(res.log_tail)


def test_vitis_link_of_the_overlay_takes_its_ports_from_the_channel_map(tmp_path: Path) -> None:
    point = {**OVERLAY_POINT, "hbm": {"w": [0, 3]}}
    with pytest.raises(ToolchainError, match="hbm_ch_\\* channel map"):
        make_bundle("overlay", point, "vitis-link", root=tmp_path)
