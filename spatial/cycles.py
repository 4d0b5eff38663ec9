"""Cycle estimate of the generated spatial top, from its plan and its loops.

Not a measurement: the schedule Vitis HLS would give the loops of templates/hls_spatial at
II = 1 with the plan's unroll factors, composed through the dataflow regions. Each kernel
is an event pair per tile of ``T`` tokens: ``first`` (its first output word) and ``last``
(its last). A GEMV reads its whole input tile before it computes (``first`` waits for its
producer's ``last``); norm, RoPE, activation and add stream (they start on their producer's
first word). Passes and tiles run one after another, as ``spatial_top`` calls them.
Weights are assumed on chip (a streamed row's load time is the memory's, which the cost
model prices; this estimate does not), and the KV buffers too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from overlay.reference import MAT_CLASS
from spatial.plan import SpatialPlan

Ev = tuple[float, float]  # (first output word, last output word)


@dataclass(frozen=True)
class Estimate:
    prefill: float  # cycles of the prompt, LM head of its last token included
    decode: float  # cycles of one decode step at the given KV length


def _gemv(plan: SpatialPlan, name: str, src: Ev, t: int) -> Ev:
    k = plan.kernel(name)
    group = plan.group or k.k
    nm = plan.prune[MAT_CLASS[name]] if k.sparse else None
    gs = group // nm[1] * nm[0] if nm else group
    compute = k.rows * t * (k.k // group) * math.ceil(gs / k.unroll)
    start = max(src[1], src[0] + t * k.k)  # the read loop: one word a cycle
    return start + compute, start + compute + t * k.rows


def _stream(src: Ev, t: int, n: int, lat: float = 1.0) -> Ev:
    """An element-wise kernel at one word a cycle."""
    return src[0] + lat, max(src[1] + lat, src[0] + t * n)


def _norm(src: Ev, t: int, d: int) -> Ev:
    # read D, sums D, outputs D, write D per token (the loops of k_norm / norm_vec)
    return src[0] + 3 * d, max(src[1] + 3 * d, src[0] + t * 4 * d)


def _attention(plan: SpatialPlan, src: Ev, t: int, pos0: int) -> Ev:
    m = plan.shape
    u = plan.kernel("attn").unroll
    read = m.d_q + 2 * m.d_kv

    def per_token(pos: int) -> float:
        n = pos + 1  # causal: attends to 0..pos
        head = n * math.ceil(m.head_dim / u) + 2 * n + n + m.head_dim * math.ceil(n / u)
        return read + m.n_heads * head

    total = sum(per_token(pos0 + i) for i in range(t))
    last_tok = per_token(pos0 + t - 1)
    return src[0] + per_token(pos0), max(src[1] + last_tok, src[0] + total)


def layer_events(plan: SpatialPlan, x: Ev, t: int, pos0: int) -> Ev:
    """Events of one layer's output stream for a tile of ``t`` tokens at ``pos0``."""
    m = plan.shape
    h = _norm(x, t, m.d_model)
    q = _gemv(plan, "wq", h, t)
    k = _gemv(plan, "wk", h, t)
    v = _gemv(plan, "wv", h, t)
    if not plan.gpt:
        q, k = _stream(q, t, m.d_q), _stream(k, t, m.d_kv)
    qkv = (max(q[0], k[0], v[0]), max(q[1], k[1], v[1]))
    ctx = _attention(plan, qkv, t, pos0)
    o = _gemv(plan, "wo", ctx, t)
    x1 = _stream(o, t, m.d_model)
    h2 = _norm(x1, t, m.d_model)
    up = _gemv(plan, "w_up", h2, t)
    if not plan.gpt:
        g = _gemv(plan, "w_gate", h2, t)
        up = (max(up[0], g[0]), max(up[1], g[1]))
    mid = _stream(up, t, m.d_ffn)
    down = _gemv(plan, "w_down", mid, t)
    return _stream(down, t, m.d_model)


def call_cycles(plan: SpatialPlan, n_tok: int, pos0: int) -> float:
    """Cycles of one ``spatial_top`` call: tiles x passes of dataflow regions + LM head."""
    m = plan.shape
    tile = min(plan.tile_tokens, plan.max_pos)
    total = 0.0
    for t0 in range(0, n_tok, tile):
        t = min(tile, n_tok - t0)
        total += t * m.d_model  # embedding
        for _ in range(plan.passes):
            ev: Ev = (1.0, t * m.d_model)  # feed
            for _ in range(plan.layers_built):
                ev = layer_events(plan, ev, t, pos0 + t0)
            total += ev[1] + 1  # drain ends one word after the last
    g = plan.group or m.d_model
    lm_cycles = m.vocab * (m.d_model // g) * math.ceil(g / plan.kernel("lm_head").unroll)
    return total + 2 * m.d_model + lm_cycles  # final norm (sums, outputs) + LM head


def estimate(plan: SpatialPlan, prompt_len: int, kv_len: int) -> Estimate:
    """Prefill of ``prompt_len`` tokens; a decode step that attends to ``kv_len + 1``."""
    return Estimate(call_cycles(plan, prompt_len, 0), call_cycles(plan, 1, kv_len))
