"""Pieces both architecture families share: precision, sparsity, operators, memory channels.

All functions are vectorised: design parameters arrive as numpy arrays of one length, the
workload and platform as scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cost_models._points import (
    GROUPS,
    PLACEMENTS,
    PORT_CLOCKS,
    QUANT_A_BITS,
    QUANT_W_BITS,
    QUANTS,
)
from cost_models._workload import Workload

# Per-point values by name: numpy arrays, or scalars where every point shares the value.
Arrays = dict[str, Any]
DATA_DIR = Path(__file__).resolve().parent / "data"


_SQRT_HALF = float(np.sqrt(0.5))
_POW2_NEG = np.exp2(-np.arange(64.0))  # 2^-i


def uniform(x: Any) -> bool:
    """True for a value shared by every point (a scalar rather than a per-point array)."""
    return not isinstance(x, np.ndarray) or x.ndim == 0


def sel(cond: Any, a: Any, b: Any) -> Any:
    """``np.where`` that, for a condition shared by every point, just picks a branch.

    With a zero branch it multiplies by the condition instead (half the cost of
    ``np.where``, exact for the finite values the models produce).
    """
    if uniform(cond):
        return a if cond else b
    if uniform(b) and b == 0:
        return a * cond
    if uniform(a) and a == 0:
        return b * ~cond
    return np.where(cond, a, b)


@cache
def dsp_table(dsp_kind: str) -> dict[str, np.ndarray]:
    """Per-quant arrays (indexed by quant code) of MACs/DSP, LUT/MAC and FF/MAC."""
    data = yaml.safe_load((DATA_DIR / "dsp_kinds.yaml").read_text())
    if dsp_kind not in data:
        from cost_models._errors import InputError, did_you_mean

        kinds = [k for k in data if k != "version"]
        raise InputError(
            str(DATA_DIR / "dsp_kinds.yaml"),
            dsp_kind,
            f"unknown DSP kind; expected one of {', '.join(kinds)}",
            did_you_mean(dsp_kind, kinds),
        )
    entry = data[dsp_kind]
    return {
        key: np.array([float(entry[key][q]) for q in QUANTS])
        for key in ("macs_per_dsp", "lut_per_mac", "ff_per_mac")
    }


@dataclass(frozen=True)
class Precision:
    """Bit widths per point. Attention multiplies activations by KV entries, so it takes
    the FP16 row when activations are FP16 and the W8A8 row otherwise."""

    quant: np.ndarray
    w_bits: np.ndarray
    a_bits: np.ndarray
    kv_bits: np.ndarray
    attn_quant: np.ndarray


# Attention's quant row per quant code: FP16 activations -> fp16, else w8a8.
_ATTN_QUANT = np.where(QUANT_A_BITS >= 16, QUANTS.index("fp16"), QUANTS.index("w8a8"))


def precision(p: Arrays) -> Precision:
    q = p["quant"]
    return Precision(q, QUANT_W_BITS[q], QUANT_A_BITS[q], p["kv_bits"], _ATTN_QUANT[q])


def densities(p: Arrays) -> dict[str, np.ndarray]:
    """Kept fraction per operator class, snapped to what the structure can express.

    N:M keeps ``round(d·M)`` of every M (at least 1); log-scale structured sparsity keeps
    ``2^-k`` (nearest power of two); ``none`` keeps everything.
    """
    kind = p["sparsity"]
    out = {}
    for cls in ("qk", "vo", "ffn"):
        d = p[f"density_{cls}"]
        nm = np.maximum(1.0, np.round(d * p["nm_m"])) / p["nm_m"]
        log = np.exp2(np.round(np.log2(d)))
        out[cls] = np.select([kind == 1, kind == 2], [nm, log], 1.0)
    return out


def _sparse_bits(p: Arrays, prec: Precision, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kind = p["sparsity"]
    idx = np.select(
        [kind == 1, kind == 2], [np.ceil(np.log2(p["nm_m"])), 1.0 + np.log2(1.0 / density)], 0.0
    )
    idx = np.where(density >= 1.0, 0.0, idx)
    integer_weights = prec.w_bits < 16
    scale = np.where(
        integer_weights & (p["quant_group"] > 0), 16.0 / np.maximum(p["quant_group"], 1), 0.0
    )
    return density * (prec.w_bits + idx) + scale, prec.w_bits + scale


def weight_storage(
    p: Arrays, prec: Precision, density: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stored bits per *original* weight, and the fraction of MACs executed.

    Index bits per kept weight: N:M stores ``log2 M`` (position inside the group);
    log-scale structured stores ``1 + log2(1/d)``, which reproduces EdgeLLM's reported
    effective widths (4.125 / 3.125 / 1.875 / 1.125 bits at 0 / 50 / 75 / 87.5 % sparsity
    with INT4 and one FP16 scale per 128 weights). Where the indices cost more than the
    zeros save, the tensor is stored dense and its zeros are multiplied like any weight.
    """
    sparse, dense = _sparse_bits(p, prec, density)
    pays = sparse < dense
    return np.where(pays, sparse, dense), np.where(pays, density, 1.0)


