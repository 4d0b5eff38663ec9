"""What the overlay's program needs of the accelerator's memories, for a workload's model.

``overlay/compiler.py`` lays a model out in the scratchpad (one layer's norm parameters and
LUTs, which every layer loads into the same region at its start; the buffers of one token;
with batched prefill the buffers of ``tile_tokens`` tokens too) and emits a program whose
length grows with layers, heads and prefill slots. ``program_sizes`` counts both without
compiling (no weights), vectorised over design points;
``tests/overlay_tests/test_overlay_program.py`` checks it against ``compile_model``.
``memory_words`` rounds them to the template's SPAD, IMEM and XBUF (powers of two, at the
sim rung's floors), so a build and the resource model describe an accelerator that holds the
program of the study's workload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cost_models._overlay_cycles import LUT_ENTRIES
from cost_models._shape import ModelShape

Array = np.ndarray
# The manifest's largest SPAD, IMEM and XBUF (templates/overlay/manifest.yaml).
TEMPLATE_MAX = {"spad_words": 65536, "imem_words": 65536, "xbuf_words": 65536}
# overlay/sim.py's floors: SPAD 64 words, IMEM 256 entries, XBUF 256 words a prefill slot.
SPAD_FLOOR, IMEM_FLOOR, XBUF_FLOOR = 64, 256, 256
WHAT = {
    "spad_words": "scratchpad words (SPAD)",
    "imem_words": "instruction memory entries (IMEM)",
    "xbuf_words": "x-buffer words (XBUF)",
}


def study_max_pos(shape: ModelShape, prompt_len: int, gen_len: int) -> int:
    """Positions the KV region holds for a study: prompt and generated tokens, at most the
    model's (as ``dse.buildspec.workload_context`` gives a generated template)."""
    return int(min(prompt_len + gen_len, shape.max_positions or 1 << 30))


def program_sizes(shape: ModelShape, max_pos: int, slots: Any) -> dict[str, Array]:
    """``scratch_words``, ``program_len`` and ``max_reduction`` (longest MV reduction) of the
    program ``compile_model`` emits for ``shape`` with ``max_pos`` KV positions and
    ``slots`` prefill token slots (1: serial prefill; array over design points)."""
    t = np.asarray(slots, dtype=float)
    gpt = shape.ffn == "gelu"
    d, dq, dkv, dff = shape.d_model, shape.d_q, shape.d_kv, shape.d_ffn
    half = shape.head_dim // 2
    n_l, nh, nkv = shape.n_layers, shape.n_heads, shape.n_kv_heads
    # one norm's gain and beta (d each) with the activation LUT, the exp LUT (256 each):
    # every layer and the final norm load theirs into the same region before use
    consts = 2 * d + 2 * LUT_ENTRIES

    def buffers(n: Array) -> Array:  # compile_model's buffers(n): n tokens' slots
        return n * (3 * d + 2 * dq + 2 * dkv + 2 * dff + 2 * half) + 2 * max_pos

    batched = t > 1
    scratch = consts + buffers(np.ones_like(t)) + np.where(batched, buffers(t), 0.0)

    def layers(n: Array) -> Array:  # instructions of layers(b, n): every layer, n tokens
        per_token = (n > 1) + (0 if gpt else 2) + 2 * nkv + 3 * nh
        return n_l * (3 + 2 * n + 8 + (1 if gpt else 3) + n * per_token)  # 3: its LOADs

    embed = 3 if gpt else 1  # LOADX (+ LOAD of the position row and ADD)
    rope = 0 if gpt else 2  # the RoPE tables' two LOADs
    init = 1  # END: nothing is loaded at init
    head = 3  # the final norm's LOAD, the norm, the LM head
    step = embed + rope + layers(np.ones_like(t)) + head + 1  # and END
    # batched prefill: per slot an embedding entry and an LM-head entry (each with END);
    # per chunk size T = 1..slots a body: RoPE tables (SETPOS + 2 LOADs a token), layers, END
    tt = np.arange(1, int(np.max(t, initial=1)) + 1, dtype=float)
    upto = np.cumsum((0 if gpt else 3) * tt + layers(tt) + 1)  # bodies T = 1..k, k = index + 1
    idx = np.clip(t.astype(int) - 1, 0, len(tt) - 1)
    prefill = np.where(batched, t * (embed + 1) + upto[idx] + t * (head + 1), 0.0)
    reduction = max(d, dq, dff, shape.head_dim, max_pos)
    return {
        "scratch_words": scratch,
        "program_len": init + step + prefill,
        "max_reduction": np.full_like(t, float(reduction)),
    }


def pow2(n: Any, floor: Any) -> Array:
    """The least power of two at least ``n`` and ``floor`` (the manifest takes powers of two
    only: with 3, 5, 6 or 7 slots the sim rung's ``256 × TT`` floor is rounded up too)."""
    n = np.maximum(np.maximum(np.asarray(n, dtype=float), np.asarray(floor, dtype=float)), 1.0)
    return np.exp2(np.ceil(np.log2(n)))


def memory_words(shape: ModelShape, max_pos: int, slots: Any) -> dict[str, Array]:
    """The template's ``spad_words``, ``imem_words`` and ``xbuf_words`` that hold the program
    of ``program_sizes`` (powers of two, as the manifest requires; each slot holds its own x
    vector). Values above ``TEMPLATE_MAX`` are kept: ``shortfall`` names them."""
    t = np.asarray(slots, dtype=float)
    need = program_sizes(shape, max_pos, t)
    return {
        "spad_words": pow2(need["scratch_words"], SPAD_FLOOR),
        "imem_words": pow2(need["program_len"], IMEM_FLOOR),
        "xbuf_words": pow2(need["max_reduction"] * t, XBUF_FLOOR * t),
    }


def point_words(p: Mapping[str, Any], shape: ModelShape, max_pos: int) -> dict[str, Array]:
    """``memory_words`` at design points ``p`` (arrays or scalars): the compiler's prefill
    slots are 1 with ``prefill_serial``, else ``tile_tokens`` (``overlay/config.py``)."""
    serial = np.asarray(p.get("prefill_serial", 0)) != 0
    slots = np.where(serial, 1.0, np.asarray(p.get("tile_tokens", 1), dtype=float))
    idx = slots.astype(np.intp)
    if slots.ndim == 0 or np.any(idx != slots) or np.any(idx < 1):
        return memory_words(shape, max_pos, slots)
    # a search chunk holds few distinct slot counts: size 1..max once, then look them up
    table = memory_words(shape, max_pos, np.arange(1, int(idx.max()) + 1))
    return {k: v[idx - 1] for k, v in table.items()}


def fits(words: dict[str, Any]) -> Array:
    """Points whose memories the template can build (each at most ``TEMPLATE_MAX``)."""
    ok = np.asarray(True)
    for key, most in TEMPLATE_MAX.items():
        ok = ok & (np.asarray(words[key]) <= most)
    return ok


def shortfall(words: dict[str, Any]) -> str:
    """What one point's memories need beyond the template ("" if nothing)."""
    over = [
        f"{WHAT[k]} {int(np.max(words[k]))} > {most}"
        for k, most in TEMPLATE_MAX.items()
        if np.max(words[k]) > most
    ]
    return "; ".join(over)
