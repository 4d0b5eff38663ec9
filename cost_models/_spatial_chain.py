"""Latency of a token tile through the spatial design's kernel chain (``_spatial.py``).

What the generated dataflow layer does (``templates/hls_spatial``): the kernels of a layer
run concurrently, joined by one-element-a-cycle streams, but a token's data dependencies
order them. A norm needs its whole vector before it emits; a GEMV reads its whole input
(every output reduces over it), then emits its rows — as each is done for one token,
after the whole tile for several; attention reads q, k, v, then computes head by head
(scores, a three-pass softmax, context); element-wise kernels stream. Only the GEMVs after
a streaming kernel (``o`` after attention, ``down`` after the activation), weights on
chip, take a single token's input block by block as it arrives and so overlap their
producer. One token therefore crosses a layer in the *sum* of these latencies, not its
slowest kernel's: the slowest kernel sets only the interval between successive tiles.

An encoder (``causal`` False, post-LN) differs: its attention reads the q, k, v of every
token of the call before it computes (each token attends to all of them), so the chain is
walked once for the whole call (``encoder_pass``): the GEMVs still take it a tile at a
time, but no tile crosses a layer's attention before the last one arrives.

With streamed weights a GEMV fetches its rows (a tile's worth: every row once per tile)
while it computes, two row buffers deep: its rows take the longer of their MACs and their
fetch (``mem``: a stage's weight bytes over its group's bandwidth; the GEMVs of one stage,
q/k/v or up/gate, share it). A token's chain crosses the stages one after another, so their
fetch times add up along it; only concurrent tiles overlap them (``pass_cycles``' ``t_io``).
But a GEMV busy with tile i + 1 shares its group's channels with the other stages of the
group and the other built layers, all busy with other tiles: its occupancy takes the whole
group's fetch of a tile (``shared``), not its own alone. ``wait`` sums what the first
tile's chain waits for weights beyond its MACs (the weights' fetch is on its path).

Each kernel maps the events of its input stream, ``(first, last)`` word times, to its
output's; all arrays are per design point. ``occupancy`` is how long a kernel is busy
with one tile (it takes the next once done), so the slowest one paces later tiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models._shape import ModelShape
from cost_models._spatial_params import row_pack

Ev = tuple[Any, Any]
BLOCK = 16  # inputs of a block in a column-wise GEMV (the template's block, dense weights)


def _sum_ceil(a: Any, b: Any, u: Any) -> Any:
    """Σ_{n=a..b} ceil(n/u), for integers 1 <= a <= b (arrays allowed)."""

    def f(m: Any) -> Any:
        q, r = np.divmod(m, u)
        return (q + 1) * (u * q / 2 + r)

    return f(b) - f(a - 1)


class Chain:
    """Kernels of one layer for a tile of ``t`` tokens (``t`` an array: the tile per point)
    whose first token sits at position ``pos0``; work split over ``tp`` FPGAs. Attention's
    occupancy is taken at ``pos_pace`` (the tile that paces the later ones)."""

    def __init__(self, m: ModelShape, p: dict[str, Any], dens: dict[str, Any], t: Any,
                 pos0: float, pos_pace: float, onchip: Any, tile: Any = None,
                 mem: dict[str, Any] | None = None,
                 shared: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.m, self.p, self.dens, self.t, self.pos0 = m, p, dens, t, pos0
        # tokens per GEMV tile: the whole stream (a decoder's chain walks one tile)
        self.tile = t if tile is None else tile
        self.seq: Any = 0.0  # an encoder's sequence (entries a token attends); 0: all t
        self.pos_pace = pos_pace
        self.onchip = onchip
        self.pack = np.asarray(p.get("dsp_pack", True)) > 0  # the RTL's row_pack allowed
        self.tp = p["tp"]
        self.occ: list[Any] = []
        # cycles to fetch a stage's streamed weights once (per tile); none on chip
        self.mem = mem or {}
        self.shared = shared or {}
        self.wait: Any = 0.0

    def _gemv(
        self, ev: Ev, rows: float, k: float, macs: Any, dens: Any, cols: bool, stage: str
    ) -> Ev:
        """``rows`` x ``k`` weights at ``macs`` MACs/cycle; ``cols``: may consume a lone
        token block by block (weights on chip); ``stage``: its key in ``mem``."""
        first, last = ev
        t, rows = self.t, rows / self.tp
        g = self.p["quant_group"]
        unroll = np.maximum(1.0, np.minimum(macs, k))
        grp = np.where(g > 0, g, k)
        # groups of a row one after another; where the RTL packs (row_pack), a pair of
        # rows at half the lanes
        pk = row_pack(rows, grp * dens, unroll, dens >= 1, (self.onchip > 0) & self.pack)
        per_issue = k / grp * np.ceil(grp * dens / np.where(pk, np.maximum(unroll // 2, 1), unroll))
        per_row = np.where(pk, per_issue / 2, per_issue)
        fetch = self.mem.get(stage, 0.0)  # a tile's rows arrive no faster than this
        tl = np.minimum(self.tile, t)
        nt = np.ceil(t / tl)
        macs = rows * t * per_row
        compute = np.maximum(macs, nt * fetch)
        self.wait = self.wait + (compute - macs)
        steady = nt * self.shared.get(stage, 0.0)  # sharing the group with other tiles
        per_row = np.maximum(per_row, fetch / (rows * tl))
        start = np.maximum(last, first + t * k)  # the read loop: a word a cycle
        one = t == 1
        ev_first = np.where(one, start + per_issue, start + compute)
        ev_last = np.where(one, start + compute + 1 + pk, start + compute + t * rows)
        if np.any(tl < t):  # several tiles (an encoder's call): read, compute, write each
            t_last = t - (nt - 1) * tl  # the last tile reads once its words are all in
            start1 = np.maximum(first + tl * k, first + (last - first) * tl / t)
            ev_first = np.where(tl < t, start1 + rows * tl * per_row, ev_first)
            busy = first + t * k + compute + t * rows  # every tile, back to back
            ev_last = np.where(
                tl < t, np.maximum(last + t_last * rows * (per_row + 1), busy), ev_last
            )
        if cols:
            nb = k / BLOCK
            per_block = np.ceil(rows * BLOCK * dens / unroll)
            # blocks arrive evenly over [first, last]; each adds per_block after both its
            # arrival and the previous block: the latest of the two ends decides
            done = np.maximum(first + (last - first) / nb + nb * per_block, last + per_block)
            use = one & (self.onchip > 0)
            ev_first = np.where(use, done + 1, ev_first)
            ev_last = np.where(use, done + rows, ev_last)
        self.occ.append(t * k + np.maximum(compute, steady) + np.where(one, 0.0, t * rows))
        return ev_first, ev_last

    def _stream(self, ev: Ev, n: float) -> Ev:
        self.occ.append(self.t * n)
        return ev[0] + 1, np.maximum(ev[1] + 1, ev[0] + self.t * n)

    def _norm(self, ev: Ev) -> Ev:
        d = self.m.d_model  # read (and skip), sums, normalise, write: a word a cycle each
        self.occ.append(4 * d * self.t)
        return ev[0] + 3 * d, np.maximum(ev[1] + 3 * d, ev[0] + 4 * d * self.t)

    def _attention(self, ev: Ev) -> Ev:
        m, t = self.m, self.t
        u = np.maximum(1.0, self.p["m_attn"])
        heads = m.n_heads / self.tp
        hd = m.d_q / m.n_heads
        read = (m.d_q + 2 * m.d_kv) / self.tp

        per_n = np.ceil(hd / u) + 3  # a score (hd MACs), three softmax passes, per entry

        def cost(n_lo: Any, n_hi: Any) -> Any:
            """Cycles of the tokens that attend to n_lo..n_hi entries, one each."""
            cnt = n_hi - n_lo + 1
            ns = (n_lo + n_hi) * cnt / 2
            return read * cnt + heads * (ns * per_n + hd * _sum_ceil(n_lo, n_hi, u))

        def one(n: Any) -> Any:  # a single token attending to n entries
            return read + heads * (n * per_n + hd * np.ceil(n / u))

        n0 = self.m.kv_span(self.pos0 + 1)
        total = cost(n0, n0 + t - 1)
        n_pace = self.m.kv_span(self.pos_pace + 1)
        self.occ.append(cost(n_pace, n_pace + t - 1))
        return ev[0] + one(n0), np.maximum(ev[1] + one(n0 + t - 1), ev[0] + total)

    def _bidirectional(self, ev: Ev) -> Ev:
        """An encoder's attention: q, k, v of all ``t`` tokens in, then each token over all
        ``t`` entries (score, softmax, context per head, as ``_attention`` prices them)."""
        m, t = self.m, self.t
        u = np.maximum(1.0, self.p["m_attn"])
        heads = m.n_heads / self.tp
        hd = m.d_q / m.n_heads
        read = (m.d_q + 2 * m.d_kv) / self.tp
        n = np.where(self.seq > 0, self.seq, self.pos0 + t)  # one sequence of a batch
        per_tok = heads * (n * (np.ceil(hd / u) + 3) + hd * np.ceil(n / u))
        start = np.maximum(ev[1], ev[0] + t * read)
        self.occ.append(t * (read + per_tok))
        return start + per_tok / heads, start + t * per_tok

    def layer(self, x: Ev) -> Ev:
        """Events of the layer's output stream for the tile, from its input's. An encoder's
        layer is post-LN: its input forks to q/k/v (no norm first), attention runs over the
        whole call, and each residual add is followed by its norm."""
        m, p, dens = self.m, self.p, self.dens
        d, enc = m.d_model, not m.causal
        h = self._stream(x, d) if enc else self._norm(x)
        qkv = self._gemv(h, m.d_q, d, p["m_qkv"], np.maximum(dens["qk"], dens["vo"]), False, "qkv")
        if m.positions == "rope":  # rotates q and k as they stream
            qkv = self._stream(qkv, m.d_q / self.tp)
        ctx = self._bidirectional(qkv) if enc else self._attention(qkv)
        o = self._gemv(ctx, d, m.d_q, p["m_qkv"], dens["vo"], True, "o")
        h2 = self._norm(self._stream(o, d))
        mf = p["m_ffn"]
        up = self._gemv(h2, m.ffn_width, d, mf, dens["ffn"], False, "up")
        mid = self._stream(up, m.ffn_width / self.tp)
        down = self._gemv(mid, d, m.ffn_width, mf, dens["ffn"], True, "down")
        out = self._stream(down, d)
        return self._norm(out) if enc else out

    def occupancy(self) -> Any:
        out = self.occ[0]
        for o in self.occ[1:]:
            out = np.maximum(out, o)
        return out


def pass_cycles(
    m: ModelShape, p: dict[str, Any], dens: dict[str, Any], tokens: int, pos0: float,
    onchip: Any, layers: Any, rest: Any, t_io: Any, seq: float = 0.0,
    mem: dict[str, Any] | None = None, shared: dict[str, Any] | None = None,
) -> tuple[Any, Any, Any, Any, Any, Any]:  # fmt: skip
    """Cycles of one pass of ``tokens`` tokens through ``layers`` built layers (and of the
    last, through ``rest``), the first tile's latency ``l1`` and the tile interval: tiles
    enter one interval apart, paced by the busiest kernel (``pace``) or by the bytes
    (``t_io``: one layer's memory or link time for all the tokens) a tile moves through
    the layers; ``mem``, ``shared``: a stage's weight fetch per tile alone and with its
    group's other stages (``Chain``), streamed. Returns both passes, ``l1``, ``pace``, the
    number of tiles and whether the first tile's chain waits for weights."""
    tile = np.minimum(p["tile_tokens"], tokens)
    tiles = np.ceil(tokens / tile)
    d = m.d_model
    if not m.causal:
        return _encoder_pass(m, p, dens, tokens, pos0, onchip, layers, rest, t_io, tile, seq, mem)
    ev: Ev = (np.ones_like(tile, dtype=float), np.maximum(1.0, tile * d))  # the feed
    # Every layer maps its input events the same way and its output's spread no longer
    # depends on its input's after one layer: two layers give the per-layer step.
    # Later tiles see longer contexts: pace them by the middle tile's kernels.
    first = Chain(m, p, dens, tile, pos0, pos0 + tokens / 2, onchip, mem=mem, shared=shared)
    one = first.layer(ev)
    two = Chain(m, p, dens, tile, pos0, pos0, onchip, mem=mem).layer(one)
    step = two[1] - one[1]
    pace = first.occupancy()

    def run(n: Any) -> tuple[Any, Any]:
        l1 = one[1] + (n - 1) * step + 1  # + the drain
        io = n * t_io / tiles
        return np.maximum(l1, io) + (tiles - 1) * np.maximum(pace, io), l1

    total, l1 = run(layers)
    return total, run(rest)[0], l1, pace, tiles, first.wait > 0


def _encoder_pass(
    m: ModelShape, p: dict[str, Any], dens: dict[str, Any], tokens: int, pos0: float,
    onchip: Any, layers: Any, rest: Any, t_io: Any, tile: Any, seq: float,
    mem: dict[str, Any] | None,
) -> tuple[Any, Any, Any, Any, Any, Any]:  # fmt: skip
    """``pass_cycles`` of an encoder: the whole call is one stream through the chain (its
    attention waits for every token; each token attends to the ``seq`` of its sequence),
    tiled only inside the GEMVs; returns one "tile"."""
    tok = np.full_like(np.asarray(tile, dtype=float), float(tokens))
    ev: Ev = (np.ones_like(tok), np.maximum(1.0, tok * m.d_model))  # the feed
    first = Chain(m, p, dens, tok, pos0, pos0, onchip, tile, mem)
    second = Chain(m, p, dens, tok, pos0, pos0, onchip, tile, mem)
    first.seq = second.seq = seq
    one = first.layer(ev)
    two = second.layer(one)
    step = two[1] - one[1]

    def run(n: Any) -> tuple[Any, Any]:
        l1 = one[1] + (n - 1) * step + 1  # + the drain
        return np.maximum(l1, n * t_io), l1

    total, l1 = run(layers)
    return total, run(rest)[0], l1, first.occupancy(), np.ones_like(tok), first.wait > 0
