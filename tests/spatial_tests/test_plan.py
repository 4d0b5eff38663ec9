"""The dataflow plan of a spatial point: what it builds from each knob, what it refuses."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from overlay.model import make_float_model
from overlay.reference import quantise_model
from spatial.hls import render
from spatial.image import build_image
from spatial.plan import SpatialError, build_plan

from .cases import POINTS, SHAPES

GPT, LLAMA = SHAPES["gpt2"], SHAPES["llama-gqa"]


def test_kernels_fifos_and_passes_follow_the_knobs() -> None:
    p = build_plan(POINTS["c1-stream-dense-w4"], LLAMA)
    assert (p.layers_built, p.passes, p.weights_onchip, p.w_bits) == (1, 2, False, 4)
    # Wk, Wv get d_kv/d_q of m_qkv (LLaMA-tiny: d_kv = 32, d_q = 64).
    assert [p.kernel(n).unroll for n in ("wq", "wk", "wv", "wo")] == [8, 4, 4, 8]
    assert p.kernel("w_gate").unroll == p.kernel("w_down").unroll == 16
    assert p.kernel("attn").unroll == 4
    assert {k.op for k in p.kernels} == {"norm", "gemv", "rope", "attention", "act", "add"}
    depths = {f.name: f.depth for f in p.fifos}
    assert depths["q"] == 32 and depths["x_skip1"] == 9 * LLAMA.d_model  # 3 tiles of 3 tokens
    g = build_plan({**POINTS["c2-onchip-dense-w8"], "fifo_depth": 4}, GPT)
    assert (g.layers_built, g.passes, g.weights_onchip) == (2, 1, True)
    assert not any(k.op == "rope" for k in g.kernels) and "gate" not in {f.name for f in g.fifos}
    assert all(f.depth >= 4 for f in g.fifos)
    # After a streaming kernel, with weights on chip, a decode token is taken block by block.
    assert [g.kernel(n).block_in for n in ("wq", "wo", "w_up", "w_down")] == [0, 16, 0, 16]
    assert p.kernel("wo").block_in == 0  # streamed weights: rows reused by a tile instead
    s = build_plan(POINTS["c1-onchip-nm-w4"], LLAMA)
    assert s.kernel("w_down").block_in == 8  # one N:M block (M = 8)


def test_dsp_pack_pairs_the_rows_of_dense_on_chip_gemvs() -> None:
    """Packed: every dense GEMV with weights in ROMs at half the lanes (two rows a lane);
    N:M rows and streamed weights never; ``dsp_pack: false`` none."""
    from spatial.rtl import gemvs

    dense = build_plan(POINTS["c2-onchip-dense-w8"], LLAMA)
    assert all(g.pack for g in gemvs(dense).values())
    assert gemvs(dense)["wq"].unroll == dense.kernel("wq").unroll // 2
    off = build_plan({**POINTS["c2-onchip-dense-w8"], "dsp_pack": False}, LLAMA)
    assert not any(g.pack for g in gemvs(off).values())
    assert gemvs(off)["wq"].unroll == off.kernel("wq").unroll
    nm = gemvs(build_plan(POINTS["c1-onchip-nm-w4"], LLAMA))
    assert not nm["w_up"].pack and nm["w_up"].sparse
    assert not any(g.pack for g in gemvs(build_plan(POINTS["c1-stream-dense-w4"], LLAMA)).values())


def test_each_knob_changes_the_generated_source(tmp_path: Path) -> None:
    base = POINTS["c1-stream-dense-w4"]

    def src(point: dict, name: str) -> str:
        plan = build_plan(point, LLAMA, max_pos=16)
        qm = quantise_model(make_float_model(LLAMA, 0, 16), plan.quant_spec(), [1, 2])
        _, off, lw = build_image(qm, plan)
        out = tmp_path / name
        render(plan, off, lw, out)
        return (out / "spatial_top.cpp").read_text() + (out / "spatial_top.h").read_text()

    a = src(base, "a")
    assert len(re.findall(r"^\s+layer\(", a, re.M)) == 1 and "PASSES = 2" in a
    assert "TILE = 3" in a and "static int32_t wmem" not in a
    b = src({**base, "layers_per_fpga": 2, "weight_storage": "onchip", "fifo_depth": 7}, "b")
    assert len(re.findall(r"^\s+layer\(", b, re.M)) == 2 and "PASSES = 1" in b
    assert "static int32_t wmem" in b and "depth=7" in b and "depth=7" not in a
    c = src({**base, "m_ffn": 64}, "c")
    assert "k_gemv<128, 64, 32, false, 1, 1, 64, true, TILE, 0>" in c  # w_up at 64 MACs/cycle


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"quant": "fp16"}, "quant"),
        ({"quant": "w4a16"}, "quant"),
        ({"sparsity": "log"}, "sparsity"),
        ({"sparsity": "nm", "nm_m": 32, "density_ffn": 0.5}, "nm_m"),
        ({"weight_storage": "auto"}, "weight_storage"),
        ({"tp": 2}, "tp"),
        ({"kv_bits": 4}, "kv_bits"),
        ({"m_qkv": 0}, "m_qkv"),
        ({"fifo_depth": 1}, "fifo_depth"),
        ({"quant_group": 48}, "quant_group"),
        ({"dsp_pack": "yes"}, "dsp_pack"),
    ],
)
def test_unbuildable_points_are_refused_by_key(change: dict, key: str) -> None:
    with pytest.raises(SpatialError) as err:
        build_plan({**POINTS["c1-stream-dense-w4"], **change}, LLAMA)
    assert err.value.key == key and str(err.value).startswith(key + ": ")
    assert "\n" not in str(err.value)


def test_unbuildable_shapes_are_refused_by_key() -> None:
    three = dataclasses.replace(LLAMA, n_layers=3)
    with pytest.raises(SpatialError, match=r"^layers_per_fpga: must divide n_layers = 3"):
        build_plan({"layers_per_fpga": 2, "weight_storage": "onchip"}, three)
    bad = {
        "ffn": dataclasses.replace(LLAMA, causal=False),  # encoders are BERT-style (GELU)
        "n_experts": dataclasses.replace(LLAMA, n_experts=4),
        "window": dataclasses.replace(LLAMA, window=8),
    }
    for field, shape in bad.items():
        with pytest.raises(SpatialError) as err:
            build_plan({"weight_storage": "onchip"}, shape)
        assert err.value.key == field
