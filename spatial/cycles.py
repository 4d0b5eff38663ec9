"""Cycle estimate of the generated spatial top, from its plan and its loops.

Not a measurement: the schedule Vitis HLS would give the loops of templates/hls_spatial at
II = 1 with the plan's unroll factors, composed through the dataflow regions. Each kernel
is an event pair per tile of ``T`` tokens: ``first`` (its first output word) and ``last``
(its last). A GEMV reads its whole input tile before it computes (``first`` waits for its
producer's ``last``), except a decode token's GEMV with ``block_in``, which computes block
by block as its producer's words arrive; for one token, rows leave as they are done. Norm,
RoPE, activation and add stream (they start on their producer's first word). A kernel
takes tile i + 1 once it is done with tile i, so tiles pipeline through a pass; passes run
one after another, as ``spatial_top`` calls them. An encoder's layer (post-LN) takes every
tile through its fork and q/k/v GEMVs before its attention computes (each token attends to
all), then the tiles go on through the rest of the layer.
Weights are assumed on chip (a streamed row's load time is the memory's, which the cost
model prices; this estimate does not), and the KV buffers too. A GEMV the RTL packs
(``row_pack``, the point's ``dsp_pack``) issues its rows in pairs at half the lanes, as the
RTL does; the HLS loops do not pair rows, and the two differ only where half the unroll
does not divide a scale group (and by a cycle at the end of a lone token's rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from overlay.reference import MAT_CLASS
from spatial.plan import SpatialPlan
from spatial.rtl import Gemv, gemvs

Ev = tuple[float, float]  # (first output word, last output word)


@dataclass(frozen=True)
class Estimate:
    prefill: float  # cycles of the prompt, LM head of its last token included
    decode: float  # cycles of one decode step at the given KV length


class _Schedule:
    """Kernel events tile by tile: a kernel starts tile i once it has finished tile i - 1
    (``free``, keyed by layer instance and kernel) and its input allows."""

    def __init__(self, plan: SpatialPlan, gemv_kernels: dict[str, Gemv]) -> None:
        self.plan = plan
        self.gemvs = gemv_kernels  # as the RTL builds them (lanes, chunks, packing)
        self.free: dict[str, float] = {}

    def _at(self, key: str, src: Ev) -> Ev:
        return max(src[0], self.free.get(key, 0.0)), src[1]

    def _done(self, key: str, ev: Ev) -> Ev:
        self.free[key] = ev[1]
        return ev

    def gemv(self, key: str, name: str, src: Ev, t: int) -> Ev:
        k = self.plan.kernel(name)
        nm = self.plan.prune[MAT_CLASS[name]] if k.sparse else None
        first, last = self._at(key, src)
        if t == 1 and k.block_in:  # blocks as they arrive, UNROLL MACs a cycle across rows
            chs = k.block_in // nm[1] * nm[0] if nm else k.block_in
            per_block = math.ceil(k.rows * chs / k.unroll)
            n_blocks = k.k // k.block_in
            done = first
            for b in range(n_blocks):  # the producer's words arrive evenly in [first, last]
                arrive = first + (last - first) * (b + 1) / n_blocks
                done = max(done, arrive) + per_block
            return self._done(key, (done + 1, done + k.rows))
        # a row's (packed: a pair's) groups one after another, NCH chunks each
        g = self.gemvs[name]
        per_issue = g.ng * g.nch
        compute = t * g.issue_rows * per_issue
        start = max(last, first + t * k.k)  # the read loop: one word a cycle
        if t == 1:  # each row leaves as it is done
            return self._done(key, (start + per_issue, start + compute + 1 + g.pack))
        return self._done(key, (start + compute, start + compute + t * k.rows))

    def stream(self, key: str, src: Ev, t: int, n: int) -> Ev:
        """An element-wise kernel at one word a cycle."""
        first, last = self._at(key, src)
        return self._done(key, (first + 1, max(last + 1, first + t * n)))

    def norm(self, key: str, src: Ev, t: int, d: int) -> Ev:
        # read D, sums D, outputs D, write D per token (the loops of k_norm / norm_vec)
        first, last = self._at(key, src)
        return self._done(key, (first + 3 * d, max(last + 3 * d, first + t * 4 * d)))

    def attention(self, key: str, src: Ev, t: int, pos0: int) -> Ev:
        m = self.plan.shape
        u = self.plan.kernel("attn").unroll
        read = m.d_q + 2 * m.d_kv

        def per_token(pos: int) -> float:
            n = pos + 1  # causal: attends to 0..pos
            head = n * math.ceil(m.head_dim / u) + 2 * n + n + m.head_dim * math.ceil(n / u)
            return read + m.n_heads * head

        first, last = self._at(key, src)
        total = sum(per_token(pos0 + i) for i in range(t))
        ev = (first + per_token(pos0), max(last + per_token(pos0 + t - 1), first + total))
        return self._done(key, ev)

    def encoder_layer(self, c: int, xs: list[Ev], ts: list[int]) -> list[Ev]:
        """Events of built encoder layer ``c``'s output for every tile of the call."""
        m, d = self.plan.shape, self.plan.shape.d_model
        p = f"{c}."
        front = []
        for x, t in zip(xs, ts, strict=True):
            h = self.stream(p + "fork", x, t, d)
            evs = [self.gemv(p + n, n, h, t) for n in ("wq", "wk", "wv")]
            front.append((max(e[0] for e in evs), max(e[1] for e in evs)))
        u = self.plan.kernel("attn").unroll
        n = sum(ts)  # every token attends to all of them (pos0 = 0)
        head = n * math.ceil(m.head_dim / u) + 2 * n + n + m.head_dim * math.ceil(n / u)
        per_tok = m.n_heads * head
        start = max(front[-1][1], front[0][0] + n * (m.d_q + 2 * m.d_kv))  # all read first
        out, done = [], 0
        for t in ts:
            ctx = (start + done * per_tok + head, start + (done + t) * per_tok)
            done += t
            o = self.gemv(p + "wo", "wo", ctx, t)
            h2 = self.norm(p + "n1", self.stream(p + "add1", o, t, d), t, d)
            mid = self.stream(p + "act", self.gemv(p + "w_up", "w_up", h2, t), t, m.d_ffn)
            down = self.gemv(p + "w_down", "w_down", mid, t)
            out.append(self.norm(p + "n2", self.stream(p + "add2", down, t, d), t, d))
        return out

    def layer(self, c: int, x: Ev, t: int, pos0: int) -> Ev:
        """Events of built layer ``c``'s output stream for a tile of ``t`` tokens."""
        m = self.plan.shape
        p = f"{c}."
        h = self.norm(p + "n1", x, t, m.d_model)
        q = self.gemv(p + "wq", "wq", h, t)
        k = self.gemv(p + "wk", "wk", h, t)
        v = self.gemv(p + "wv", "wv", h, t)
        if not self.plan.gpt:
            q = self.stream(p + "rope_q", q, t, m.d_q)
            k = self.stream(p + "rope_k", k, t, m.d_kv)
        qkv = (max(q[0], k[0], v[0]), max(q[1], k[1], v[1]))
        ctx = self.attention(p + "attn", qkv, t, pos0)
        o = self.gemv(p + "wo", "wo", ctx, t)
        x1 = self.stream(p + "add1", o, t, m.d_model)
        h2 = self.norm(p + "n2", x1, t, m.d_model)
        up = self.gemv(p + "w_up", "w_up", h2, t)
        if not self.plan.gpt:
            g = self.gemv(p + "w_gate", "w_gate", h2, t)
            up = (max(up[0], g[0]), max(up[1], g[1]))
        mid = self.stream(p + "act", up, t, m.d_ffn)
        down = self.gemv(p + "w_down", "w_down", mid, t)
        return self.stream(p + "add2", down, t, m.d_model)


