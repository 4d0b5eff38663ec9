"""A spatial design point + ``ModelShape`` -> the dataflow plan the HLS top is generated from.

The plan is the hardware the spatial cost model (``cost_models/_spatial.py``) scores: one
kernel per operator with its own MACs/cycle (``m_qkv``, ``m_attn``, ``m_ffn``), FIFOs of
``fifo_depth`` between them, ``layers_per_fpga`` (C) layers built and reused
``ceil(N / C)`` passes, weights resident on chip or streamed one row tile at a time and
reused by ``tile_tokens`` tokens. A knob the generator cannot build is refused with
:class:`SpatialError` (the key and what is supported).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cost_models import ModelShape
from overlay.config import OverlayError
from overlay.model import is_gpt, layer_mats
from overlay.reference import MAT_CLASS, QuantSpec

SUPPORTED_QUANTS = {"w8a8": 8, "w4a8": 4}
NM_MS = (2, 4, 8, 16)
MAX_UNROLL = 4096
# Knobs the cost model scores that this generator builds only at one value.
FIXED = {"tp": 1, "pp": 1, "kv_bits": 8}
# A BERT-style encoder as tiny as the overlay's tiny decoders (overlay.flow.TINY_SHAPES).
TINY_BERT = ModelShape(
    "tiny-bert", 64, 2, 4, 4, 16, 256, "gelu", 128, causal=False, positions="learned"
)


class SpatialError(OverlayError):
    """A point or shape the spatial generator cannot build: ``key`` and what is supported
    (the overlay's error kind, so a caller that reports one reports both)."""


@dataclass(frozen=True)
class Kernel:
    """One operator's kernel: ``rows`` x ``k`` MACs per token at ``unroll`` MACs/cycle."""

    name: str
    op: str  # gemv | norm | rope | attention | act | add
    rows: int = 0
    k: int = 0
    unroll: int = 1
    sparse: bool = False
    # > 0: a single token's input is consumed in blocks of this many as it arrives (a GEMV
    # after a streaming kernel, weights on chip); 0: the whole input first, rows streamed out.
    block_in: int = 0


@dataclass(frozen=True)
class Fifo:
    name: str
    src: str
    dst: str
    depth: int


@dataclass(frozen=True)
class SpatialPlan:
    shape: ModelShape
    w_bits: int
    group: int  # weights per scale along a row (the whole row when quant_group = 0)
    prune: dict[str, tuple[int, int] | None]
    stored_sparse: dict[str, bool]  # N:M values + in-block offsets instead of dense zeros
    layers_built: int  # C
    passes: int  # ceil(N / C)
    fifo_depth: int
    tile_tokens: int
    weights_onchip: bool
    max_pos: int
    kernels: tuple[Kernel, ...]
    fifos: tuple[Fifo, ...]
    dsp_pack: bool = True  # dense on-chip GEMVs pair rows on one multiplier (row_pack)

    @property
    def gpt(self) -> bool:
        return is_gpt(self.shape)

    @property
    def encoder(self) -> bool:
        """BERT-style: bidirectional attention over the call's tokens, post-LN layers."""
        return not self.shape.causal

    def quant_spec(self) -> QuantSpec:
        return QuantSpec(self.w_bits, self.group, dict(self.prune))

    def kernel(self, name: str) -> Kernel:
        return next(k for k in self.kernels if k.name == name)


def _int(point: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = point.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not lo <= v <= hi:
        raise SpatialError(key, f"expected an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


def _sparsity(
    point: Mapping[str, Any], w_bits: int
) -> tuple[dict[str, tuple[int, int] | None], dict[str, bool]]:
    """Pruning pattern per weight class and whether it is stored compressed."""
    kind = point.get("sparsity", "none")
    if kind not in ("none", "nm"):
        raise SpatialError("sparsity", f"the spatial generator builds none or nm, got {kind!r}")
    nm_m = _int(point, "nm_m", 16, 2, 64)
    if kind == "nm" and nm_m not in NM_MS:
        raise SpatialError("nm_m", f"the sparse GEMV supports M in {NM_MS}, got {nm_m}")
    prune: dict[str, tuple[int, int] | None] = {}
    stored: dict[str, bool] = {}
    for cls in ("qk", "vo", "ffn"):
        key = f"density_{cls}"
        d = point.get(key, 1.0)
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0.01 <= d <= 1:
            raise SpatialError(key, f"expected a number in [0.01, 1], got {d!r}")
        n = max(1, round(d * nm_m))
        nm = (n, nm_m) if kind == "nm" and n < nm_m else None
        prune[cls] = nm
        # The cost model's rule: compressed only where the offsets cost less than the zeros.
        idx = math.ceil(math.log2(nm_m))
        stored[cls] = nm is not None and nm[0] / nm[1] * (w_bits + idx) < w_bits
    return prune, stored


def build_plan(point: Mapping[str, Any], shape: ModelShape, max_pos: int = 32) -> SpatialPlan:
    """Check ``point`` against what the generator builds and lay out the dataflow."""
    quant = point.get("quant", "w8a8")
    if quant not in SUPPORTED_QUANTS:
        raise SpatialError(
            "quant", f"{quant!r} has no spatial hardware; supported: {', '.join(SUPPORTED_QUANTS)}"
        )
    w_bits = SUPPORTED_QUANTS[str(quant)]
    for key, want in FIXED.items():
        if point.get(key, want) != want:
            raise SpatialError(key, f"the spatial generator builds {key} = {want} only")
    storage = point.get("weight_storage", "onchip")
    if storage not in ("onchip", "stream"):
        raise SpatialError(
            "weight_storage",
            f"expected onchip or stream (resolve auto with the cost model first), got {storage!r}",
        )
    _check_shape(shape, max_pos)
    d, dq, dkv, dff = shape.d_model, shape.d_q, shape.d_kv, shape.d_ffn
    q_group = _int(point, "quant_group", 0, 0, 1 << 16)
    for name, k in (("d_model", d), ("d_q", dq), ("d_ffn", dff)):
        if q_group and k % q_group:
            raise SpatialError("quant_group", f"{q_group} must divide {name} = {k} (or be 0)")
    prune, stored = _sparsity(point, w_bits)
    for cls, nm in prune.items():
        for name, k in (("d_model", d), ("d_q", dq), ("d_ffn", dff)):
            blk = nm[1] if nm else 1
            if (q_group or k) % blk or k % blk:
                raise SpatialError(
                    f"density_{cls}", f"N:M block {blk} must divide {name} = {k} and quant_group"
                )
    n = shape.n_layers
    c = min(_int(point, "layers_per_fpga", 2, 1, 1024), n)
    if n % c:
        raise SpatialError(
            "layers_per_fpga", f"must divide n_layers = {n} (a partial last pass is not built)"
        )
    m_qkv = _int(point, "m_qkv", 256, 1, MAX_UNROLL)
    m_attn = _int(point, "m_attn", 64, 1, MAX_UNROLL)
    m_ffn = _int(point, "m_ffn", 512, 1, MAX_UNROLL)
    depth = _int(point, "fifo_depth", 32, 2, 1 << 16)
    tile = _int(point, "tile_tokens", 64, 1, 1 << 16)
    pack = point.get("dsp_pack", True)
    if pack not in (True, False, 0, 1):
        raise SpatialError("dsp_pack", f"expected true or false, got {pack!r}")

    def gemv(name: str, rows: int, k: int, macs: int) -> Kernel:
        # Wk, Wv get d_kv/d_q of m_qkv (the model's sizing), so q, k and v finish together.
        cls = MAT_CLASS[name]
        nm = prune[cls] if stored[cls] else None
        # Wo follows attention and W_down the activation: both stream, so with weights on
        # chip these GEMVs take a decode token's input block by block (an N:M block, or a
        # block of up to 16 dividing the scale group).
        after_stream = name in ("wo", "w_down") and storage == "onchip"
        block = (nm[1] if nm else math.gcd(q_group or k, 16)) if after_stream else 0
        return Kernel(name, "gemv", rows, k, max(1, min(macs, k)), stored[cls], block)

    ks = [Kernel("n1", "norm", d, d), gemv("wq", dq, d, m_qkv)]
    ks += [gemv("wk", dkv, d, m_qkv * dkv // dq), gemv("wv", dkv, d, m_qkv * dkv // dq)]
    if not is_gpt(shape):
        ks += [Kernel("rope_q", "rope", dq), Kernel("rope_k", "rope", dkv)]
    ks += [Kernel("attn", "attention", shape.n_heads, shape.head_dim, max(1, m_attn))]
    ks += [gemv("wo", d, dq, m_qkv), Kernel("add1", "add", d), Kernel("n2", "norm", d, d)]
    ks += [
        gemv(m, dff if m != "w_down" else d, d if m != "w_down" else dff, m_ffn)
        for m in layer_mats(shape)[4:]
    ]
    ks += [Kernel("act", "act", dff), Kernel("add2", "add", d)]
    # The LM head runs once per call, after the last pass, on the FFN kernels' multipliers.
    nffn = len(layer_mats(shape)) - 4
    ks += [Kernel("lm_head", "gemv", shape.vocab, d, max(1, min(m_ffn * nffn, q_group or d)))]
    return SpatialPlan(
        shape, w_bits, q_group, prune, stored, c, math.ceil(n / c), depth, tile,
        storage == "onchip", max_pos, tuple(ks), tuple(_fifos(shape, depth, tile, max_pos)),
        bool(pack),
    )  # fmt: skip


def _fifos(shape: ModelShape, depth: int, tile: int, max_pos: int) -> list[Fifo]:
    """Streams of one layer. A GEMV emits only after its input tile is in, so the residual
    (skip) streams wait while tiles cross the GEMVs: up to three tiles are in flight
    between a fork and its add (one in each GEMV, one arriving), never more than a call's
    tokens (max_pos). Sized by this reasoning, not yet by co-simulation. An encoder's
    attention emits nothing before every token's q, k, v is in, so its first skip stream
    holds the whole call (max_pos tokens); the other streams are named as the decoder's
    (for post-LN, ``n1`` is the fork of the layer input and ``n2`` the norm after add1)."""
    skip = max(depth, min(3 * tile, max_pos) * shape.d_model)
    skip1 = max(depth, max_pos * shape.d_model) if not shape.causal else skip
    rope = not is_gpt(shape)
    q_to = "rope_q" if rope else "attn"
    k_to = "rope_k" if rope else "attn"
    f = [Fifo("x_skip1", "n1", "add1", skip1), Fifo("h_q", "n1", "wq", depth)]
    f += [Fifo("h_k", "n1", "wk", depth), Fifo("h_v", "n1", "wv", depth)]
    f += [
        Fifo("q", "wq", q_to, depth),
        Fifo("k", "wk", k_to, depth),
        Fifo("v", "wv", "attn", depth),
    ]
    if rope:
        f += [Fifo("q_r", "rope_q", "attn", depth), Fifo("k_r", "rope_k", "attn", depth)]
    f += [Fifo("ctx", "attn", "wo", depth), Fifo("o", "wo", "add1", depth)]
    f += [Fifo("x1", "add1", "n2", depth), Fifo("x_skip2", "n2", "add2", skip)]
    f += [Fifo("h_up", "n2", "w_up", depth), Fifo("up", "w_up", "act", depth)]
    if rope:
        f += [Fifo("h_gate", "n2", "w_gate", depth), Fifo("gate", "w_gate", "act", depth)]
    f += [Fifo("mid", "act", "w_down", depth), Fifo("down", "w_down", "add2", depth)]
    return f


def _check_shape(shape: ModelShape, max_pos: int) -> None:
    if shape.ffn not in ("gelu", "swiglu"):
        raise SpatialError("ffn", f"expected gelu or swiglu, got {shape.ffn!r}")
    if not shape.causal and shape.ffn != "gelu":
        raise SpatialError("ffn", "the spatial encoder is BERT-style (LayerNorm, GELU): gelu")
    unsupported = {
        "n_experts": shape.n_experts,
        "kv_lora_rank": shape.kv_lora_rank,
        "window": shape.window,
        "parallel_block": int(shape.parallel_block),
    }
    for key, v in unsupported.items():
        if v:
            raise SpatialError(key, "the spatial HLS top builds dense MHA/GQA layers only (0)")
    if shape.n_heads % shape.n_kv_heads:
        raise SpatialError("n_kv_heads", f"must divide n_heads ({shape.n_heads})")
    if shape.head_dim % 2:
        raise SpatialError("head_dim", "must be even (RoPE pairs)")
    if not 2 <= max_pos <= 4096:
        raise SpatialError("max_positions", "the KV buffers hold 2..4096 positions")
