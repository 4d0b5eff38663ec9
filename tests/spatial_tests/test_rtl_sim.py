"""The spatial RTL (spatial/rtl.py, templates/spatial_rtl) in Verilator is bit-exact with
overlay/reference.py: prefill of a 5-token prompt plus 8 greedy decode steps, LM-head
accumulators compared exactly, GPT-2-style and LLaMA-style (GQA, RoPE, SwiGLU) tiny models
at two points (C = N dense W8; C = 1 with N:M sparse W4 weights and group scales).
Simulators are cached by source hash (overlay.sim.verilate): a rerun only runs them.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from overlay.flow import default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model, run_reference
from spatial.plan import build_plan
from spatial.rtl import simulate

from .cases import MAX_POS, N_NEW, POINTS, PROMPT_LEN, SHAPES

RTL_POINTS = ("c2-onchip-dense-w8", "c1-onchip-nm-w4")


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("shape_key", list(SHAPES))
@pytest.mark.parametrize("point_key", RTL_POINTS)
def test_rtl_bit_exact_prefill_and_decode(shape_key: str, point_key: str) -> None:
    shape = SHAPES[shape_key]
    plan = build_plan(POINTS[point_key], shape, max_pos=MAX_POS)
    prompt = default_prompt(shape, PROMPT_LEN)
    qm = quantise_model(make_float_model(shape, 11, MAX_POS), plan.quant_spec(), prompt)
    run = simulate(plan, qm, prompt, N_NEW)
    _, want = run_reference(qm, prompt, N_NEW)
    assert len(run.accs) == N_NEW
    pairs = zip(run.accs, want, strict=True)
    assert [i for i, (g, w) in enumerate(pairs) if not np.array_equal(g, w)] == []
    # every call took cycles, the prompt more than a decode step
    assert run.cycles[0] > max(run.cycles[1:]) > 0
