"""``dse promote`` of a temporal U280 point: the overlay as a Vitis RTL kernel (stand-in
``vivado`` for package_xo and ``v++`` for the link, checking the generated scripts), its
port images laid out for the HBM banks of the point's channel map, the kernel simulated as
XRT drives it; then ``dse run`` decodes through the release's host runner on a stand-in
``pyxrt`` whose "xclbin" the stand-in ``v++`` derived from the link's own ``link.cfg``,
``kernel.xml`` and ``package_xo.tcl``: its tokens equal the bit-exact reference's."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from dse.alveo_release import AlveoError, plan
from dse.config import load_config
from dse.release import load_release, promote, verify_release
from dse.sweep import run_sweep
from overlay.isa import PORTS
from overlay.reference import run_reference
from overlay.xrt_host import hbm_banks, sp_lines
from tests.dse_tests.sweep_cases import run as _run
from tests.overlay_tests import fake_pyxrt
from tests.runners.test_standin_flows import _COMMON, _PACKAGE, _VIVADO, _VPP, FIXTURES, F

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-llama-u280.yaml"
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)
# After the shared v++ stand-in's checks (link.cfg matches the command line and, with
# STANDIN_SP, the channel map): an "xclbin" for the stand-in pyxrt, made only from what the
# link was given: the kernel and its arguments' masters (kernel.xml), each master's HBM
# range (link.cfg's sp= lines) and the packaged parameter values (package_xo.tcl).
_XCLBIN = """
import json
xml = Path("kernel.xml").read_text()
args = re.findall(r'<arg name="(\\w+)"[^>]*port="(\\w+)"', xml)
first = {m: int(a) for m, a in re.findall(r"^sp=\\w+\\.(m_axi_\\w+):HBM\\[(\\d+)", cfg, re.M)}
tcl = Path("package_xo.tcl").read_text()
values = re.search(r"^foreach \\{name value\\} \\{([^}]*)\\}", tcl, re.M).group(1).split()
p = dict(zip(values[::2], map(int, values[1::2])))
fmt = {"w_bits": p["WBITS"], "mv_k": p["MV_K"], "mv_n": p["MV_N"], "beat": p["BEAT"]}
Path("design.xclbin").write_text(json.dumps({
    "kernel": kernel, "args": [a for a, _ in args],
    "banks": {a: first[m] for a, m in args if m in first},
    "fmt": {g: fmt for g in ("wqkv", "wo", "wffn")},
    "scratch_words": p["SPAD"], "imem": p["IMEM"],
}))
"""


def _config(root: Path) -> Path:
    """The example with a one-point space (the sweep only has to give promote a trial)."""
    cfg = yaml.safe_load(EXAMPLE.read_text())
    cfg["space"] = {"mv_n": {"type": "categorical", "choices": [4]}}
    cfg["budget"], cfg["sampler"] = {"trials": 1}, "grid"
    path = root / "tiny-llama-u280.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _standins(bindir: Path, calls: Path) -> dict[str, str]:
    bindir.mkdir()
    bodies = (("vivado", _PACKAGE + _VIVADO), ("v++", _VPP + _XCLBIN))
    for name, body in bodies:
        script = bindir / name
        text = f"#!{sys.executable}\nFILES = {F!r}\n{_COMMON}\n{textwrap.dedent(body)}"
        script.write_text(text)
        script.chmod(0o755)
    point = load_config(EXAMPLE).point
    banks = hbm_banks({g: point[f"hbm_ch_{g}"] for g in PORTS}, channels=32)
    return {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_FIXTURES": str(FIXTURES),
        "STANDIN_CALLS": str(calls),
        "STANDIN_SP": ";".join(sp_lines(banks)),
        "STANDIN_MASTERS": " ".join(f"m_axi_{a}" for a in ("prog", "out", *PORTS)),
    }


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("alveo")
    results = root / "results"
    cfg = load_config(_config(root))
    run_sweep(cfg, storage=f"sqlite:///{results / cfg.name / 'optuna.db'}", progress=False)
    env = _standins(root / "bin", root / "calls.txt")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        rel = promote(cfg.name, "0", "tiny-u280", results=results)
    return rel, results, root


def test_promote_publishes_the_kernel_its_images_and_their_banks(released) -> None:
    rel, results, root = released
    calls = (root / "calls.txt").read_text().splitlines()
    assert rel.flow == "vitis-link" and rel.bitstream.name == "tiny-u280.xclbin"  # the default
    assert calls[-2].startswith("vivado -mode batch -source package_xo.tcl")
    assert calls[-1].startswith("v++ --link --config link.cfg -t hw --platform xilinx_u280")
    sec = rel.manifest["alveo"]
    assert sec["xclbin_sha256"] == hashlib.sha256(rel.bitstream.read_bytes()).hexdigest()
    assert sec["channel_map"] == {"wqkv": 2, "wo": 1, "wffn": 4, "kv": 1, "act": 1}
    assert sec["hbm_banks"] == {"wqkv": [0, 1], "wo": [2, 2], "wffn": [3, 6], "kv": [7, 7],
                                "act": [8, 8]}  # fmt: skip
    layout = json.loads((rel.path / "alveo" / "layout.json").read_text())
    linked = (rel.path / "sources" / "link.cfg").read_text()
    assert all(line in linked.splitlines() for line in layout["sp"] + sec["sp"])
    images = b"".join((rel.path / "alveo" / f"{g}.bin").read_bytes() for g in PORTS)
    assert sec["image_sha256"] == hashlib.sha256(images).hexdigest()
    prog = (rel.path / "alveo" / "prog.bin").read_bytes()
    assert sec["program_sha256"] == hashlib.sha256(prog).hexdigest()
    assert sec["model"]["d_model"] == 64 and sec["model"]["n_layers"] == 5
    # the kernel was sized for the program it runs
    assert layout["program"]["instructions"] <= sec["kernel_params"]["IMEM"]
    assert (
        f"SPAD {sec['kernel_params']['SPAD']}" in (rel.path / "sources/package_xo.tcl").read_text()
    )
    sim = sec["simulated"]
    assert sim["bit_exact"] and sim["tokens"] == sim["reference_tokens"]
    assert sec["cycles_per_token"] == sim["cycles_per_token"] > 0
    assert sec["model_cycles_per_token"] > 0
    report = verify_release(results, "tiny-u280")
    assert report.ok, report


def _reference(rel) -> list[int]:
    cfg = load_config(rel.path / "study.yaml")
    p = plan(rel.path / "study.yaml", cfg.point | rel.manifest["parameters"], "overlay")
    assert p is not None
    return run_reference(p.prep.qm, [1, 2, 3], 16)[0]


def test_dse_run_decodes_the_reference_tokens_through_pyxrt(
    released, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rel, results, _ = released
    monkeypatch.setitem(sys.modules, "pyxrt", fake_pyxrt)
    argv = ["run", "tiny-u280", "--prompt", "1,2,3", "--tokens", "16", "--results", str(results)]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert out.strip() == ",".join(map(str, _reference(rel)))
    assert "steps/s" in err


def test_dse_run_bad_input_is_one_line(
    released, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, results, root = released
    base = ["--results", str(results)]
    cases = [
        (["tiny-u280", "--prompt", "1", "--port", "/dev/ttyUSB0"], "--device, not --port"),
        (["tiny-u280", "--prompt", "1,600"], "vocabulary"),
        (["tiny-u280", "--prompt", "1", "--tokens", "70"], "positions"),
    ]
    if importlib.util.find_spec("pyxrt") is None:  # without XRT: where the binding comes from
        cases.append((["tiny-u280", "--prompt", "1"], "setup.sh"))
    # a release whose image was rewritten (mode and all) is not written into HBM
    copy = root / "copy"
    shutil.copytree(results / "releases", copy / "releases")
    for path in [copy / "releases", *(copy / "releases").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (copy / "releases" / "tiny-u280" / "alveo" / "wo.bin").write_bytes(b"\0" * 16)
    for args, needle in cases:
        code, _, err = _run(["run", *args, *base], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, (args, err)
    monkeypatch.setitem(sys.modules, "pyxrt", fake_pyxrt)
    code, _, err = _run(["run", "tiny-u280", "--prompt", "1", "--results", str(copy)], capsys)
    assert code == 2 and "image_sha256" in err, err


def test_promote_refuses_a_flow_that_cannot_run_and_an_uncompilable_shape(
    released, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, results, root = released
    before = len((root / "calls.txt").read_text().splitlines())
    argv = ["promote", "tiny-llama-u280", "0", "--name", "viv", "--flow", "vivado"]
    code, _, err = _run([*argv, "--results", str(results)], capsys)
    errors = [ln for ln in err.strip().splitlines() if not ln.startswith("trial 0 of")]
    assert code == 2 and len(errors) == 1 and "use --flow vitis-link" in errors[0], err
    assert len((root / "calls.txt").read_text().splitlines()) == before  # nothing was built
    cfg = yaml.safe_load(EXAMPLE.read_text())
    cfg["workload"]["shape"] |= {"head_dim": 15, "d_model": 60}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(
        AlveoError, match=r"tiny-llama-5l cannot be compiled: workload\.shape\.head_dim"
    ):
        plan(bad, load_config(bad).point, "overlay")
    assert plan(bad, load_config(bad).point, "llm_top") is None  # a unit template: no runner
    big = ROOT / "examples" / "llama2-7b-u280-temporal.yaml"  # refused before any weight is made
    with pytest.raises(AlveoError, match=r"llama-2-7b has 6738 M parameters.*MAX_PARAMS"):
        plan(big, load_config(big).point, "overlay")
    assert load_release(results, "tiny-u280").manifest["alveo"]["runner"].endswith("XrtRunner")
