"""BERT-style encoders on the spatial family: the integer reference against the float
model, the HLS top (g++ C simulation) and the RTL (Verilator) bit-exact against it.

A tiny encoder (``spatial.plan.TINY_BERT``: bidirectional attention, learned positions,
post-LayerNorm, GELU) runs one pass over a 5-token prompt; the head's accumulators (final
norm + LM head on the first token) are compared exactly. C sim: the four shared points
(C = 1 and C = N, on chip and streamed, dense and N:M); RTL (weights on chip; streamed:
test_rtl_stream.py): four points over C, dense/N:M and tiles of 2, 3 and 64 tokens (a
partial last tile at 2 and 3).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from overlay.flow import default_prompt
from overlay.model import encode_float, make_float_model
from overlay.reference import QuantModel, logits_of, quantise_model, run_reference
from spatial.hls import build_csim, run_csim
from spatial.plan import TINY_BERT, SpatialPlan, build_plan
from spatial.rtl import simulate

from .cases import MAX_POS, POINTS, PROMPT_LEN

RTL_POINTS = {
    "c2-onchip-dense-w8": POINTS["c2-onchip-dense-w8"],
    "c1-onchip-nm-w4": POINTS["c1-onchip-nm-w4"],
    "c1-onchip-dense-w8-t2": {**POINTS["c2-onchip-dense-w8"], "layers_per_fpga": 1,
                              "tile_tokens": 2},
    "c2-onchip-nm-w8-t3": {**POINTS["c2-stream-nm-w8"], "weight_storage": "onchip",
                           "tile_tokens": 3, "m_attn": 3},
}  # fmt: skip
# The float model of the same (dequantised) weights: relative L2 distance of the logits.
MAX_REL_L2 = 0.10


def _setup(point: dict, seed: int = 11) -> tuple[SpatialPlan, QuantModel, list[int]]:
    plan = build_plan(point, TINY_BERT, max_pos=MAX_POS)
    prompt = default_prompt(TINY_BERT, PROMPT_LEN)
    qm = quantise_model(make_float_model(TINY_BERT, seed, MAX_POS), plan.quant_spec(), prompt)
    return plan, qm, prompt


@pytest.mark.parametrize("point_key", list(POINTS))
def test_encoder_reference_close_to_float(point_key: str) -> None:
    _, qm, prompt = _setup(POINTS[point_key])
    _, accs = run_reference(qm, prompt, 1)
    f = encode_float(qm.fm, prompt)
    rel = np.linalg.norm(logits_of(qm, accs[0]) - f) / np.linalg.norm(f)
    assert rel <= MAX_REL_L2, rel


def test_encoder_attends_to_later_tokens_and_generates_nothing() -> None:
    # bidirectional: the first token's output depends on the last token (a causal mask
    # would make it depend on the first alone), in integers and in floats
    _, qm, prompt = _setup(POINTS["c2-onchip-dense-w8"])
    other = [*prompt[:-1], (prompt[-1] + 1) % TINY_BERT.vocab]
    a = run_reference(qm, prompt, 1)[1][0]
    b = run_reference(qm, other, 1)[1][0]
    assert not np.array_equal(a, b)
    assert not np.allclose(encode_float(qm.fm, prompt), encode_float(qm.fm, other))
    with pytest.raises(ValueError, match="n_new must be 1"):
        run_reference(qm, prompt, 2)


def test_encoder_plan_holds_the_call_before_attention() -> None:
    plan, _, _ = _setup(POINTS["c2-stream-nm-w8"])
    depth = {f.name: f.depth for f in plan.fifos}
    assert plan.encoder and depth["x_skip1"] == MAX_POS * TINY_BERT.d_model
    assert depth["x_skip2"] < depth["x_skip1"]  # after attention tiles stream again


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
@pytest.mark.parametrize("point_key", list(POINTS))
def test_encoder_csim_bit_exact(point_key: str) -> None:
    plan, qm, prompt = _setup(POINTS[point_key])
    csim, words = build_csim(plan, qm)
    got = run_csim(csim, words, prompt, 1)
    _, want = run_reference(qm, prompt, 1)
    assert len(got) == 1 and np.array_equal(got[0], want[0])
    assert np.ptp(want[0]) > 0


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
@pytest.mark.parametrize("define", ["SPATIAL_BREAK_MASK", "SPATIAL_BREAK_POSTLN"])
def test_causal_mask_or_dropped_layernorm_is_caught(define: str) -> None:
    # the top built with a causal mask, or without the layer's last LayerNorm
    plan, qm, prompt = _setup(POINTS["c2-onchip-dense-w8"])
    csim, words = build_csim(plan, qm, defines=(define,))
    got = run_csim(csim, words, prompt, 1)
    _, want = run_reference(qm, prompt, 1)
    assert not np.array_equal(got[0], want[0])


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("point_key", list(RTL_POINTS))
def test_encoder_rtl_bit_exact(point_key: str) -> None:
    plan, qm, prompt = _setup(RTL_POINTS[point_key])
    run = simulate(plan, qm, prompt, 1)
    _, want = run_reference(qm, prompt, 1)
    assert len(run.accs) == 1 and np.array_equal(run.accs[0], want[0])
    assert run.cycles[0] > 0
