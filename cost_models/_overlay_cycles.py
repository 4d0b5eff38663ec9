"""Cycles of the generated overlay accelerator (templates/overlay), per token.

The same object the ``sim`` rung measures: one pass of the step program (the compiler's
instruction stream, docs/overlay.md) for one token at a KV length, on an engine of
``mv_n × mv_k`` MACs and ``sfu_lanes`` SFU lanes, fed by one AXI port per tensor group with
a given latency and bytes per cycle (at most a beat). Scalar (one point at a time); each
term is the hardware's physics, explained where it appears:

* a streamed operand costs ``setup + latency + max(compute, memory)`` (``overlap``), or per
  tile ``latency + transfer`` then the compute (no overlap: fetch and compute alternate);
* memory time is whole beats at the port's rate, bursts of at most 256 bytes, one AR every
  two cycles, and at most ``OUTSTANDING`` bursts in flight (latency-bound for short rows);
* the SFU runs ``ceil(n / lanes)`` cycles per pass plus its 2-stage read pipeline
  (synchronous scratchpad, then the table lookups); RoPE issues every other cycle (two
  write blocks per lane group); norms and softmax add a 32-step bit-serial square root /
  divider; KV writes are one byte per two cycles;
* an MV first copies its operand vector into the per-multiplier x buffers
  (``ceil(K / banks)`` cycles, hidden under the memory latency when overlapped), and a row
  block writes back ``banks`` rows a cycle after a two-cycle product/accumulate drain;
  results pass a two-stage requant pipeline, norms a three-stage one, each drained once
  per instruction;
* batched prefill (``prefill_cycles``): an MV over T token slots streams its weights once,
  applying each tile to ``mm_t`` tokens a cycle (token lanes), and writes back every
  token's rows; its x-buffer copy runs slot by slot. With a separate MM engine
  (``unified_engine`` false) those MVs run on its ``mm_n × mm_k`` tiles (the image's
  MM-tiled copy of each matrix); attention, the LM head and decode stay on the MV engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cost_models._shape import ModelShape

OUTSTANDING = 8  # bursts a read port keeps in flight
MAX_BURST_BYTES = 256
FETCH = 1  # instruction fetch
SETUP = 1  # first execute cycle (operands, stream request)
STREAM_START = 3  # request -> AR issued -> accepted -> first beat in the buffer
SERIAL_STEPS = 33  # 32-step bit-serial isqrt / divider plus its hand-off cycle
BUF_READ = 1  # stream buffer RAM: a beat is readable the cycle after it is written
SFU_DRAIN = 2  # element-wise pipeline: operands (D), tables + result (E) after the issue
# Pipeline registers that keep the engine at the ECP5 release's clock (overlay_core.v):
MV_SUM = 1  # MV chunks: products (s1) are registered, their sums accumulate a cycle later
WB_DRAIN = 2  # write-back rows pass a product and a shift stage (requant pipeline)
KV_DRAIN = 3  # a KV row's sum: product, sum, requant product, shift stages after the last pop
NORM_DRAIN = 3  # norm: t at E, then t*g, *M, shift + beta stages before the write
W_BITS = {"w8a8": 8, "w4a8": 4}
LUT_ENTRIES = 256  # the exp and activation tables a layer loads (overlay/arith.py)


@dataclass(frozen=True)
class OverlayMemory:
    """What the ports see: latency (cycles), bytes per cycle per group, beat bytes."""

    latency: int
    rates: Mapping[str, float]
    beat: int
    write_latency: int = 0  # 0: same as latency

    def rate(self, port: str) -> float:
        """Bytes per cycle of ``port``: what its channels deliver, but never more than the
        one beat a cycle its AXI master takes (a group has one port, whatever it spans)."""
        return min(float(self.rates[port]), float(self.beat))


@dataclass
class _Design:
    mv_k: int
    mv_n: int
    lanes: int
    w_bits: int
    group: int
    overlap: bool
    banks: int  # scratchpad / x-buffer banks: sfu_lanes rounded up to a power of two, >= 2
    stored: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    mm_t: int = 1  # token lanes of the batched MV (the MM mode's tokens a cycle)
    mm_k: int = 0  # the separate MM engine's array (0: unified, prefill on the MV array)
    mm_n: int = 0

    def prefill_engine(self) -> _Design:
        """The engine the batched prefill's linear maps run on: the separate MM engine's
        ``mm_n × mm_k`` array (its own tiles, packing and stream) or the MV array."""
        if not self.mm_k:
            return self
        return dataclasses.replace(self, mv_k=self.mm_k, mv_n=self.mm_n, mm_k=0, mm_n=0)

    @property
    def kv_lanes(self) -> int:
        """Multipliers a KV row uses: with DSP packing (W4, every class stored dense, even
        mv_n) a multiplier holds two W4 products but only one int8 KV product."""
        packed = self.w_bits == 4 and self.mv_n % 2 == 0 and not any(self.stored.values())
        return self.mv_k * self.mv_n // (2 if packed else 1)


def _design(p: Mapping[str, Any]) -> _Design:
    w_bits = W_BITS[str(p.get("quant", "w4a8"))]
    group = int(p.get("quant_group", 128))
    kind = p.get("sparsity", "none")
    m_nm = int(p.get("nm_m", 16))
    stored: dict[str, tuple[int, int] | None] = {}
    scale = 16.0 / group if group else 0.0
    for cls in ("qk", "vo", "ffn"):
        d = float(p.get(f"density_{cls}", 1.0))
        nm: tuple[int, int] | None = None
        if kind == "nm":
            n = max(1, round(d * m_nm))
            nm = (n, m_nm) if n < m_nm else None
        elif kind == "log":
            e = -round(math.log2(d))
            nm = (2, 2 ** (e + 1)) if e > 0 else None
        # stored sparse only where the indices cost fewer bits than the zeros
        if nm and nm[0] / nm[1] * (w_bits + math.ceil(math.log2(nm[1]))) + scale >= w_bits + scale:
            nm = None
        stored[cls] = nm
    serial = bool(p.get("prefill_serial", False))
    separate = not p.get("unified_engine", True) and not serial
    return _Design(
        int(p.get("mv_k", 16)),
        int(p.get("mv_n", 16)),
        int(p.get("sfu_lanes", 4)),
        w_bits,
        group,
        bool(p.get("overlap", True)),
        max(2, 1 << max(0, int(p.get("sfu_lanes", 4)) - 1).bit_length()),
        stored,
        1 if serial else int(p.get("mm_t", 1)),
        int(p.get("mm_k", p.get("mv_k", 16))) if separate else 0,
        int(p.get("mm_n", p.get("mv_n", 16))) if separate else 0,
    )


def _cdiv(a: float, b: float) -> int:
    return -(-int(a) // int(b))


def _region_time(rows: list[tuple[int, int]], rate: float, mem: OverlayMemory) -> float:
    """Cycles from the first data to the last of regions given as (first-byte offset in
    its beat, bytes): bursts issue one per two cycles while fewer than ``OUTSTANDING`` are
    in flight, each returns ``latency`` after its issue, and the port delivers its beats at
    ``rate`` bytes per cycle in order."""
    beat = mem.beat
    max_beats = max(1, MAX_BURST_BYTES // beat)
    sizes: list[int] = []
    for skip, n in rows:
        b = _cdiv(skip + n, beat)
        while b > 0:
            sizes.append(min(b, max_beats))
            b -= max_beats
    if len(sizes) > 4 * OUTSTANDING:  # long streams: the port rate or the issue rate binds
        return max(sum(sizes) * beat / rate, 2.0 * len(sizes))
    issue: list[float] = []
    done: list[float] = []
    for i, b in enumerate(sizes):
        t = issue[-1] + 2 if issue else 0.0
        if i >= OUTSTANDING:
            t = max(t, done[i - OUTSTANDING] + 1)  # a slot frees when its last beat arrives
        issue.append(t)
        first = max(t + mem.latency, done[-1] if done else 0.0)
        done.append(first + b * beat / rate)
    return done[-1] - mem.latency


def _streamed(
    compute: float, rows: list[tuple[int, int]], rate: float, mem: OverlayMemory, pop: int = 0,
    overlap: bool = True, fill: int = 0,
) -> float:  # fmt: skip
    """A streamed operand. Overlapped: compute waits for the first data (and for ``fill``
    cycles of x-buffer copy, during which the stream already fetches), then runs at the
    slower of the two. Not overlapped (``pop`` bytes consumed per cycle): see _serial."""
    if not overlap:
        return FETCH + SETUP + 1 + fill + _serial(rows, pop, rate, mem)
    first = STREAM_START + BUF_READ + mem.latency
    body = max(first + compute, first + _region_time(rows, rate, mem), fill + compute)
    return FETCH + SETUP + body


def _serial(rows: list[tuple[int, int]], pop: int, rate: float, mem: OverlayMemory) -> float:
    """Without overlap a fetch starts only when the consumer waits and asks for just the
    missing bytes (whole beats, never past its row): each wait costs request, latency and
    transfer; bytes fetched beyond a pop serve the next ones."""
    cyc = 0.0
    for skip, n in rows:
        cnt, left, unfetched, off = 0, n, n, skip
        while left > 0:
            need = min(pop, left)
            if cnt < need:
                b = _cdiv(off + need - cnt, mem.beat)
                got = min(b * mem.beat - off, unfetched)
                cyc += mem.latency + STREAM_START + BUF_READ + (b - 1) * mem.beat / rate
                cnt, unfetched, off = cnt + got, unfetched - got, 0
            else:
                cyc += 1
            cnt -= need
            left -= need
    return cyc


def _matrix(n: int, k: int, d: _Design, nm: tuple[int, int] | None, port: str,
            mem: OverlayMemory, tokens: int = 1, argmax: bool = False) -> float:  # fmt: skip
    """One MV over ``tokens`` token slots: the weights stream once; each popped tile is
    applied to ``mm_t`` slots a cycle (the token lanes), and each slot writes back its own
    rows."""
    keep, m = nm if nm else (1, 1)
    fb = d.w_bits + (math.ceil(math.log2(m)) if nm else 0)
    ks = k * keep // m
    nch, ntile = _cdiv(ks, d.mv_k), _cdiv(n, d.mv_n)
    gck = (d.group * keep // m) // d.mv_k if d.group else nch
    tile = d.mv_n * d.mv_k * fb // 8
    per_tile_bytes = nch * tile + _cdiv(nch, gck) * 2 * d.mv_n
    rate = mem.rate(port)
    # x-buffer copy, slot by slot (a slot's last block may be short), then the last
    # block's write cycle
    fill = tokens * _cdiv(k, d.banks) + 1
    groups = _cdiv(tokens, d.mm_t)  # cycles a popped tile stays for the chunk's tokens
    # chunks (one per group of mm_t tokens), accumulate drain, write-back (per token)
    per_tile = groups * nch + 1 + MV_SUM + tokens * _cdiv(d.mv_n, d.banks)
    drain = 1 if argmax else WB_DRAIN  # the argmax writes nothing: one cycle to see that
    if d.overlap:
        body = [(0, ntile * per_tile_bytes)]
        return 1 + drain + _streamed(ntile * per_tile, body, rate, mem, fill=fill)
    # No overlap: a chunk's bytes are requested only once the engine waits for them, so
    # each chunk pays request, latency and transfer; beats fetched beyond a chunk (beat
    # rounding) serve the next one.
    cyc, cnt = FETCH + SETUP + 1.0 + fill + drain, 0
    for _ in range(ntile):
        for kc in range(nch):
            need = tile + (2 * d.mv_n if kc % gck == 0 else 0)
            if cnt < need:
                b = _cdiv(need - cnt, mem.beat)
                cyc += mem.latency + STREAM_START + BUF_READ + (b - 1) * mem.beat / rate
                cnt += b * mem.beat
            else:
                cyc += 1
            cyc += groups - 1  # the tile stays at the head for the other tokens
            cnt -= need
        cyc += per_tile - groups * nch
    return cyc


def _elementwise(n: int, d: _Design, passes: int = 1) -> float:
    return FETCH + SETUP + passes * (_cdiv(n, d.lanes) + SFU_DRAIN)


def _load(nbytes: int, elems: int, d: _Design, mem: OverlayMemory) -> float:
    """A LOAD of ``elems`` elements (``nbytes`` bytes) from the act port into the scratchpad."""
    esz = nbytes // elems
    return _streamed(
        _cdiv(elems, d.lanes), [(0, nbytes)], mem.rate("act"), mem, d.lanes * esz, d.overlap
    )


def _embed(m: ModelShape, d: _Design, mem: OverlayMemory, rope: bool) -> dict[str, float]:
    """A token's embedding row (GPT-2: plus its position row); the RoPE tables if ``rope``."""
    dm, half = m.d_model, m.head_dim // 2

    def load(nbytes: int, elems: int) -> float:
        return _load(nbytes, elems, d, mem)

    out = {"embed": load(dm, dm)}
    if m.ffn == "gelu":
        out["embed"] += load(dm, dm) + _elementwise(dm, d)
    elif rope:
        out["embed"] += 2 * load(2 * half, half)
    return out


