"""Vivado / Vitis HLS / v++ adapters against stand-in executables (tests only).

Each stand-in is a small script named like the real tool, put first on PATH. It checks its
argv (exiting 3 with "STAND-IN: unexpected invocation" otherwise) and that the files the
adapter generated exist, then writes *real* report files copied from the shared fixture
corpus plus a log, so the adapter's parse path runs on real report formats.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from runners import build

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"{FIXTURES} absent")

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
if sys.argv[1:] != ["-mode", "batch", "-source", "build.tcl", "-log", "vivado.log", "-nojournal"]:
    die("unexpected invocation " + repr(sys.argv[1:]))
need("build.tcl"); need("clocks.xdc")
tcl = Path("build.tcl").read_text()
for src in re.findall(r"^read_verilog (\\S+)", tcl, re.M):
    need(src)
if "synth_design -top gemv_int -part xcu280-fsvh2892-2L-e" not in tcl:
    die("build.tcl does not synthesise gemv_int for xcu280")
log = ["****** Vivado v2023.2 (64-bit)", "Command: synth_design -top gemv_int"]
if MODE == "license":
    log += [license_line(), "ERROR: synth_design failed"]
    Path("vivado.log").write_text("\\n".join(log) + "\\n")
    print(license_line()); sys.exit(1)
kind = "fail" if MODE == "timing" else "ok"
copy("util_" + kind, "reports/utilization.rpt")
copy("timing_" + kind, "reports/timing_summary.rpt")
Path("reports/post_route.dcp").write_bytes(b"PK stand-in checkpoint")
log += ["route_design completed successfully"]
Path("vivado.log").write_text("\\n".join(log) + "\\n")
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
if "platform=" + args[6] not in cfg or "nk=hls_gemv:1:hls_gemv_1" not in cfg:
    die("link.cfg does not match the command line")
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
    for name, body in (("vivado", _VIVADO), ("vitis_hls", _VITIS_HLS), ("v++", _VPP)):
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
