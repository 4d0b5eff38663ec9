"""A separate MM engine (``unified_engine: false``) in Verilator: the batched prefill's
linear maps on an ``mm_n × mm_k`` array of another shape than the MV engine, reading the
image's MM-tiled weight copy; bit-exact with the reference for a 6-token prompt (chunks of
4 and 2) and 8 decode steps. One Verilator build per point."""

from __future__ import annotations

import shutil
from functools import cache

import pytest

from overlay import sim
from overlay.flow import Prepared, default_prompt, prepare
from overlay.isa import F_MM
from overlay.reference import run_reference
from tests.overlay_tests.cases import POINTS, SHAPES, residual_mismatches

pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)
N_NEW = 8
PROMPT = 6
SEP = {"unified_engine": False, "tile_tokens": 4}
# (family, base point, the MM engine): W8 16x4 with two token lanes beside an 8x8 MV; N:M
# W4 4x8 beside 8x4; DSP-packed W4 2x16 with four lanes beside 4x16 (64-bit ports, no
# overlap)
SEP_CASES = {
    "w8-mm16x4-mt2": ("llama-gqa", "dense-w8", {"mm_k": 16, "mm_n": 4, "mm_t": 2}),
    "nm-w4-mm4x8": ("gpt2", "nm-w4", {"mm_k": 4, "mm_n": 8}),
    "w4-mm16x2-mt4": ("chatglm-mqa", "dense-w4-p64", {"mm_k": 16, "mm_n": 2, "mm_t": 4}),
}


@cache
def _prepared(case: str) -> tuple[Prepared, list[int], list[dict]]:
    family, base, mm = SEP_CASES[case]
    shape = SHAPES[family]
    prep = prepare(shape, {**POINTS[base], **SEP, **mm}, prompt=default_prompt(shape, PROMPT))
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, N_NEW, traces)
    return prep, ref, traces


def _mismatches(run: sim.SimRun, case: str, traces: list[dict]) -> list[int]:
    return residual_mismatches(run.xs, SEP_CASES[case][0], traces)


@pytest.mark.parametrize("case", list(SEP_CASES))
def test_separate_mm_engine_bit_exact(case: str) -> None:
    prep, ref, traces = _prepared(case)
    params = sim.verilator_params(prep.cfg, prep.comp)
    _, _, mm = SEP_CASES[case]
    assert (params["SEP"], params["MM_K"], params["MM_N"]) == (1, mm["mm_k"], mm["mm_n"])
    assert params.get("MT", 1) == mm.get("mm_t", 1)
    # the prefill bodies' maps run on the MM engine and its own weight copy
    body = prep.comp.program[prep.comp.prefill.body[0] :]
    assert any(i.op == "MV" and i.flags & F_MM for i in body)
    assert "l0.wq.mm" in prep.comp.symbols
    run = sim.simulate(prep.comp, prep.prompt, N_NEW)
    assert run.tokens == ref
    assert _mismatches(run, case, traces) == []
    assert [c > 0 for c in run.step_cycles[:PROMPT]] == [False, False, False, True, False, True]


def test_decode_stays_on_the_mv_engine() -> None:
    """Decode runs on the same MV engine as the unified build of the N:M point: its cycles
    match up to the few the stream buffer shifts (it holds two MM tiles, 16 bytes more:
    the 8 rows' scales), while prefill runs on the other array."""
    prep, ref, _ = _prepared("nm-w4-mm4x8")
    shape = SHAPES["gpt2"]
    uni = prepare(shape, POINTS["nm-w4"], prompt=default_prompt(shape, PROMPT))
    a = sim.simulate(prep.comp, prep.prompt, N_NEW)
    b = sim.simulate(uni.comp, uni.prompt, N_NEW)
    assert a.tokens == b.tokens == ref
    dec = list(zip(a.step_cycles[PROMPT:], b.step_cycles[PROMPT:], strict=True))
    assert all(abs(x - y) <= 4 for x, y in dec), dec
    pre = sum(a.step_cycles[:PROMPT]), sum(b.step_cycles[:PROMPT])
    assert abs(pre[0] - pre[1]) > 100, pre


def test_mm_engine_mutation_is_caught() -> None:
    """The MM engine dropping its group scales (the MV engine keeps them) breaks the first
    prompt token's residual already: the prefill's maps ran on the separate engine."""
    prep, _, traces = _prepared("w4-mm16x2-mt4")
    run = sim.simulate(prep.comp, prep.prompt, N_NEW, mutation="mm_engine_scale")
    bad = _mismatches(run, "w4-mm16x2-mt4", traces)
    assert bad and min(bad) == 0
