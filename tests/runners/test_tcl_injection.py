"""Tcl injection (issue 12, item 3): a part name, platform or template value never becomes a
Tcl command in ``build.tcl`` / ``clocks.xdc`` / ``run_hls.tcl``, nor a line in ``link.cfg``.

The flows refuse malformed parts before rendering anything; the templates also quote every
value, which is checked by sourcing the rendered scripts in a real ``tclsh`` whose Vivado /
Vitis commands are stubs that record their arguments.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dse.cli import main
from runners import TemplateError, ToolchainError, load_template, make_bundle, render_template

ROOT = Path(__file__).resolve().parents[2]
TCLSH = shutil.which("tclsh")
EVIL = [
    "xcu280-fsvh2892-2L-e [exec touch {marker}]",
    "xcu280-fsvh2892-2L-e; exec touch {marker}",
    "xcu280-fsvh2892-2L-e\nexec touch {marker}",
    "xcu280-$env(HOME)",
    "xcu280-fsvh2892-2L-e}",
    'xcu280"',
    "XCU280-FSVH2892-2L-E ",
]


@pytest.mark.parametrize("flow", ["vivado", "vitis-hls"])
@pytest.mark.parametrize("part", EVIL)
def test_flows_refuse_a_malformed_part(flow: str, part: str, tmp_path: Path) -> None:
    template = "gemv_int" if flow == "vivado" else "hls_gemv"
    marker = tmp_path / "pwned"
    with pytest.raises(ToolchainError, match=r"is not an AMD/Xilinx part name like"):
        make_bundle(template, {}, flow, part=part.replace("{marker}", str(marker)), root=tmp_path)
    assert not marker.exists()


def test_good_parts_still_pass(tmp_path: Path) -> None:
    for part in ("xcu280-fsvh2892-2L-e", "xc7z020clg400-1", "xcvh1782-lsva4737-2MP-e-S"):
        bundle = make_bundle("gemv_int", {}, "vivado", part=part, root=tmp_path)
        assert f"-part {part} " in (bundle.folder / "build.tcl").read_text()


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({}, None),
        ({"kernels": [{"name": "hls_gemv\n[vivado]", "count": 1}]}, r"kernels\[0\]\.name"),
        ({"kernels": [{"name": "k", "count": "1\nx"}]}, r"kernels\[0\]\.count"),
        (
            {"kernels": [{"name": "k", "count": 1, "ports": {"p;x": "w"}}], "hbm": {"w": [0, 1]}},
            "port names",
        ),
        ({"kernels": [{"name": "k", "count": 1, "slr": ["0\n"]}]}, r"kernels\[0\]\.slr"),
        ({"hbm": {"w": [0, "1]\n[vivado]"]}}, r"hbm\.w"),
    ],
)
def test_vitis_link_checks_platform_and_connectivity(
    point: dict, message: str | None, tmp_path: Path
) -> None:
    bad_platform = "xilinx_u280_gen3x16\n[vivado]\nprop=run.impl_1.STEPS.OPT_DESIGN.TCL.PRE=x.tcl"
    with pytest.raises(ToolchainError, match="is not a Vitis platform name"):
        make_bundle("hls_gemv", point, "vitis-link", part=bad_platform, root=tmp_path)
    platform = "xilinx_u280_gen3x16_xdma_1_202211_1"
    if message is None:
        bundle = make_bundle("hls_gemv", point, "vitis-link", part=platform, root=tmp_path)
        assert f"platform={platform}\n" in (bundle.folder / "link.cfg").read_text()
    else:
        with pytest.raises(ToolchainError, match=message):
            make_bundle("hls_gemv", point, "vitis-link", part=platform, root=tmp_path)


def test_link_cfg_template_refuses_a_value_with_a_newline(tmp_path: Path) -> None:
    tpl = load_template("vitis_link")
    with pytest.raises(TemplateError, match=r"link\.cfg\.j2:\d+: .*link_cfg_value_must_be"):
        render_template(tpl, {"IMPL_STRATEGY": "Default2\n[vivado]\nprop=x"}, tmp_path)


# Stubs for every Vivado / Vitis HLS command the scripts use: each records its arguments as a
# Tcl list, so the test sees exactly the words the tool would have received.
_STUBS = """
set ::calls {}
foreach cmd {set_param read_verilog read_vhdl read_xdc synth_design report_utilization
             write_checkpoint opt_design place_design route_design report_timing_summary
             write_bitstream create_clock set_property get_ports open_project set_top add_files
             open_solution set_part set_clock_uncertainty csim_design csynth_design
             cosim_design export_design} {
    proc $cmd {args} "lappend ::calls \\[list $cmd {*}\\$args\\]; return {}"
}
proc exit {args} {}
"""


def _source(tmp_path: Path, script: Path) -> list[list[str]]:
    """Source ``script`` in tclsh with the stubs; return every recorded call."""
    runner = tmp_path / "run.tcl"
    runner.write_text(
        _STUBS
        + f"cd {{{script.parent}}}\nsource {{{script.name}}}\n"
        + 'foreach c $::calls { puts [join [lmap w $c {string map {"\\n" "\\\\n"} $w}] "\\x1f"] }\n'
    )
    done = subprocess.run([TCLSH, str(runner)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\x1f") for line in done.stdout.splitlines()]


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_hostile_values_reach_tcl_as_single_words(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f'x [exec touch {marker}] $env(HOME) {{a}} "q" ; \\'
    out = tmp_path / "vivado"
    render_template(
        load_template("vivado"),
        {
            "PART": hostile,
            "TOP": "top; exec touch " + str(marker),
            "REPORT_DIR": "rep dir",
            "CLOCK_PORT": "clk]",
            "sources": [f"a b[exec touch {marker}].v"],
            "generics": {"W": "1 [exec touch " + str(marker) + "]"},
            "OOC": 0,
            "WRITE_BITSTREAM": 1,
        },
        out,
    )
    calls = _source(tmp_path, out / "build.tcl")
    assert not marker.exists()
    synth = next(c for c in calls if c[0] == "synth_design")
    assert synth[synth.index("-part") + 1] == hostile
    assert synth[synth.index("-top") + 1] == "top; exec touch " + str(marker)
    assert f"W=1 [exec touch {marker}]" in synth
    assert ["read_verilog", f"a b[exec touch {marker}].v"] in calls
    assert next(c for c in calls if c[0] == "write_bitstream")[-1].startswith("rep dir/top; ")
    clock = next(c for c in _source(tmp_path, out / "clocks.xdc") if c[0] == "create_clock")
    assert clock[clock.index("-name") + 1] == "clk]"
    hls = tmp_path / "hls"
    render_template(
        load_template("vitis_hls"),
        {
            "PART": hostile,
            "TOP": "k\nexec touch " + str(marker),
            "sources": ["k.cpp"],
            "cflags": '-I. -DX="[exec touch ' + str(marker) + ']"',
        },
        hls,
    )
    calls = _source(tmp_path, hls / "run_hls.tcl")
    assert not marker.exists()
    assert ["set_part", hostile] in calls
    assert ["set_top", "k\\nexec touch " + str(marker)] in calls  # newline kept, escaped
    add = next(c for c in calls if c[0] == "add_files")
    assert add[-1] == '-I. -DX="[exec touch ' + str(marker) + ']"'


def test_dse_build_refuses_a_hostile_part_from_cli_and_platform_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    evil = f"xcu280-fsvh2892-2L-e [exec touch {marker}]"
    config = yaml.safe_load((ROOT / "examples" / "gpt2-medium-u280-spatial.yaml").read_text())
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    results = ["--results", str(tmp_path / "results")]
    for flow in ("vivado", "vitis-hls"):
        template = "llm_top" if flow == "vivado" else "hls_gemv"
        argv = ["build", str(cfg), "--flow", flow, "--template", template, "--part", evil]
        code = _cli([*argv, *results])
        err = capsys.readouterr().err
        assert code == 2 and "is not an AMD/Xilinx part name" in " ".join(err.split()), err
        assert "Traceback" not in err
    platform = yaml.safe_load((ROOT / "cost_models" / "platforms" / "u280.yaml").read_text())
    platform["part"] = evil
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(platform))
    config["platform"] = str(tmp_path / "evil.yaml")
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    code = _cli(["build", str(cfg), "--flow", "vivado", "--template", "llm_top", *results])
    err = " ".join(capsys.readouterr().err.split())
    # blamed on the platform file's part: key, where the user has to fix it
    assert code == 2 and f"{tmp_path / 'evil.yaml'}: part:" in err and "Traceback" not in err, err
    assert not marker.exists()
    assert not list((tmp_path / "results").glob("builds/*/build.tcl"))


def _cli(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_rendered_params_record_the_raw_values(tmp_path: Path) -> None:
    """Quoting happens in the script only: params.json keeps what was asked for."""
    written = render_template(load_template("vivado"), {"REPORT_DIR": "a b"}, tmp_path)
    meta = json.loads(next(p for p in written if p.name == "params.json").read_text())
    assert meta["params"]["REPORT_DIR"] == "a b"
    assert "set report_dir a\\ b\n" in (tmp_path / "build.tcl").read_text()