def _norm(m: ModelShape, d: _Design) -> float:
    return (
        FETCH + SETUP + 2 * (_cdiv(m.d_model, d.lanes) + SFU_DRAIN) + 1 + 2 * SERIAL_STEPS
        + NORM_DRAIN
    )  # fmt: skip


def _head(m: ModelShape, d: _Design, mem: OverlayMemory) -> dict[str, float]:
    return {
        "constants": _load(2 * m.d_model, 2 * m.d_model, d, mem),  # the final norm's
        "norm": _norm(m, d),
        "lm_head": _matrix(m.vocab, m.d_model, d, None, "wffn", mem, argmax=True),
    }


def _layers(m: ModelShape, d: _Design, mem: OverlayMemory, pos0: int, tokens: int,
            max_pos: int, eng: _Design | None = None) -> dict[str, float]:  # fmt: skip
    """Every layer for ``tokens`` tokens at positions pos0.. (linear maps once over all of
    them, on ``eng`` — default ``d`` —, attention and RoPE token by token on ``d``; token t
    attends over pos0 + t + 1 entries)."""
    dm, hd, half, T = m.d_model, m.head_dim, m.head_dim // 2, tokens
    gpt = m.ffn == "gelu"
    lanes_kv = d.kv_lanes
    wlat = mem.write_latency or mem.latency
    kv_rate = mem.rate("kv")
    out: dict[str, float] = {}

    def add(key: str, c: float) -> None:
        out[key] = out.get(key, 0.0) + c

    def mat(n: int, k: int, cls: str, port: str) -> float:
        return _matrix(n, k, eng or d, d.stored[cls], port, mem, T)

    # the layer's constants into the scratchpad: the first norm's gain and beta and the
    # exp LUT (uint16) at its start, the second norm's with the activation LUT before it
    n2 = 2 * dm + LUT_ENTRIES
    consts = (
        _load(2 * dm, 2 * dm, d, mem)
        + _load(2 * LUT_ENTRIES, LUT_ENTRIES, d, mem)
        + _load(n2, n2, d, mem)
    )
    for _ in range(m.n_layers):
        add("constants", consts)
        add("norm", 2 * T * _norm(m, d))
        add("wqkv", mat(m.d_q, dm, "qk", "wqkv") + mat(m.d_kv, dm, "qk", "wqkv"))
        add("wqkv", mat(m.d_kv, dm, "vo", "wqkv"))
        for tt in range(T):
            t = pos0 + tt + 1
            if T > 1:
                add("control", FETCH + SETUP)  # SETPOS
            if not gpt:
                # one lane group every other cycle: each writes its a' and b' blocks
                add("rope", FETCH + SETUP + 2 * m.n_heads * _cdiv(half, d.lanes) + SFU_DRAIN)
                add("rope", FETCH + SETUP + 2 * m.n_kv_heads * _cdiv(half, d.lanes) + SFU_DRAIN)
            add("kv_write", m.n_kv_heads * 2 * (FETCH + SETUP + 2 * hd + wlat + 1))
            # KV rows: x-buffer copy of q (p) first, one drain cycle for the last row's result
            scores = 1 + KV_DRAIN + _streamed(
                t * _cdiv(hd, lanes_kv) + 1, [(0, t * hd)], kv_rate, mem, min(lanes_kv, hd),
                d.overlap, _cdiv(hd, d.banks) + 1,
            )  # fmt: skip
            ctx_rows = [((r * max_pos) % mem.beat, t) for r in range(hd)]
            ctx = 1 + KV_DRAIN + _streamed(
                hd * _cdiv(t, lanes_kv) + 1, ctx_rows, kv_rate, mem, lanes_kv, d.overlap,
                _cdiv(t, d.banks) + 1,
            )  # fmt: skip
            soft = FETCH + SETUP + 3 * (_cdiv(t, d.lanes) + SFU_DRAIN) + 1 + SERIAL_STEPS
            add("attention", m.n_heads * (scores + soft + ctx))
        add("wo", mat(dm, m.d_q, "vo", "wo"))
        add("residual", 2 * _elementwise(T * dm, d))
        add("wffn", mat(m.d_ffn, dm, "ffn", "wffn"))
        if not gpt:
            add("wffn", mat(m.d_ffn, dm, "ffn", "wffn"))
            add("activation", _elementwise(T * m.d_ffn, d))
        add("activation", _elementwise(T * m.d_ffn, d))
        add("wffn", mat(dm, m.d_ffn, "ffn", "wffn"))
    return out


