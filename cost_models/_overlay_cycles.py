"""Cycles of the generated overlay accelerator (templates/overlay), per token.

The same object the ``sim`` rung measures: one pass of the step program (the compiler's
instruction stream, docs/overlay.md) for one token at a KV length, on an engine of
``mv_n × mv_k`` MACs and ``sfu_lanes`` SFU lanes, fed by one AXI port per tensor group with
a given latency and bytes per cycle. Scalar (one point at a time); each term is the
hardware's physics, explained where it appears:

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
  per instruction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cost_models._workload import ModelShape

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


@dataclass(frozen=True)
class OverlayMemory:
    """What the ports see: latency (cycles), bytes per cycle per group, beat bytes."""

    latency: int
    rates: Mapping[str, float]
    beat: int
    write_latency: int = 0  # 0: same as latency


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
    return _Design(
        int(p.get("mv_k", 16)),
        int(p.get("mv_n", 16)),
        int(p.get("sfu_lanes", 4)),
        w_bits,
        group,
        bool(p.get("overlap", True)),
        max(2, 1 << max(0, int(p.get("sfu_lanes", 4)) - 1).bit_length()),
        stored,
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
            mem: OverlayMemory, argmax: bool = False) -> float:  # fmt: skip
    keep, m = nm if nm else (1, 1)
    fb = d.w_bits + (math.ceil(math.log2(m)) if nm else 0)
    ks = k * keep // m
    nch, ntile = _cdiv(ks, d.mv_k), _cdiv(n, d.mv_n)
    gck = (d.group * keep // m) // d.mv_k if d.group else nch
    tile = d.mv_n * d.mv_k * fb // 8
    per_tile_bytes = nch * tile + _cdiv(nch, gck) * 2 * d.mv_n
    rate = mem.rates[port]
    fill = _cdiv(k, d.banks) + 1  # x-buffer copy, then its last block's write cycle
    # chunks, product and accumulate drain, write-back
    per_tile = nch + 1 + MV_SUM + _cdiv(d.mv_n, d.banks)
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
            cnt -= need
        cyc += per_tile - nch
    return cyc


def _elementwise(n: int, d: _Design, passes: int = 1) -> float:
    return FETCH + SETUP + passes * (_cdiv(n, d.lanes) + SFU_DRAIN)


def step_cycles(
    shape: ModelShape,
    point: Mapping[str, Any],
    kv_len: int,
    mem: OverlayMemory,
    max_pos: int = 32,
) -> dict[str, float]:
    """Cycles of one token whose attention spans ``kv_len`` entries, by operator kind."""
    d = _design(point)
    m = shape
    dm, hd, half = m.d_model, m.head_dim, m.head_dim // 2
    gpt = m.ffn == "gelu"
    lanes_kv = d.mv_k * d.mv_n
    wlat = mem.write_latency or mem.latency
    out: dict[str, float] = {}

    def add(key: str, c: float) -> None:
        out[key] = out.get(key, 0.0) + c

    def load(nbytes: int, elems: int) -> float:
        esz = nbytes // elems
        return _streamed(
            _cdiv(elems, d.lanes), [(0, nbytes)], mem.rates["act"], mem, d.lanes * esz, d.overlap
        )

    add("embed", load(dm, dm))
    if gpt:
        add("embed", load(dm, dm) + _elementwise(dm, d))
    else:
        add("embed", 2 * load(2 * half, half))
    norm = FETCH + SETUP + 2 * (_cdiv(dm, d.lanes) + SFU_DRAIN) + 1 + 2 * SERIAL_STEPS
    norm += NORM_DRAIN
    t = kv_len
    for _ in range(m.n_layers):
        add("norm", 2 * norm)
        add("wqkv", _matrix(m.d_q, dm, d, d.stored["qk"], "wqkv", mem))
        add("wqkv", _matrix(m.d_kv, dm, d, d.stored["qk"], "wqkv", mem))
        add("wqkv", _matrix(m.d_kv, dm, d, d.stored["vo"], "wqkv", mem))
        if not gpt:
            # one lane group every other cycle: each writes its a' and b' blocks
            add("rope", FETCH + SETUP + 2 * m.n_heads * _cdiv(half, d.lanes) + SFU_DRAIN)
            add("rope", FETCH + SETUP + 2 * m.n_kv_heads * _cdiv(half, d.lanes) + SFU_DRAIN)
        add("kv_write", m.n_kv_heads * 2 * (FETCH + SETUP + 2 * hd + wlat + 1))
        kv_rate = mem.rates["kv"]
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
        add("wo", _matrix(dm, m.d_q, d, d.stored["vo"], "wo", mem))
        add("residual", 2 * _elementwise(dm, d))
        add("wffn", _matrix(m.d_ffn, dm, d, d.stored["ffn"], "wffn", mem))
        if not gpt:
            add("wffn", _matrix(m.d_ffn, dm, d, d.stored["ffn"], "wffn", mem))
            add("activation", _elementwise(m.d_ffn, d))
        add("activation", _elementwise(m.d_ffn, d))
        add("wffn", _matrix(dm, m.d_ffn, d, d.stored["ffn"], "wffn", mem))
    add("norm", norm)
    add("lm_head", _matrix(m.vocab, dm, d, None, "wffn", mem, argmax=True))
    add("control", FETCH + 2)  # END and the host's start hand-shake
    out["total"] = sum(out.values())
    return out


def run_cycles(
    shape: ModelShape, point: Mapping[str, Any], prompt_len: int, n_new: int,
    mem: OverlayMemory, max_pos: int = 32,
) -> tuple[float, list[float]]:  # fmt: skip
    """(prefill cycles — the prompt's tokens one by one —, cycles of each decode step)."""
    pre = sum(step_cycles(shape, point, t + 1, mem, max_pos)["total"] for t in range(prompt_len))
    dec = [
        step_cycles(shape, point, prompt_len + i + 1, mem, max_pos)["total"]
        for i in range(n_new - 1)
    ]
    return pre, dec
