"""The spatial RTL as a ``runners`` template: bundles for the open flows, refusals by key,
and the default template of a spatial study. No tool runs here (see test_sim_rung.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dse.buildspec import resolve_build
from dse.config import load_config
from runners import load_template, make_bundle
from spatial.rtl import LIBRARY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-gpt2-ecp5-spatial.yaml"
BIG = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
ENCODER = {"name": "enc", "d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4}
ENCODER |= {"head_dim": 16, "d_ffn": 256, "ffn": "gelu", "vocab": 128, "causal": False}


def test_manifest_lists_the_kernel_library() -> None:
    tpl = load_template("spatial_rtl")
    assert tpl.generator == "spatial.flow" and tpl.top == "sp_top"
    assert list(tpl.sources) == list(LIBRARY)
    assert {"sim-verilator", "yosys-ecp5", "yosys-xilinx", "ecp5"} <= set(tpl.flows)


def test_spatial_study_builds_the_spatial_accelerator() -> None:
    cfg = load_config(EXAMPLE)
    spec = resolve_build(cfg, {}, flow="yosys-ecp5")
    assert spec.template == "spatial_rtl"
    # the study's model and KV length travel with the point; the plan's knobs are parameters
    assert spec.point["model_shape"]["d_model"] == 64 and spec.point["max_pos"] == 16
    params = spec.template_params()
    assert params["M_QKV"] == 8 and params["C"] == 1 and params["TILE"] == 2


@pytest.mark.parametrize("flow", ["yosys-ecp5", "ecp5"])
def test_bundle_synthesises_the_generated_top(tmp_path: Path, flow: str) -> None:
    spec = resolve_build(load_config(EXAMPLE), {}, flow=flow)
    bundle = make_bundle(spec.template, spec.point, spec.flow, spec.part, root=tmp_path)
    folder = bundle.folder
    script = (folder / "synth.ys").read_text()
    # every module read deferred (ROM file names are parameters the top sets), no chparam
    for src in [*LIBRARY, "sp_top.v"]:
        assert f"read_verilog -defer {src}\n" in script
    assert "chparam" not in script
    top = (folder / "sp_top.v").read_text()
    assert "module sp_top" in top and "sp_gemv" in top
    roms = sorted(p.name for p in (folder / "rom").glob("*.hex"))
    assert "emb.hex" in roms and "c0_wq_w.hex" in roms and "lm_w.hex" in roms
    assert "rom/emb.hex" in bundle.sources
    if flow == "ecp5":  # a whole accelerator: in context behind the scan-chain top
        wrapper = (folder / "dse_io_top.v").read_text()
        assert "sp_top u_design (" in wrapper and "#(" not in wrapper
        assert "-top dse_io_top" in script
    meta = json.loads((folder / "params.json").read_text())
    assert meta["context"]["model_shape"]["name"] == "tiny-gpt2-2l"
    # deterministic: the same point makes the same bundle (the build-cache key)
    again = make_bundle(spec.template, spec.point, spec.flow, spec.part, root=tmp_path)
    assert again.hash == bundle.hash


def _build(config: Path, point: dict, flow: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "dse.cli", "build", str(config), "--flow", flow]
    argv += ["--point", json.dumps(point), "--results", str(tmp)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp, timeout=300)


@pytest.mark.parametrize(
    ("config", "point", "flow", "key"),
    [
        (BIG, {}, "yosys-xilinx", "weight_storage: auto"),  # the model's default
        (BIG, {"weight_storage": "onchip"}, "yosys-xilinx", "model_shape: gpt2-medium has"),
        (EXAMPLE, {"weight_storage": "stream"}, "yosys-ecp5", "weight_storage: the spatial RTL"),
        (EXAMPLE, {"quant": "w4a16"}, "yosys-ecp5", "quant:"),
        (EXAMPLE, {"sparsity": "nm", "nm_m": 32}, "yosys-ecp5", "nm_m:"),
        (EXAMPLE, {"sparsity": "log"}, "yosys-ecp5", "sparsity"),
        (EXAMPLE, {"quant_group": 128}, "sim-verilator", "quant_group:"),
        (EXAMPLE, {"sim_model": "gpt5"}, "sim-verilator", "sim_model:"),
        (EXAMPLE, {"model_shape": ENCODER}, "sim-verilator", "model_shape: an encoder"),
    ],
)
def test_unbuildable_point_is_one_line_exit_2(
    tmp_path: Path, config: Path, point: dict, flow: str, key: str
) -> None:
    done = _build(config, point, flow, tmp_path)
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert done.returncode == 2, lines
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in lines[0], lines
