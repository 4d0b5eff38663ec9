"""``cost_models._overlay_program`` counts what ``overlay.compiler.compile_model`` emits:
scratchpad words, program length and the longest MV reduction, without compiling; and
rounds them to the template's SPAD/IMEM/XBUF as the sim rung sizes its own program."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cost_models._overlay_program import (
    fits,
    memory_words,
    point_words,
    pow2,
    program_sizes,
    shortfall,
)
from overlay.flow import TINY_SHAPES, prepare
from overlay.sim import max_reduction, verilator_params

# serial prefill; batched (unified, 2 and 4 slots, odd slot counts); a separate MM engine
POINTS = [
    {"prefill_serial": True},
    {"prefill_serial": False, "tile_tokens": 4, "mm_t": 2},
    {"prefill_serial": False, "tile_tokens": 3, "mm_t": 1},
    {"prefill_serial": False, "tile_tokens": 8, "mm_t": 4, "sparsity": "nm",
     "density_ffn": 0.5, "nm_m": 4},
    {"prefill_serial": False, "tile_tokens": 2, "mm_t": 1, "unified_engine": False,
     "mm_k": 16, "mm_n": 4},
]  # fmt: skip
# GQA with more heads, and max_pos above every layer width (the x buffer's longest is then
# the attention context)
WIDE = dataclasses.replace(
    TINY_SHAPES["tiny-llama"], name="wide", n_layers=3, n_heads=8, n_kv_heads=2, head_dim=8
)
SHAPES = [*TINY_SHAPES.values(), WIDE]


def _compiled(shape, point, max_pos):  # type: ignore[no-untyped-def]
    prep = prepare(shape, {"quant_group": 64, "mv_k": 8, "mv_n": 4, **point}, 0, max_pos)
    return prep.cfg, prep.comp


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("point", POINTS, ids=range(len(POINTS)))
def test_program_sizes_are_the_compilers(shape, point) -> None:  # type: ignore[no-untyped-def]
    for max_pos in (32, 300):
        cfg, comp = _compiled(shape, point, max_pos)
        got = program_sizes(shape, max_pos, cfg.prefill_tokens)
        want = {
            "scratch_words": comp.scratch_words,
            "program_len": len(comp.program),
            "max_reduction": max_reduction(comp),
        }
        assert {k: int(v) for k, v in got.items()} == want, (shape.name, max_pos)


def test_memory_words_are_the_sim_rungs_sizing_of_the_same_program() -> None:
    """At the sim rung's own model and positions, the study-side sizing gives the Verilator
    parameters the sim rung derives from the compiled program (one rule, two callers), as
    the powers of two the manifest takes (the sim rung's XBUF floor of 256 words a slot is
    768 with 3 slots: a template build gets 1024)."""
    for shape in TINY_SHAPES.values():
        for point in POINTS:
            cfg, comp = _compiled(shape, point, 32)
            sim = verilator_params(cfg, comp)
            got = memory_words(shape, 32, cfg.prefill_tokens)
            want = [int(pow2(sim[k], 1)) for k in ("SPAD", "IMEM", "XBUF")]
            assert [int(got[k]) for k in ("spad_words", "imem_words", "xbuf_words")] == want, (
                shape.name,
                point,
            )


def test_vectorised_over_points_and_shortfall_names_the_memory() -> None:
    shape = TINY_SHAPES["tiny-gpt2"]
    slots = np.array([1, 8, 4, 1])
    many = program_sizes(shape, 32, slots)
    for i, t in enumerate(slots):
        one = program_sizes(shape, 32, int(t))
        assert all(float(many[k][i]) == float(one[k]) for k in one)
    # every layer reuses one constants region: depth does not grow the scratchpad
    deep = dataclasses.replace(shape, n_layers=40)
    assert float(program_sizes(deep, 32, 1)["scratch_words"]) == float(one["scratch_words"])
    # design points (serial prefill: one slot) through the lookup point_words uses
    tile = np.array([8.0, 3.0, 128.0, 1.0, 4.0])
    serial = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    got = point_words({"prefill_serial": serial, "tile_tokens": tile}, shape, 32)
    want = memory_words(shape, 32, np.where(serial != 0, 1.0, tile))
    assert all(np.array_equal(got[k], want[k]) for k in want)
    big = dataclasses.replace(shape, d_ffn=36864)  # two d_ffn buffers of one token
    words = memory_words(big, 32, np.array([1]))
    assert not bool(fits(words)[0])
    assert shortfall(words).startswith("scratchpad words (SPAD) 131072 > 65536")
    assert fits(memory_words(shape, 32, np.array([1])))[0]