def _merge(*parts: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, 0.0) + v
    return out


CONTROL = FETCH + 2  # END and the host's start hand-shake, per program start


def step_cycles(
    shape: ModelShape,
    point: Mapping[str, Any],
    kv_len: int,
    mem: OverlayMemory,
    max_pos: int = 32,
) -> dict[str, float]:
    """Cycles of one token whose attention spans ``kv_len`` entries, by operator kind."""
    d = _design(point)
    out = _merge(
        _embed(shape, d, mem, True),
        _layers(shape, d, mem, kv_len - 1, 1, max_pos),
        _head(shape, d, mem),
        {"control": CONTROL},
    )
    out["total"] = sum(out.values())
    return out


def prefill_tokens(point: Mapping[str, Any]) -> int:
    """Tokens a fetched weight tile serves in prefill (1: serial), as overlay.config."""
    return 1 if point.get("prefill_serial", False) else int(point.get("tile_tokens", 4))


def prefill_cycles(
    shape: ModelShape, point: Mapping[str, Any], prompt_len: int, mem: OverlayMemory,
    max_pos: int = 32,
) -> dict[str, float]:  # fmt: skip
    """Cycles of a batched prefill by operator kind: per chunk of ``tile_tokens`` tokens,
    each token's embedding entry, the chunk's body (RoPE tables per token, then every layer
    with the weights streamed once for the chunk), and after the last chunk its LM head."""
    d = _design(point)
    slots = prefill_tokens(point)
    parts: list[dict[str, float]] = []
    for p0 in range(0, prompt_len, slots):
        n = min(slots, prompt_len - p0)
        emb = _embed(shape, d, mem, False)
        parts += [{k: n * v for k, v in emb.items()}, {"control": (n + 1) * CONTROL}]
        if shape.ffn != "gelu":  # SETPOS and the two RoPE table loads per token
            tabs = _embed(shape, d, mem, True)["embed"] - emb["embed"]
            parts.append({"embed": n * (FETCH + SETUP + tabs)})
        parts.append(_layers(shape, d, mem, p0, n, max_pos, d.prefill_engine()))
    parts += [_head(shape, d, mem), {"control": CONTROL}]
    out = _merge(*parts)
    out["total"] = sum(out.values())
    return out


def run_cycles(
    shape: ModelShape, point: Mapping[str, Any], prompt_len: int, n_new: int,
    mem: OverlayMemory, max_pos: int = 32,
) -> tuple[float, list[float]]:  # fmt: skip
    """(prefill cycles — batched in chunks, or the prompt's tokens one by one —, cycles of
    each decode step)."""
    if prefill_tokens(point) > 1:
        pre = prefill_cycles(shape, point, prompt_len, mem, max_pos)["total"]
    else:
        pre = sum(
            step_cycles(shape, point, t + 1, mem, max_pos)["total"] for t in range(prompt_len)
        )
    dec = [
        step_cycles(shape, point, prompt_len + i + 1, mem, max_pos)["total"]
        for i in range(n_new - 1)
    ]
    return pre, dec