def sparse_weights(p: Arrays, prec: Precision) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per sparsity class: stored bits per original weight and the fraction of MACs executed.

    The same numbers as :func:`densities` + :func:`weight_storage`, in one pass with the
    shared terms computed once (this runs for every design point).
    """
    kind = p["sparsity"]
    w_bits = prec.w_bits
    group = p["quant_group"]
    if uniform(group):  # the usual case: per-quant tables, one lookup per point
        scale_q = np.where((QUANT_W_BITS < 16) & (group > 0), 16.0 / max(group, 1), 0.0)
        scale, dense = scale_q[prec.quant], (QUANT_W_BITS + scale_q)[prec.quant]
    else:
        scale = sel((w_bits < 16) & (group > 0), 16.0 / np.maximum(group, 1), 0.0)
        dense = w_bits + scale
    if uniform(kind) and kind == 0:
        return {c: dense for c in ("qk", "vo", "ffn")}, {c: 1.0 for c in ("qk", "vo", "ffn")}
    nm_m = p["nm_m"]
    is_nm, is_log = kind == 1, kind == 2
    only_nm = uniform(kind) and kind == 1
    nm_idx = np.ceil(np.log2(nm_m))
    bits: dict[str, Any] = {}
    dens: dict[str, Any] = {}
    for cls in ("qk", "vo", "ffn"):
        d = p[f"density_{cls}"]
        if uniform(d) and d >= 1.0:  # nothing pruned: indices could only add bits
            bits[cls], dens[cls] = dense, 1.0
            continue
        nm = np.fmax(np.round(d * nm_m), 1.0)
        nm /= nm_m
        if only_nm:
            kept, idx = nm, nm_idx
        else:
            # Log-scale keeps the nearest power of two, 2^e with e = round(log2 d): from
            # d = m·2^k (m in [0.5, 1)), e = k - 1 when m < √½ else k. Densities are in
            # [0.01, 1], so -e is in [0, 7] and 2^e a table lookup.
            mant, k = np.frexp(d)
            e = k - (mant < _SQRT_HALF)
            kept = sel(is_nm, nm, sel(is_log, _POW2_NEG[-e], 1.0))
            # index bits per kept weight: log2 M (N:M), 1 + log2(1/kept) = 1 - e (log)
            idx = sel(is_nm, nm_idx, 1.0 - e)
        sparse = kept * (w_bits + idx)
        sparse += scale
        pays = sparse < dense
        bits[cls] = np.where(pays, sparse, dense)
        dens[cls] = np.where(pays, kept, 1.0)
    return bits, dens


def sparse_group_terms(p: Arrays) -> tuple[Any, Any]:
    """Per point, for the sparse datapath's operand multiplexer: LUT6 levels of its M:1
    mux, ⌈(M−1)/3⌉, and index bits, ⌈log2 M⌉; M = nm_m for N:M, 8 otherwise."""
    kind, nm_m = p["sparsity"], p["nm_m"]
    if uniform(nm_m):
        g = float(nm_m)
        mux = np.array([3.0, np.ceil((g - 1) / 3), 3.0])
        idx = np.array([3.0, np.ceil(np.log2(g)), 3.0])
        return mux[kind], idx[kind]
    group = sel(kind == 1, nm_m, 8.0)
    return np.ceil((group - 1) / 3), np.ceil(np.log2(group))


def dequant_lanes(p: Arrays, prec: Precision, macs: Any, reduction: float) -> Any:
    """Scale multipliers that keep up with ``macs`` MACs/cycle of integer weights: one per
    group of ``quant_group`` products (per-channel scales: one per output, i.e. per
    ``reduction`` products); FP16 weights need none."""
    group = p["quant_group"]
    per = sel(group > 0, np.minimum(group, reduction), reduction)
    return sel(prec.w_bits < 16, np.ceil(macs / per), 0.0)


@dataclass(frozen=True)
class Op:
    """One matrix operator of a layer: shape of one token's work and its weights.

    ``share`` is the fraction of layers that have the operator (a MoE model's first dense
    layers have a dense FFN, the rest experts); ``routed`` operators belong to the routed
    experts: ``weights`` and ``out`` are those of the ``k`` experts one token uses, and a
    step of T tokens reads the weights of ``experts_touched(T)`` experts instead.
    """

    name: str
    group: str  # memory group its weights (or KV) live in
    red: float  # reduction length
    out: float  # outputs per token
    weights: float  # weight elements (0 for activation × activation)
    cls: str  # sparsity class: qk | vo | ffn | attn
    share: float = 1.0
    routed: bool = False


def layer_ops(w: Workload) -> list[Op]:
    """Operators of one transformer layer, per token (attention at KV length filled in later)."""
    m = w.model
    d, n = m.d_model, m.n_layers
    if m.mla:
        # DeepSeek-V2 decoding with the up-projections absorbed: the latent (and rotary
        # key) is projected from d; kv_b maps queries into, and outputs out of, the latent.
        q_out = m.n_heads * m.head_dim
        kv_a = m.kv_lora_rank + m.rope_head_dim
        kv_b = m.n_heads * (m.head_dim - m.rope_head_dim + m.v_dim)
        ops = [
            Op("q", "wqkv", m.w_q / q_out, q_out, m.w_q, "qk"),
            Op("kv_a", "wqkv", d, kv_a, d * kv_a, "qk"),
            Op("kv_b", "wqkv", m.kv_lora_rank, kv_b, m.kv_lora_rank * kv_b, "vo"),
        ]
    elif m.fused_qkv:
        out = m.d_q + 2 * m.d_kv
        ops = [Op("qkv", "wqkv", d, out, d * out, "qk")]
    else:
        ops = [
            Op("q", "wqkv", d, m.d_q, d * m.d_q, "qk"),
            Op("k", "wqkv", d, m.d_kv, d * m.d_kv, "qk"),
            Op("v", "wqkv", d, m.d_kv, d * m.d_kv, "vo"),
        ]
    ops.append(Op("o", "wo", m.n_heads * m.v_dim, d, m.w_o, "vo"))
    gate = m.ffn_matrices - 1
    dense = (m.dense_layers / n) if m.moe else 1.0
    if dense > 0:
        ops += [
            Op("ffn_up", "wffn", d, m.d_ffn * gate, d * m.d_ffn * gate, "ffn", dense),
            Op("ffn_down", "wffn", m.d_ffn, d, m.d_ffn * d, "ffn", dense),
        ]
    if m.moe:
        share, k, e = m.moe_layers / n, m.experts_per_token, m.d_expert
        ops += [
            Op("router", "wffn", d, m.n_experts, d * m.n_experts, "ffn", share),
            Op("expert_up", "wffn", d, k * e * gate, k * d * e * gate, "ffn", share, True),
            Op("expert_down", "wffn", e, k * d, k * e * d, "ffn", share, True),
        ]
        if m.n_shared_experts:
            s = m.n_shared_experts * e
            ops += [
                Op("shared_up", "wffn", d, s * gate, d * s * gate, "ffn", share),
                Op("shared_down", "wffn", s, d, s * d, "ffn", share),
            ]
    return ops


def routed_factor(w: Workload, tokens: Any) -> Any:
    """Weights a step of ``tokens`` tokens reads of the routed experts, over one token's."""
    m = w.model
    return m.experts_touched(tokens) / m.experts_per_token if m.moe else 1.0


