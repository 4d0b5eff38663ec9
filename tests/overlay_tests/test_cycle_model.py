"""Properties of the overlay cycle model (the sim comparison is benchmarks/sim_vs_model.py)."""

from __future__ import annotations

from cost_models._overlay_cycles import OverlayMemory, prefill_cycles, run_cycles, step_cycles
from tests.overlay_tests.cases import POINTS, SHAPES

GROUPS = ("wqkv", "wo", "wffn", "kv", "act")


def _mem(rate: float, beat: int = 16, latency: int = 40) -> OverlayMemory:
    return OverlayMemory(latency, dict.fromkeys(GROUPS, rate), beat)


def test_overlap_hides_memory_latency() -> None:
    shape = SHAPES["llama-gqa"]
    on = {**POINTS["nm-w4"], "overlap": True}
    off = {**POINTS["nm-w4"], "overlap": False}
    assert (
        step_cycles(shape, off, 8, _mem(16))["total"]
        > 2 * step_cycles(shape, on, 8, _mem(16))["total"]
    )


def test_slower_memory_and_longer_kv_cost_cycles() -> None:
    shape, point = SHAPES["gpt2"], POINTS["dense-w8"]
    fast = step_cycles(shape, point, 8, _mem(16))
    slow = step_cycles(shape, point, 8, _mem(2))
    assert slow["wffn"] > 4 * fast["wffn"]
    assert step_cycles(shape, point, 30, _mem(16))["attention"] > fast["attention"]


def test_sparse_weights_stream_fewer_cycles_when_memory_bound() -> None:
    shape = SHAPES["gpt2"]
    dense = {**POINTS["log-w4-p256"], "sparsity": "none"}
    sparse = POINTS["log-w4-p256"]
    mem = _mem(2, beat=32)
    assert step_cycles(shape, sparse, 8, mem)["wffn"] < step_cycles(shape, dense, 8, mem)["wffn"]


def test_serial_prefill_is_the_prompt_token_by_token_and_batching_is_cheaper() -> None:
    shape = SHAPES["chatglm-mqa"]
    point = {**POINTS["dense-w8"], "prefill_serial": True}
    pre, dec = run_cycles(shape, point, 4, 3, _mem(16))
    steps = [step_cycles(shape, point, t, _mem(16))["total"] for t in (1, 2, 3, 4)]
    assert pre == sum(steps)
    assert len(dec) == 2 and dec[0] == step_cycles(shape, point, 5, _mem(16))["total"]
    # Batched prefill (the default) fetches each weight tile once for the chunk's tokens.
    batched, dec_b = run_cycles(shape, POINTS["dense-w8"], 4, 3, _mem(16))
    assert batched < pre and dec_b == dec


def test_token_lanes_cut_the_prefill_chunks_not_the_write_back_or_decode() -> None:
    """mm_t lanes apply a popped tile to mm_t tokens a cycle: a compute-bound prefill's
    chunk cycles fall by about mm_t (each token still writes back its own rows), and decode
    (one token: lane 0) is unchanged."""
    shape, mem = SHAPES["gpt2"], _mem(64, beat=64)  # a tile a cycle: compute binds
    point = {**POINTS["dense-w8"], "tile_tokens": 4}
    pre = {t: run_cycles(shape, {**point, "mm_t": t}, 4, 3, mem) for t in (1, 2, 4)}
    assert pre[4][0] < pre[2][0] < pre[1][0]
    assert pre[4][1] == pre[2][1] == pre[1][1]
    # the gpt2 FFN down matrix (N 64, K 256 on 8x8): 8 tiles of 32 chunks per group of lanes
    mats = {t: prefill_cycles(shape, {**point, "mm_t": t}, 4, mem)["wffn"] for t in (1, 4)}
    assert mats[1] - mats[4] >= shape.n_layers * 8 * 32 * 3


def test_separate_mm_engine_runs_the_prefill_maps_on_its_own_array() -> None:
    """unified_engine false: the batched prefill's maps are timed on the mm_n × mm_k tiles
    (a compute-bound prefill on a 4x larger array takes fewer cycles), decode on the MV
    engine (unchanged); an MM array of the MV array's shape times as the unified engine."""
    shape, mem = SHAPES["llama-gqa"], _mem(64, beat=64)
    point = {**POINTS["dense-w8"], "tile_tokens": 4}
    uni = run_cycles(shape, point, 4, 3, mem)
    same = run_cycles(shape, {**point, "unified_engine": False}, 4, 3, mem)
    big = run_cycles(shape, {**point, "unified_engine": False, "mm_k": 16, "mm_n": 16}, 4, 3, mem)
    assert same == uni
    assert big[0] < uni[0] and big[1] == uni[1]
    mats = prefill_cycles(shape, {**point, "unified_engine": False, "mm_k": 16, "mm_n": 16}, 4, mem)
    assert mats["wffn"] < prefill_cycles(shape, point, 4, mem)["wffn"] / 2


def test_temporal_model_stores_the_separate_engines_weight_copy() -> None:
    """A separate MM engine reads its own MM-tiled copy of every layer matrix: the weight
    image doubles (the LM head, MV only, stays single); serial prefill builds no MM engine
    (the overlay refuses that point) and traffic per decoded token is unchanged."""
    import cost_models as cm

    base = {"quant": "w4a8", "mm_k": 16, "mm_n": 32, "mv_k": 16, "mv_n": 32, "tile_tokens": 8}
    pts = [
        {**base, "unified_engine": True},
        {**base, "unified_engine": False},
        {**base, "unified_engine": False, "prefill_serial": True},
    ]
    rows = cm.evaluate("llama-2-7b", "u280", pts, arch="temporal", detail=True)
    uni, sep, ser = (rows.iloc[i] for i in range(3))
    assert sep.group_bytes_wqkv == 2 * uni.group_bytes_wqkv
    assert sep.group_bytes_wo == 2 * uni.group_bytes_wo
    assert uni.group_bytes_wffn < sep.group_bytes_wffn < 2 * uni.group_bytes_wffn  # LM head once
    assert ser.group_bytes_wqkv == uni.group_bytes_wqkv
    assert sep.decode_bytes_per_token == uni.decode_bytes_per_token


def test_a_port_takes_at_most_a_beat_a_cycle() -> None:
    """A group has one AXI master (templates/overlay): channels that could deliver more
    than a beat a cycle stream no faster than one beat a cycle, overlapped or not."""
    shape = SHAPES["gpt2"]
    for overlap in (True, False):
        point = {**POINTS["dense-w8"], "overlap": overlap}
        at_beat = step_cycles(shape, point, 8, _mem(16))
        assert step_cycles(shape, point, 8, _mem(64)) == at_beat
        assert step_cycles(shape, point, 8, _mem(8))["total"] > at_beat["total"]
    batched = {**POINTS["dense-w8"], "tile_tokens": 4}
    assert prefill_cycles(shape, batched, 4, _mem(64)) == prefill_cycles(
        shape, batched, 4, _mem(16)
    )
