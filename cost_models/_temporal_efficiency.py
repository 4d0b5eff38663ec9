"""Cycles the temporal model's engines are not busy: the overlay sim rung's physics.

Every term comes from the overlay's cycle model (``_overlay_cycles``, docs/models.md
"Engine efficiency"), vectorised over design points: instruction fetch and setup, a
streamed operand's wait for its first beat, the SFU's bit-serial steps, the KV port's
bursts in flight, and without ``overlap`` every fetch's wait.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models._common import Arrays, layer_ops, sel, uniform
from cost_models._overlay_cycles import (
    BUF_READ,
    FETCH,
    KV_DRAIN,
    LUT_ENTRIES,
    NORM_DRAIN,
    OUTSTANDING,
    SERIAL_STEPS,
    SETUP,
    STREAM_START,
    WB_DRAIN,
)
from cost_models._workload import Workload


def _ceil_div(a: Any, b: Any) -> Any:
    return np.ceil(a / b)


def efficiency(
    p: Arrays,
    w: Workload,
    platform: Any,
    f: Any,
    heads: Any,
    kv_split: Any,
    kvb: Any,
    w_bits: Any,
    wbytes: dict[str, Any],
    kv_pack: Any = 1.0,
    act_cpb: Any = 0.0,
) -> dict[str, Any]:
    """Cycles the engines are not busy, as the sim rung measures them on the overlay
    (``_overlay_cycles``, docs/models.md "Engine efficiency"): every instruction costs a
    fetch and a setup cycle; a streamed operand (a weight matrix, one head's K or V rows,
    an embedding row) waits STREAM_START cycles plus the memory's read latency for its
    first beat (with ``overlap``; without it every fetch waits, see the callers); a norm
    runs a bit-serial square root and divider, softmax a divider. Heads run one after
    another on a core, so per-head terms count ``⌈heads / cores⌉``."""
    m = w.model
    cores = p["cores"]
    overlap = p["overlap"]
    inst = FETCH + SETUP
    lat = platform.memory.read_latency_ns * 1e-9 * f
    fill = STREAM_START + lat
    hc = np.ceil(heads / cores)
    kvh = np.ceil(np.maximum(1.0, m.n_kv_heads / kv_split) / cores)
    n_mats = sum(op.share for op in layer_ops(w))
    norms = 1 if m.parallel_block else 2
    norm = inst + 1 + 2 * SERIAL_STEPS + NORM_DRAIN  # + the norm's multiply stages
    act = 2 if m.ffn_matrices > 2 else 1  # gated: activation, then the product
    rope = 2 if m.positions == "rope" else 0  # q and k
    # Scalars first, then one array term each (the model runs on 16k-point chunks).
    # An MV instruction ends after its requant pipeline drains (WB_DRAIN), a KV-row dot
    # product after its sum and requant stages (KV_DRAIN).
    # Per weight load (a chunk of tokens): the linear maps, residual adds and activation run
    # once over the chunk; per token: its norms and RoPE (row-wise, one token at a time).
    layer_fixed = n_mats * (1 + inst + WB_DRAIN) + (2 + act) * inst
    layer_token = norms * norm + rope * inst
    head_fixed = 3 * inst + 1 + SERIAL_STEPS + KV_DRAIN  # scores, softmax (+ divider), context
    # Constants into the scratchpad (each LOAD waits for its first bytes, then runs at the
    # slower of ``banks`` words a cycle and the act port's ``act_cpb`` cycles a byte): per
    # weight load a layer's two norms, its activation and exp LUTs (three LOADs); per
    # sequence the final norm's. (elements, bytes) of each:
    banks = np.maximum(2.0, 2.0 ** np.ceil(np.log2(np.maximum(p["sfu_lanes"], 1))))
    d2 = 2 * m.d_model

    beat = p["axi_port_bits"] / 8

    def loads(*what: tuple[int, int]) -> Any:
        total: Any = 0.0
        for n, nbytes in what:
            pops = _ceil_div(n, banks)
            streamed = inst + fill + BUF_READ + np.maximum(pops, nbytes * act_cpb)
            # without overlap each pop of ``banks`` elements that finds the buffer empty
            # fetches whole beats and waits for them
            per_fetch = np.maximum(beat, _ceil_div(banks * nbytes / n, beat) * beat)
            waits = _ceil_div(nbytes, per_fetch) * (fill + BUF_READ)
            total = total + sel(overlap, streamed, inst + 1 + waits + pops)
        return total

    layer_consts = loads((d2, d2), (LUT_ENTRIES, 2 * LUT_ENTRIES), (d2 + LUT_ENTRIES,) * 2)
    out = {
        "kvb": kvb,
        "burst_cycles": np.maximum(2.0, lat / OUTSTANDING),
        # per token: its embedding rows (and RoPE tables) and the host's start of its entry
        "step_token": 3 * fill + 3 * inst + FETCH + 2,
        # per sequence: the final norm and the LM head's stream
        "step_seq": norm + loads((d2, d2)) + ((fill + 1 + inst) if w.lm_head else 0.0),
        "layer_token": layer_token,
        # scratchpad / operand-buffer banks: SFU lanes rounded up to a power of two, >= 2
        "banks": banks,
        "first": STREAM_START + BUF_READ + lat,  # request to a streamed operand's first byte
    }
    writes = kvh * (2 * (inst + 1) + 2 * lat)  # K and V writes wait for their response
    if uniform(overlap) and bool(overlap):
        out["layer"] = layer_fixed + layer_consts + n_mats * fill
        out["per_seq"] = hc * (head_fixed + 2 * fill) + writes
        return out
    # Without overlap a weight fetch is requested only when the engine waits for it: one
    # per tile, or per beat where a tile is narrower than a beat; each waits ``fill``.
    fetches = sum(wbytes.values()) / np.maximum(p["mv_k"] * p["mv_n"] * w_bits / 8, beat)
    out["layer"] = layer_fixed + layer_consts + sel(overlap, n_mats * fill, n_mats + fetches * fill)
    out["per_seq"] = hc * (head_fixed + sel(overlap, 2 * fill, 2.0)) + writes
    lanes = p["mv_k"] * p["mv_n"] / kv_pack  # multipliers a KV row uses
    k_pop = np.maximum(np.minimum(lanes, m.attn_qk_width) * kvb, beat)
    out["k_fetches_per_row"] = _ceil_div(m.attn_qk_width * kvb, k_pop)
    out["v_pop"] = np.maximum(lanes * kvb, beat)
    out["kv_fetch_cost"] = hc * fill
    return out


def kv_fetch_cycles(w: Workload, eff: dict[str, Any], b: int, kv_len: Any) -> Any:
    """Waits of one pass's KV rows without overlap: each row's bytes are fetched as the
    engine pops them (``min(lanes, row)`` elements, a fetch never past its row), and each
    fetch waits ``fill`` cycles."""
    m = w.model
    k = kv_len * eff["k_fetches_per_row"]
    v = m.attn_sv_width * _ceil_div(kv_len * eff["kvb"], eff["v_pop"])
    return eff["kv_fetch_cost"] * (b * (k + v))