@dataclass(frozen=True)
class Channels:
    """Memory bandwidth (bytes/s) and capacity (bytes) each tensor group can draw, per FPGA.

    ``cover[h][g]`` says whether group ``g``'s channel range contains the first channel of
    group ``h``; a sum over groups that share a channel peaks at some group's first
    channel, so these 25 flags are all the per-channel accounting needs.
    """

    bw: dict[str, Any]
    cap: dict[str, Any]
    union_bw: Any
    peak_bw: float
    count: dict[str, Any]
    distinct: Any
    channel_capacity: float
    requested: Any = 0.0  # Σ channel counts over groups (ports of a local mapping)
    cover: dict[str, dict[str, Any]] | None = None
    port_cdc: Any = False  # ports cross from the kernel clock to the memory clock


def channels(p: Arrays, platform: Any) -> Channels:
    """Map tensor groups to channel ranges and derive their bandwidth.

    Groups take contiguous channel ranges in the order of ``GROUPS``, wrapping around, so
    any channel counts give a valid mapping; once the counts add up to more than the device
    has, groups share channels and contend (see :func:`memory_time`). A channel delivers

    - ``port_clock: memory``: its peak, the port running at the memory's clock behind a
      clock crossing and width converter (the kernel side widens as its clock drops);
    - ``port_clock: kernel``: ``min(channel peak, axi_port_bits/8 · kernel clock)``;

    times an efficiency: ``local`` when each port owns its channels; with ``global``
    (ports reach their channels through the HBM switch) the share of a group's traffic
    that stays inside one switch segment (``min(n, segment)/n`` of its channels) still
    runs at the ``local`` figure and only the rest, which crosses segments, at ``global``
    (FlightLLM's profiler: 0.7 same-channel, 0.35 cross-channel).
    """
    mem = platform.memory
    freq = p["freq_mhz"] * 1e6
    peak = mem.channel_gbps * 1e9
    if mem.port_clock_mhz > 0:  # the controller's own port may deliver less than the channel
        peak = min(peak, mem.port_bits / 8.0 * mem.port_clock_mhz * 1e6)
    kernel_port = p["port_clock"] == PORT_CLOCKS.index("kernel")
    per_ch = sel(kernel_port, np.minimum(peak, p["axi_port_bits"] / 8.0 * freq), peak)
    is_local = p["hbm_placement"] == PLACEMENTS.index("local")
    seg = mem.segment_channels or mem.channels
    ch_cap = mem.channel_capacity_gb * 1e9
    bw, cap, count, start = {}, {}, {}, {}
    total: Any = 0.0
    c = mem.channels
    for g in GROUPS:
        n = p[f"hbm_ch_{g}"]  # validated to at most the device's channels
        inside = np.minimum(n, seg) / n
        glob = 1.0 / (inside / mem.eff_local + (1.0 - inside) / mem.eff_global)
        bw[g] = n * per_ch * sel(is_local, mem.eff_local, glob)
        cap[g] = n * ch_cap
        count[g] = n
        start[g] = total
        total = total + n
    # Coverage in small integers (counts are at most the device's channels): group g covers
    # group h's first channel when (start_h - start_g) mod C < n_g; with both starts
    # wrapped into [0, C) the difference only needs C added where it is negative.
    small = {g: _small_int(v) for g, v in count.items()}
    first = {g: _small_int(v) % c for g, v in start.items()}
    c16 = np.int16(c)
    cover: dict[str, dict[str, Any]] = {h: {} for h in GROUPS}
    for h in GROUPS:
        for g in GROUPS:
            if h == g:
                cover[h][g] = True
                continue
            d = first[h] - first[g]
            d = d + c16 * (d < 0)
            covered = d < small[g]
            # as 0/1 floats once here: per_channel_peak multiplies by them several times
            cover[h][g] = covered if uniform(covered) else covered.astype(np.float64)
    distinct = np.minimum(total, mem.channels)
    union = distinct * per_ch * mem.eff_local
    return Channels(
        bw,
        cap,
        union,
        mem.peak_gbps * 1e9,
        count,
        distinct,
        ch_cap,
        total,
        cover,
        np.logical_not(kernel_port),
    )


