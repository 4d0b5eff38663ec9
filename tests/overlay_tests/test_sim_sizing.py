"""The sim rung sizes its hardware from the program and picks settings the tiny model can
take: the scratchpad is the compiled program's need (not a 4096-word floor), and a point
without ``quant_group`` gets one that divides the simulated model's reductions."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from overlay.config import OverlayError
from overlay.flow import TINY_SHAPES, prepare
from overlay.reference import run_reference
from overlay.sim import simulate, verilator_params
from overlay.simflow import SIM_GROUP, write_bundle

# One layer of width 32 with serial prefill: its program needs ~1.1k scratchpad words.
MINI = dataclasses.replace(
    TINY_SHAPES["tiny-llama"], name="mini", d_model=32, n_layers=1, n_heads=2, n_kv_heads=1,
    head_dim=16, d_ffn=64, vocab=64,
)  # fmt: skip
POINT = {"quant_group": 32, "mv_k": 8, "mm_k": 8, "mv_n": 2, "sfu_lanes": 1}
POINT |= {"prefill_serial": True}


def test_scratchpad_is_the_programs_need() -> None:
    prep = prepare(MINI, POINT, 0, 8)
    words = prep.comp.scratch_words
    spad = verilator_params(prep.cfg, prep.comp)["SPAD"]
    assert words <= spad < 2 * words and spad & (spad - 1) == 0
    assert spad < 4096


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_a_small_scratchpad_still_decodes_the_reference_tokens() -> None:
    prep = prepare(MINI, POINT, 0, 8)
    prompt = [3, 17, 40]
    run = simulate(prep.comp, prompt, 4)
    assert run.tokens == run_reference(prep.qm, prompt, 4)[0]


def test_sim_point_without_quant_group_fits_the_tiny_model(tmp_path: Path) -> None:
    write_bundle(tmp_path, {})  # the cost model's 128 would not divide d_model 64
    assert SIM_GROUP and all(
        s.d_model % SIM_GROUP == 0 and s.d_ffn % SIM_GROUP == 0 for s in TINY_SHAPES.values()
    )


def test_a_group_the_tiny_model_cannot_take_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(OverlayError) as got:
        write_bundle(tmp_path, {"quant_group": 128, "sim_model": "tiny-gpt2"})
    assert got.value.key == "quant_group"
    assert "tiny-gpt2" in str(got.value) and "d_model 64" in str(got.value)
