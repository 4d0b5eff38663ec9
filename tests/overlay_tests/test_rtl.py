"""The generated overlay in Verilator: bit-exact with the reference, and broken operators
are caught. Builds are cached per parameter set (overlay.sim.build)."""

from __future__ import annotations

import shutil
from functools import cache

import numpy as np
import pytest

from overlay import sim
from overlay.flow import Prepared, prepare
from overlay.reference import run_reference
from tests.overlay_tests.cases import CASES, POINTS, SHAPES

pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)
N_NEW = 8  # tokens decoded after the prompt's prefill


@cache
def _prepared(family: str, point: str) -> tuple[Prepared, list[int], list[dict]]:
    prep = prepare(SHAPES[family], POINTS[point])
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, N_NEW, traces)
    return prep, ref, traces


def _residual_mismatches(run: sim.SimRun, family: str, traces: list[dict]) -> list[int]:
    last = f"l{SHAPES[family].n_layers - 1}.x"
    assert len(run.xs) == len(traces)
    return [
        i
        for i, (x, t) in enumerate(zip(run.xs, traces, strict=True))
        if not np.array_equal(x, t[last])
    ]


@pytest.mark.parametrize(("family", "point"), CASES)
def test_rtl_bit_exact(family: str, point: str) -> None:
    prep, ref, traces = _prepared(family, point)
    run = sim.simulate(prep.comp, prep.prompt, N_NEW)
    assert run.tokens == ref
    assert _residual_mismatches(run, family, traces) == []
    assert len(run.step_cycles) == len(prep.prompt) + N_NEW - 1
    assert all(c > 0 for c in run.step_cycles)


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
