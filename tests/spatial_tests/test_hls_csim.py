"""The spatial HLS top in g++ C simulation is bit-exact with overlay/reference.py.

Prefill of a 5-token prompt plus 8 greedy decode steps, LM-head accumulators compared
exactly, for GPT-2-style and LLaMA-style (GQA, RoPE, SwiGLU) tiny models at 4 points each.
Binaries are cached by source hash (spatial/hls.py), so a rerun only runs them.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from overlay.flow import default_prompt
from overlay.model import make_float_model
from overlay.reference import QuantModel, quantise_model, run_reference
from spatial.hls import build_csim, run_csim
from spatial.plan import SpatialPlan, build_plan

from .cases import CASES, MAX_POS, N_NEW, POINTS, PROMPT_LEN, SHAPES

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


def _setup(shape_key: str, point_key: str) -> tuple[SpatialPlan, QuantModel, list[int]]:
    shape = SHAPES[shape_key]
    plan = build_plan(POINTS[point_key], shape, max_pos=MAX_POS)
    prompt = default_prompt(shape, PROMPT_LEN)
    qm = quantise_model(
        make_float_model(shape, seed=11, max_pos=MAX_POS), plan.quant_spec(), prompt
    )
    return plan, qm, prompt


def _first_mismatch(got: list[np.ndarray], want: list[np.ndarray]) -> int | None:
    assert len(got) == len(want) == N_NEW
    return next(
        (i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not np.array_equal(g, w)),
        None,
    )


@pytest.mark.parametrize(("shape_key", "point_key"), CASES)
def test_csim_bit_exact_prefill_and_decode(shape_key: str, point_key: str) -> None:
    plan, qm, prompt = _setup(shape_key, point_key)
    csim, words = build_csim(plan, qm)
    got = run_csim(csim, words, prompt, N_NEW)
    _, want = run_reference(qm, prompt, N_NEW)
    assert _first_mismatch(got, want) is None
    # Not a degenerate model: the logits differ between steps.
    assert len({int(np.argmax(a)) for a in want}) > 1 or np.ptp(want[0]) > 0


def test_sparse_points_store_compressed_weights() -> None:
    plan, _, _ = _setup("llama-gqa", "c1-onchip-nm-w4")
    assert plan.kernel("w_down").sparse and plan.kernel("wq").sparse
    assert not plan.kernel("wv").sparse  # density_vo = 1: stored dense


@pytest.mark.parametrize(
    ("define", "point"),
    [
        ("SPATIAL_BREAK_ROPE", "c2-onchip-dense-w8"),
        ("SPATIAL_BREAK_SCALE", "c1-stream-dense-w4"),
        ("SPATIAL_BREAK_SPARSE", "c1-onchip-nm-w4"),
    ],
)
def test_a_broken_operator_is_caught(define: str, point: str) -> None:
    plan, qm, prompt = _setup("llama-gqa", point)
    csim, words = build_csim(plan, qm, defines=(define,))
    got = run_csim(csim, words, prompt, N_NEW)
    _, want = run_reference(qm, prompt, N_NEW)
    assert _first_mismatch(got, want) == 0
