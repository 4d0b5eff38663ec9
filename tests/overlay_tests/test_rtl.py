"""The generated overlay in Verilator: bit-exact with the reference, and broken operators
are caught. Builds are cached per parameter set (overlay.sim.build)."""

from __future__ import annotations

import shutil
from functools import cache

import pytest

from overlay import sim
from overlay.flow import Prepared, default_prompt, prepare
from overlay.reference import run_reference
from tests.overlay_tests.cases import CASES, POINTS, SHAPES, residual_mismatches

pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)
N_NEW = 8  # tokens decoded after the prompt's prefill


@cache
def _prepared(
    family: str, point: str, prompt_len: int = 4
) -> tuple[Prepared, list[int], list[dict]]:
    shape = SHAPES[family]
    prep = prepare(shape, POINTS[point], prompt=default_prompt(shape, prompt_len))
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, N_NEW, traces)
    return prep, ref, traces


def _residual_mismatches(run: sim.SimRun, family: str, traces: list[dict]) -> list[int]:
    return residual_mismatches(run.xs, family, traces)


@pytest.mark.parametrize(("family", "point"), CASES)
def test_rtl_bit_exact(family: str, point: str) -> None:
    prep, ref, traces = _prepared(family, point)
    run = sim.simulate(prep.comp, prep.prompt, N_NEW)
    assert run.tokens == ref
    assert _residual_mismatches(run, family, traces) == []
    n_p = len(prep.prompt)
    assert len(run.step_cycles) == n_p + N_NEW - 1
    # batched prefill (tile_tokens 4 = the prompt): one chunk, its cycles on the last token
    assert prep.comp.prefill.slots == 4 and run.step_cycles[: n_p - 1] == [0] * (n_p - 1)
    assert all(c > 0 for c in run.step_cycles[n_p - 1 :])


@pytest.mark.parametrize("family", list(SHAPES))
def test_rtl_prefill_in_chunks_bit_exact(family: str) -> None:
    """A 6-token prompt on 4 token slots: a full chunk, then a partial one (body for 2),
    both on the weights streamed once per chunk; then 8 decode steps."""
    prep, ref, traces = _prepared(family, "nm-w4", 6)
    run = sim.simulate(prep.comp, prep.prompt, N_NEW)
    assert run.tokens == ref
    assert _residual_mismatches(run, family, traces) == []
    assert [c > 0 for c in run.step_cycles[:6]] == [False, False, False, True, False, True]


def test_mm_path_mutation_is_caught() -> None:
    """Every token of a chunk reading the first token's x breaks only the batched MV."""
    prep, _, traces = _prepared("llama-gqa", "nm-w4")
    run = sim.simulate(prep.comp, prep.prompt, N_NEW, mutation="mm_same_x")
    assert _residual_mismatches(run, "llama-gqa", traces)[:1] == [1]  # token 0 stays right


@pytest.mark.parametrize(
    ("mutation", "family"),
    [
        ("rope_sign", "llama-gqa"),
        ("drop_scale", "chatglm-mqa"),
        ("drop_beta", "gpt2"),
        ("softmax_no_max", "llama-gqa"),
        ("requant_floor", "gpt2"),
    ],
)
def test_broken_operator_is_caught(mutation: str, family: str) -> None:
    prep, _, traces = _prepared(family, "nm-w4")
    run = sim.simulate(prep.comp, prep.prompt, N_NEW, mutation=mutation)
    assert _residual_mismatches(run, family, traces) != []


def test_slower_memory_costs_cycles() -> None:
    """The memory model's bandwidth reaches the cycle count (weights stream every token)."""
    prep, ref, _ = _prepared("llama-gqa", "nm-w4")
    fast = sim.simulate(prep.comp, prep.prompt, 2)
    slow = sim.simulate(prep.comp, prep.prompt, 2, rates=dict.fromkeys(fast.port_bytes, 2.0))
    assert slow.tokens == fast.tokens == ref[:2]
    assert slow.step_cycles[-1] > fast.step_cycles[-1]


# Token lanes (mm_t): a DSP-packed W4 engine with 2 lanes, an N:M engine with 4 lanes whose
# 6-token prompt ends in a chunk of 2 (two lanes idle); each is one Verilator build.
MM_LANES = [("llama-gqa", "dense-w4-p64", 2, 4), ("gpt2", "nm-w4", 4, 6)]


@pytest.mark.parametrize(("family", "point", "mm_t", "prompt_len"), MM_LANES)
def test_rtl_mm_lanes_bit_exact_and_fewer_prefill_cycles(
    family: str, point: str, mm_t: int, prompt_len: int
) -> None:
    """mm_t token lanes apply each fetched weight tile to mm_t tokens a cycle: bit-exact
    prefill and decode, and the prefill takes fewer cycles than on one lane."""
    one, ref, traces = _prepared(family, point, prompt_len)
    shape = SHAPES[family]
    prep = prepare(shape, {**POINTS[point], "mm_t": mm_t}, prompt=default_prompt(shape, prompt_len))
    assert sim.verilator_params(prep.cfg, prep.comp)["MT"] == mm_t
    run = sim.simulate(prep.comp, prep.prompt, N_NEW)
    assert run.tokens == ref
    assert _residual_mismatches(run, family, traces) == []
    base = sim.simulate(one.comp, one.prompt, N_NEW)
    assert sum(run.step_cycles[:prompt_len]) < sum(base.step_cycles[:prompt_len])
    assert run.step_cycles[prompt_len:] == base.step_cycles[prompt_len:]  # decode: lane 0


def test_mm_lane_mutation_is_caught() -> None:
    """Lanes reading lane 0's x (the first token's) break every other token of a chunk."""
    shape = SHAPES["llama-gqa"]
    prep = prepare(shape, {**POINTS["dense-w4-p64"], "mm_t": 2}, prompt=default_prompt(shape))
    _, _, traces = _prepared("llama-gqa", "dense-w4-p64")
    run = sim.simulate(prep.comp, prep.prompt, N_NEW, mutation="mm_same_x")
    assert _residual_mismatches(run, "llama-gqa", traces)[:1] == [1]