def call_cycles(plan: SpatialPlan, n_tok: int, pos0: int) -> float:
    """Cycles of one ``spatial_top`` call: embedding, passes (each a dataflow region that
    all tiles cross, pipelined), final norm and LM head of the last token."""
    m = plan.shape
    tile = min(plan.tile_tokens, plan.max_pos)
    total = float(n_tok * m.d_model)  # embedding
    g = gemvs(plan)
    for _ in range(plan.passes):
        sched = _Schedule(plan, g)
        end = 0.0
        if plan.encoder:
            ts = [min(tile, n_tok - t0) for t0 in range(0, n_tok, tile)]
            evs = [sched.stream("feed", (0.0, 0.0), t, m.d_model) for t in ts]
            for c in range(plan.layers_built):
                evs = sched.encoder_layer(c, evs, ts)
            for ev, t in zip(evs, ts, strict=True):
                end = sched.stream("drain", ev, t, m.d_model)[1]
            total += end
            continue
        for t0 in range(0, n_tok, tile):
            t = min(tile, n_tok - t0)
            ev = sched.stream("feed", (0.0, 0.0), t, m.d_model)
            for c in range(plan.layers_built):
                ev = sched.layer(c, ev, t, pos0 + t0)
            end = sched.stream("drain", ev, t, m.d_model)[1]
        total += end
    lm = g["lm"]
    lm_cycles = lm.issue_rows * lm.ng * lm.nch
    return total + 2 * m.d_model + lm_cycles  # final norm (sums, outputs) + LM head


def estimate(plan: SpatialPlan, prompt_len: int, kv_len: int) -> Estimate:
    """Prefill of ``prompt_len`` tokens; a decode step that attends to ``kv_len + 1``
    (an encoder has none: ``decode`` is 0)."""
    if plan.encoder:
        return Estimate(call_cycles(plan, prompt_len, 0), 0.0)
    return Estimate(call_cycles(plan, prompt_len, 0), call_cycles(plan, 1, kv_len))
