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

from cost_models._points import GROUPS, PLACEMENTS, QUANT_A_BITS, QUANT_W_BITS, QUANTS
from cost_models._workload import Workload

Arrays = dict[str, np.ndarray]
DATA_DIR = Path(__file__).resolve().parent / "data"


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


def precision(p: Arrays) -> Precision:
    q = p["quant"]
    a_bits = QUANT_A_BITS[q]
    attn_q = np.where(a_bits >= 16, QUANTS.index("fp16"), QUANTS.index("w8a8"))
    return Precision(q, QUANT_W_BITS[q], a_bits, p["kv_bits"], attn_q)


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


@dataclass(frozen=True)
class Op:
    """One matrix operator of a layer: shape of one token's work and its weights."""

    name: str
    group: str  # memory group its weights (or KV) live in
    red: float  # reduction length
    out: float  # outputs per token
    weights: float  # weight elements (0 for activation × activation)
    cls: str  # sparsity class: qk | vo | ffn | attn


def layer_ops(w: Workload) -> list[Op]:
    """Operators of one transformer layer, per token (attention at KV length filled in later)."""
    m = w.model
    ops = [
        Op("q", "wqkv", m.d_model, m.d_q, m.d_model * m.d_q, "qk"),
        Op("k", "wqkv", m.d_model, m.d_kv, m.d_model * m.d_kv, "qk"),
        Op("v", "wqkv", m.d_model, m.d_kv, m.d_model * m.d_kv, "vo"),
        Op("o", "wo", m.d_q, m.d_model, m.d_q * m.d_model, "vo"),
        Op(
            "ffn_up",
            "wffn",
            m.d_model,
            m.d_ffn * (m.ffn_matrices - 1),
            m.d_model * m.d_ffn * (m.ffn_matrices - 1),
            "ffn",
        ),
        Op("ffn_down", "wffn", m.d_ffn, m.d_model, m.d_ffn * m.d_model, "ffn"),
    ]
    return ops


@dataclass(frozen=True)
class Channels:
    """Memory bandwidth (bytes/s) and capacity (bytes) each tensor group can draw, per FPGA."""

    bw: dict[str, np.ndarray]
    cap: dict[str, np.ndarray]
    union_bw: np.ndarray
    peak_bw: float
    count: dict[str, np.ndarray]
    distinct: np.ndarray
    channel_capacity: float


def channels(p: Arrays, platform: Any) -> Channels:
    """Map tensor groups to channel ranges and derive their bandwidth.

    Groups take contiguous channel ranges in the order of ``GROUPS``, wrapping around, so
    any channel counts give a valid mapping; once the counts add up to more than the device
    has, groups share channels and contend (see :func:`memory_time`). A channel delivers
    ``min(channel peak, port width × kernel clock) × efficiency``; efficiency is the
    platform's ``local`` figure when each port owns its channels and ``global`` when ports
    reach channels through the switch (FlightLLM's profiler: 0.7 same-channel, 0.35
    cross-channel); a global group that also spans stacks is counted at the global figure.
    """
    mem = platform.memory
    freq = p["freq_mhz"] * 1e6
    per_ch = np.minimum(mem.channel_gbps * 1e9, p["axi_port_bits"] / 8.0 * freq)
    local = p["hbm_placement"] == PLACEMENTS.index("local")
    start = np.zeros_like(per_ch)
    bw, cap, count = {}, {}, {}
    total = np.zeros_like(per_ch)
    for g in GROUPS:
        n = np.minimum(p[f"hbm_ch_{g}"], mem.channels)
        eff = np.where(local, mem.eff_local, mem.eff_global)
        bw[g] = n * per_ch * eff
        cap[g] = n * mem.channel_capacity_gb * 1e9
        count[g] = n
        start = start + n
        total = total + n
    distinct = np.minimum(total, mem.channels)
    eff_all = np.where(local, mem.eff_local, mem.eff_global)
    return Channels(
        bw,
        cap,
        distinct * per_ch * eff_all,
        mem.peak_gbps * 1e9,
        count,
        distinct,
        mem.channel_capacity_gb * 1e9,
    )


def memory_time(bytes_by_group: dict[str, np.ndarray], ch: Channels) -> np.ndarray:
    """Seconds to move concurrent streams: each group at its own bandwidth, and all of
    them together no faster than the distinct channels they cover (contention)."""
    t = np.zeros_like(ch.union_bw)
    total = np.zeros_like(ch.union_bw)
    for g, b in bytes_by_group.items():
        t = np.maximum(t, b / ch.bw[g])
        total = total + b
    return np.maximum(t, total / ch.union_bw)
