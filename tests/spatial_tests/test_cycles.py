"""The cycle estimate of the generated top follows its loops (spatial/cycles.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

import cost_models as cm
from overlay.flow import TINY_SHAPES
from spatial.cycles import call_cycles, estimate
from spatial.plan import TINY_BERT, build_plan

from .cases import POINTS, SHAPES

LLAMA = SHAPES["llama-gqa"]
BASE = {**POINTS["c2-onchip-dense-w8"], "m_attn": 4}


def test_decode_grows_by_one_attention_position_per_kv_entry() -> None:
    plan = build_plan(BASE, LLAMA, max_pos=32)
    m = LLAMA
    step = call_cycles(plan, 1, 11) - call_cycles(plan, 1, 10)
    # one more position: score ceil(hd/u), 3 softmax words, context hd/u... per head, per layer
    per_head = math.ceil(m.head_dim / 4) + 3 + m.head_dim * (math.ceil(12 / 4) - math.ceil(11 / 4))
    assert step == m.n_layers * m.n_heads * per_head


def test_wider_kernels_are_faster_and_prefill_costs_more_than_decode() -> None:
    slow = estimate(build_plan(BASE, LLAMA, max_pos=32), 8, 16)
    fast = estimate(build_plan({**BASE, "m_ffn": 64, "m_qkv": 32}, LLAMA, max_pos=32), 8, 16)
    assert fast.decode < slow.decode and fast.prefill < slow.prefill
    assert slow.prefill > 4 * slow.decode


def test_one_layer_twice_costs_what_two_layers_once_cost_plus_a_feed_and_drain() -> None:
    c1 = call_cycles(build_plan({**BASE, "layers_per_fpga": 1}, LLAMA, max_pos=32), 1, 5)
    c2 = call_cycles(build_plan({**BASE, "layers_per_fpga": 2}, LLAMA, max_pos=32), 1, 5)
    assert c1 > c2 and c1 - c2 <= 2 * LLAMA.d_model + 2


def test_smaller_tiles_pipeline_through_the_kernels() -> None:
    # All tokens in one tile: the GEMVs run one after another; tiles of 2 overlap them.
    one = estimate(build_plan({**BASE, "tile_tokens": 8}, LLAMA, max_pos=32), 8, 16)
    four = estimate(build_plan({**BASE, "tile_tokens": 2}, LLAMA, max_pos=32), 8, 16)
    assert four.prefill < 0.75 * one.prefill
    assert four.decode == one.decode


@pytest.mark.parametrize("shape_name", ["tiny-gpt2", "tiny-llama", "tiny-bert"])
@pytest.mark.parametrize("c, tile", [(1, 2), (2, 8)])
def test_the_cost_model_prices_the_generated_chain(shape_name: str, c: int, tile: int) -> None:
    """cost_models (arch spatial) and this estimate describe the same hardware: a decode
    token crosses the kernels one after another (not the slowest kernel alone) and prefill
    tiles follow one busiest kernel apart; both phases agree within 10 %."""
    pt = {
        "quant": "w8a8",
        "quant_group": 0,
        "m_qkv": 16,
        "m_attn": 8,
        "m_ffn": 32,
        "layers_per_fpga": c,
        "weight_storage": "onchip",
        "tile_tokens": tile,
        "fifo_depth": 32,
        "freq_mhz": 200.0,
    }
    shape = {**TINY_SHAPES, "tiny-bert": TINY_BERT}[shape_name]
    est = estimate(build_plan(pt, shape, max_pos=32), 8, 16)
    wl = cm.Workload(shape, batch=1, prompt_len=8, gen_len=32, kv_len_override=16)
    row = cm.evaluate(wl, "u280", pt, arch="spatial", baseline=None, detail=True).iloc[0]
    phases = (("prefill", est.prefill),) if not shape.causal else ()
    for phase, got in phases or (("prefill", est.prefill), ("decode", est.decode)):
        model = float(row[f"{phase}_latency_s"]) * 200e6
        assert model == pytest.approx(got, rel=0.10), phase


def test_an_encoder_pass_waits_for_the_whole_call_at_every_layer() -> None:
    """Bidirectional attention holds every tile until the call's last one has arrived, so
    small tiles pipeline less than in the causal twin; the model prices the same (an
    encoder run with the decoder's chain would be the causal twin's figure)."""
    twin = dataclasses.replace(TINY_BERT, causal=True)
    pt = {**BASE, "tile_tokens": 2, "freq_mhz": 200.0}
    enc = estimate(build_plan(pt, TINY_BERT, max_pos=32), 8, 16)
    dec = estimate(build_plan(pt, twin, max_pos=32), 8, 16)
    assert enc.prefill > 1.2 * dec.prefill and enc.decode == 0
    cycles = {}
    for shape in (TINY_BERT, twin):
        wl = cm.Workload(shape, batch=1, prompt_len=8, gen_len=32, kv_len_override=16)
        row = cm.evaluate(wl, "u280", pt, arch="spatial", baseline=None).iloc[0]
        cycles[shape.causal] = float(row["prefill_latency_s"]) * 200e6
    assert cycles[False] == pytest.approx(enc.prefill, rel=0.05)
    assert cycles[True] == pytest.approx(dec.prefill, rel=0.05)


def test_batched_encoder_sequences_attend_within_their_own() -> None:
    # attention-bound (m_attn = 1): two sequences cost about twice one, not the four times
    # that one sequence of twice the tokens would (attention grows with its square)
    pt = {**BASE, "m_attn": 1, "m_qkv": 64, "m_ffn": 128, "freq_mhz": 200.0}
    cycles = []
    for b in (1, 2):
        wl = cm.Workload(TINY_BERT, batch=b, prompt_len=16, gen_len=2)
        row = cm.evaluate(wl, "u280", pt, arch="spatial", baseline=None).iloc[0]
        cycles.append(float(row["prefill_latency_s"]) * 200e6)
    assert 1.5 * cycles[0] < cycles[1] < 2.2 * cycles[0]
