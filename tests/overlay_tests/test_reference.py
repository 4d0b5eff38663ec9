"""The integer reference against the float model, and the compiled program against both."""

from __future__ import annotations

import numpy as np
import pytest

from overlay.compiler import run_program
from overlay.config import OverlayError, overlay_config
from overlay.flow import default_prompt, prepare
from overlay.model import generate_float
from overlay.reference import logits_of, run_reference
from tests.overlay_tests.cases import CASES, POINTS, SHAPES

# Numerical meaningfulness: per decode step, relative L2 distance between the logits the
# integer model's accumulators stand for and the float model's (same dequantised weights,
# teacher-forced on the integer model's tokens); and agreement of their top-1 tokens.
MEAN_REL_L2 = 0.10
MAX_REL_L2 = 0.30
MIN_TOP1 = 0.75


@pytest.mark.parametrize(("family", "point"), CASES)
def test_reference_close_to_float(family: str, point: str) -> None:
    prep = prepare(SHAPES[family], POINTS[point])
    toks, accs = run_reference(prep.qm, prep.prompt, 8)
    _, flog = generate_float(prep.qm.fm, prep.prompt, 8, forced=toks)
    rel = [
        np.linalg.norm(logits_of(prep.qm, a) - f) / np.linalg.norm(f)
        for a, f in zip(accs, flog, strict=True)
    ]
    top1 = np.mean([int(np.argmax(f)) == t for f, t in zip(flog, toks, strict=True)])
    assert float(np.mean(rel)) <= MEAN_REL_L2, rel
    assert max(rel) <= MAX_REL_L2, rel
    assert top1 >= MIN_TOP1


@pytest.mark.parametrize(("family", "point"), CASES)
def test_program_matches_reference(family: str, point: str) -> None:
    prep = prepare(SHAPES[family], POINTS[point])
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, 8, traces)
    xs: list[np.ndarray] = []
    assert run_program(prep.comp, prep.prompt, 8, xs) == ref
    last = f"l{SHAPES[family].n_layers - 1}.x"
    for step, (got, t) in enumerate(zip(xs, traces, strict=True)):
        assert np.array_equal(got, t[last]), f"residual differs at token {step}"


@pytest.mark.parametrize(
    ("family", "change", "prompt_len"),
    [
        ("gpt2", {"prefill_serial": True}, 4),
        ("llama-gqa", {"tile_tokens": 3}, 7),
        ("chatglm-mqa", {"tile_tokens": 8}, 5),
    ],
)
def test_prefill_modes_match_reference(family: str, change: dict, prompt_len: int) -> None:
    """Serial prefill, and batched prefill in full and partial chunks, decode the
    reference's tokens with its residual streams (ISA executor)."""
    shape = SHAPES[family]
    prep = prepare(shape, {**POINTS["nm-w4"], **change}, prompt=default_prompt(shape, prompt_len))
    assert prep.comp.prefill.slots == (1 if change.get("prefill_serial") else change["tile_tokens"])
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, 8, traces)
    xs: list[np.ndarray] = []
    assert run_program(prep.comp, prep.prompt, 8, xs) == ref
    last = f"l{shape.n_layers - 1}.x"
    assert all(np.array_equal(x, t[last]) for x, t in zip(xs, traces, strict=True))


@pytest.mark.parametrize("region", ["l0.wq", "l1.w_down", "l0.n1", "l0.n2", "l1.exp"])
def test_corrupted_image_is_caught(region: str) -> None:
    prep = prepare(SHAPES["llama-gqa"], POINTS["dense-w4-p64"])
    traces: list[dict] = []
    run_reference(prep.qm, prep.prompt, 8, traces)
    r = prep.comp.symbols[region]
    prep.comp.mem[r.port][r.addr : r.addr + r.size] = bytes(r.size)  # zero the region
    xs: list[np.ndarray] = []
    run_program(prep.comp, prep.prompt, 8, xs)
    assert any(not np.array_equal(x, t["l1.x"]) for x, t in zip(xs, traces, strict=True))


def test_sparse_storage_matches_cost_model_bits() -> None:
    """Stored bytes of a sparse matrix = kept × (w_bits + index bits) + 16 bits per group,
    the bits the cost model charges."""
    prep = prepare(SHAPES["gpt2"], POINTS["log-w4-p256"])
    shape = SHAPES["gpt2"]
    up = prep.comp.symbols["l0.w_up"]
    kept = shape.d_ffn * shape.d_model // 4  # density 1/4: 2 of every 8
    groups = shape.d_ffn * shape.d_model // 64
    assert up.size == kept * (4 + 3) // 8 + 2 * groups


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"quant": "w4a16"}, "quant"),
        ({"quant": "fp16"}, "quant"),
        ({"mv_k": 0}, "mv_k"),
        ({"mv_n": 1000}, "mv_n"),
        ({"axi_port_bits": 96}, "axi_port_bits"),
        ({"sparsity": "nm", "nm_m": 32, "density_ffn": 0.5}, "nm_m"),
        ({"tp": 2}, "tp"),
        ({"kv_bits": 4}, "kv_bits"),
        ({"unified_engine": False, "prefill_serial": True}, "unified_engine"),  # no MM work
        ({"unified_engine": False, "mm_k": 3, "mm_n": 3}, "mm_k"),  # tiles are whole bytes
        ({"unified_engine": False, "mm_n": 128}, "mm_n"),
        ({"mm_t": 3}, "mm_t"),  # token lanes: 1, 2 or 4, dividing tile_tokens
        ({"mm_t": 8, "tile_tokens": 8}, "mm_t"),
        ({"mm_t": 4, "tile_tokens": 6}, "mm_t"),
        ({"mm_k": 16}, "mm_k"),
        ({"mm_n": 4}, "mm_n"),
        ({"tile_tokens": 9}, "tile_tokens"),
        ({"group_ports": "channel"}, "group_ports"),  # one AXI master per tensor group
    ],
)
def test_unbuildable_point_names_key(change: dict, key: str) -> None:
    with pytest.raises(OverlayError) as err:
        overlay_config({**POINTS["dense-w8"], **change})
    assert err.value.key == key
    assert str(err.value).startswith(f"{key}: ")


def test_token_lanes_are_built_for_batched_prefill_only() -> None:
    lanes = overlay_config({**POINTS["dense-w8"], "mm_t": 4, "tile_tokens": 8})
    assert (lanes.mm_t, lanes.prefill_tokens) == (4, 8)
    serial = overlay_config({**POINTS["dense-w8"], "mm_t": 4, "prefill_serial": True})
    assert (serial.mm_t, serial.prefill_tokens) == (1, 1)


def test_token_lanes_change_the_engine_not_the_program() -> None:
    """mm_t is hardware only: the same program and image, so the ISA executor's batched MV
    (and the reference it matches) is what every lane count computes."""
    shape = SHAPES["llama-gqa"]
    one, four = (prepare(shape, {**POINTS["nm-w4"], "mm_t": t}) for t in (1, 4))
    assert one.comp.words() == four.comp.words() and one.comp.mem == four.comp.mem
    ref, _ = run_reference(four.qm, four.prompt, 4)
    assert run_program(four.comp, four.prompt, 4) == ref


def test_unsupported_shape_names_field() -> None:
    shape = SHAPES["gpt2"]
    with pytest.raises(OverlayError, match="quant_group"):
        prepare(shape, {**POINTS["dense-w4-p64"], "quant_group": 48})