def _small_int(x: Any) -> Any:
    """Channel counts and offsets (< 2^15) as int16 arrays, or Python ints when uniform."""
    return int(x) if uniform(x) else x.astype(np.int16)


def per_channel_peak(values: dict[str, Any], ch: Channels) -> Any:
    """Largest per-channel sum of ``values`` (each already per channel of its group) over
    the channels of the given groups: ``max_h Σ_g cover[h][g] · values[g]``."""
    assert ch.cover is not None
    worst: Any = 0.0
    tmp: Any = None
    for h in values:
        acc: Any = values[h] + 0.0  # a fresh array (or scalar) to accumulate into
        for g, v in values.items():
            c = ch.cover[h][g]
            if g == h or (uniform(c) and not c):
                continue
            if uniform(c):
                acc = acc + v
            elif isinstance(acc, np.ndarray) and isinstance(v, np.ndarray) and v.shape == c.shape:
                tmp = np.multiply(v, c, out=tmp)  # in place: no temporaries per pair
                acc += tmp
            else:
                acc = acc + v * c
        worst = np.maximum(worst, acc)
    return worst


def memory_time(bytes_by_group: dict[str, Any], ch: Channels) -> Any:
    """Seconds to move concurrent streams: every channel carries its share of each group
    that covers it (``bytes_g / n_g``), so the busiest channel sets the time, Σ over the
    groups sharing it of ``bytes_g / bw_g``. Disjoint groups reduce to ``max_g bytes_g /
    bw_g``; groups wrapped onto the same channels add up (issue 16 item 2)."""
    if len(bytes_by_group) == 1:
        ((g, b),) = bytes_by_group.items()
        return b / ch.bw[g]
    return per_channel_peak({g: b / ch.bw[g] for g, b in bytes_by_group.items()}, ch)
