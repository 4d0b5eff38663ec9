"""Temporal (overlay) accelerator: one set of engines reused layer after layer.

Models the EdgeLLM / FlightLLM / DFX family: an instruction-driven matrix engine with a
matrix-matrix mode for prefill and a matrix-vector mode for decode, optional separate FP16
attention engine, a non-linear unit, and weights plus KV cache streamed from off-chip memory
every token. ``docs/models.md`` explains every term. Cycle counts are per FPGA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models import _overlay_resources as ovr
from cost_models._common import (
    Arrays,
    Channels,
    dequant_lanes,
    dsp_table,
    layer_ops,
    precision,
    routed_factor,
    sel,
    sparse_group_terms,
    sparse_weights,
    uniform,
)
from cost_models._overlay_cycles import (
    BUF_READ,
    FETCH,
    KV_DRAIN,
    MAX_BURST_BYTES,
    MV_SUM,
    NORM_DRAIN,
    OUTSTANDING,
    SERIAL_STEPS,
    SETUP,
    STREAM_START,
    WB_DRAIN,
)
from cost_models._points import QUANTS
from cost_models._spatial import _link_bw, logic
from cost_models._workload import Workload

# Prefill token slots the overlay template builds at most (templates/overlay manifest TT).
TT_MAX = 8


def _ceil_div(a: Any, b: Any) -> Any:
    return np.ceil(a / b)


def _scaled(r: dict[str, Any], steps: float) -> dict[str, Any]:
    """A pass repeated ``steps`` times (serial prefill: one generation step per token)."""
    return {
        **r,
        "cycles": steps * r["cycles"],
        "lm_t": steps * r["lm_t"],
        "breakdown": {k: steps * v for k, v in r["breakdown"].items()},
    }


def _faster(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per point, the pass of ``a`` or ``b`` that takes fewer cycles."""
    pick = a["cycles"] < b["cycles"]
    return {
        k: (
            {n: np.where(pick, v, b[k][n]) for n, v in a[k].items()}
            if isinstance(a[k], dict)
            else np.where(pick, a[k], b[k])
        )
        for k in a
    }


def evaluate_temporal(
    p: Arrays,
    w: Workload,
    platform: Any,
    ch: Channels,
    detail: bool = True,
    prefill: bool = True,
) -> Arrays:
    """The model's columns (``prefill`` false: no prefill pass, its columns NaN)."""
    m = w.model
    prec = precision(p)
    f = p["freq_mhz"] * 1e6
    tp, pp, cores = p["tp"], p["pp"], p["cores"]
    b = w.batch
    l_in = w.prompt_len
    n_layers = float(m.n_layers)
    link = _link_bw(platform)
    attn_sep = p["attn_macs"] > 0
    overlap = p["overlap"]
    bits, dens = sparse_weights(p, prec)
    out: Arrays = {}
    ops = layer_ops(w)
    # f / bandwidth: cycles per byte of each group (memory_time of one stream, in cycles).
    cpb = {g: f / bw for g, bw in ch.bw.items()}
    per_bit = {c: bits[c] / 8 / tp for c in ("qk", "vo", "ffn")}
    # Per layer on average (``share``: the fraction of layers that have the operator).
    wbytes = {op.name: op.weights * op.share * per_bit[op.cls] for op in ops}
    # Cycles to stream each operator's weights once (routed experts: one token's k).
    mem_once = {op.name: wbytes[op.name] * cpb[op.group] for op in ops}
    mem_fixed = sum(mem_once[op.name] for op in ops if not op.routed)
    mem_routed = sum(mem_once[op.name] for op in ops if op.routed)
    routed = {op.name for op in ops if op.routed}
    # Operators of one shape (same reduction, outputs, weights, sparsity class, memory
    # group and layer share) cost the same; each shape is computed once.
    shapes: dict[tuple[float, str, float, str, float, float, bool], list[str]] = {}
    for op in ops:
        key = (op.red, op.cls, op.out, op.group, op.weights, op.share, op.routed)
        shapes.setdefault(key, []).append(op.name)
    heads = m.n_heads / tp
    # Bytes of one token's KV entry per FPGA: heads split over tp, but a KV head (or MLA's
    # latent, which every head reads) is replicated where there are fewer than tp of them.
    kv_split = 1.0 if m.mla else np.minimum(tp, m.n_kv_heads)
    kv_entry = m.kv_width * prec.kv_bits / 8 / kv_split
    mv_n = p["mv_n"] * cores
    # Cores in different SLRs hand each layer's results across registered SLL crossings.
    slr_hop = (np.minimum(cores, len(platform.slrs)) - 1.0) * platform.slr_latency_cycles
    e_w = m.embed_width
    lm_weights = m.vocab * e_w + (m.d_model * e_w if m.d_embed else 0)
    lm_bytes = lm_weights * prec.w_bits / 8 / tp
    lm_mem = lm_bytes * cpb["wffn"] if w.lm_head else 0.0
    serial = p["prefill_serial"]
    all_serial = uniform(serial) and bool(serial)
    overlap_all = uniform(overlap) and bool(overlap)
    eff = _efficiency(p, w, platform, f, heads, kv_split, prec.kv_bits / 8, prec.w_bits, wbytes)
    # A local group has a port per channel; global placement one port per core.
    kv_ports = sel(p["hbm_placement"] == 0, ch.count["kv"], cores)
    lat_per_burst = heads * eff["burst_cycles"] / kv_ports  # per burst of every head

    def step(
        tokens: Any,
        seq: Any,
        kv_len: Any,
        e_t: Any,
        e_k: Any,
        e_n: Any,
        loads: Any,
        kv_tokens: Any,
        load_tokens: Any = 1.0,
        queries: Any = 1.0,
        attn: tuple[Any, Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Cycles of one pass through the model for ``tokens`` tokens (``seq`` per sequence)
        whose attention spans ``kv_len`` entries, on an engine of e_t × e_k × e_n; weights
        are loaded ``loads`` times, each for ``load_tokens`` tokens (the routed experts they
        touch), and K/V of ``kv_tokens`` tokens move off chip for each of ``queries`` query
        tokens per sequence whose attention runs one after another (on an engine of
        ``attn`` = (t, k, n), default the pass's)."""
        once = uniform(loads) and loads == 1
        route = routed_factor(w, load_tokens)
        kv_len = m.kv_span(kv_len)  # windowed layers attend to at most their window
        overlapped: Any = 0.0  # Σ max(compute, memory): engines hide the loads
        comp_sum: Any = 0.0
        breakdown: dict[str, Any] = {}
        t_rows = _ceil_div(tokens, e_t)
        # Per block of e_n outputs and weight load: its registered products and accumulate
        # drain (1 + MV_SUM), then every token writes its rows back, ``banks`` rows a cycle
        # and at least a cycle a block (the sim rung's ⌈rows/banks⌉ per block where the
        # block's rows are a multiple of, or below, the banks; a core writes its own rows).
        drain = loads * (1.0 + MV_SUM)
        # Before its first chunk an operator copies each token's input vector into the
        # engine's operand buffers, ``banks`` words a cycle (slot by slot): hidden under the
        # first weights' latency when overlapped, whole otherwise.
        chunk = tokens / loads
        reds: dict[tuple[float, str], Any] = {}
        outs: dict[float, tuple[Any, Any]] = {}
        for (red, cls, out_dim, _, _, share, is_routed), names in shapes.items():
            # Padding to the engine shape counts: ⌈T/e_t⌉·⌈red·dens/e_k⌉·⌈out/e_n⌉.
            if (red, cls) not in reds:
                xfill = chunk * _ceil_div(red, eff["banks"]) + 1.0
                xfill = sel(overlap, np.maximum(xfill - eff["first"], 0.0), xfill)
                reds[red, cls] = (_ceil_div(red * dens[cls], e_k), loads * xfill)
            if out_dim not in outs:
                blocks = _ceil_div(out_dim / tp, e_n)
                rows = np.maximum(blocks, _ceil_div(out_dim / tp / cores, eff["banks"]))
                outs[out_dim] = (blocks, tokens * rows)
            chunks, xfill = reds[red, cls]
            blocks, write_back = outs[out_dim]
            comp = blocks * (chunks * t_rows + drain) + write_back + xfill
            mem = mem_once[names[0]] if once else mem_once[names[0]] * loads
            if is_routed:
                mem = mem * route
            if share != 1.0:  # mem_once is already per average layer
                comp = comp * share
                t = np.maximum(comp, mem)
            else:
                t = np.maximum(comp, mem)
            k = len(names)  # operators of identical shape (q and k without GQA) count alike
            overlapped = overlapped + (t if k == 1 else k * t)
            comp_sum = comp_sum + (comp if k == 1 else k * comp)
            if detail:
                for name in names:
                    breakdown[name] = sel(overlap, t, comp + mem)
        mem_layer_once = mem_fixed + (mem_routed * route if routed else 0.0)
        # Without overlap each operator takes compute + memory.
        if overlap_all:
            layer_cycles = overlapped
        else:
            mem_sum = mem_layer_once if once else mem_layer_once * loads
            layer_cycles = sel(overlap, overlapped, comp_sum + mem_sum)
        # Attention: QK^T then scores·V per head, on the attention engine or the main one.
        # Per head and KV entry: the score product over attn_qk_width and the weighted sum
        # over attn_sv_width (both head_dim, or MLA's latent widths).
        qk_w, sv_w = m.attn_qk_width, m.attn_sv_width
        a_t_, a_k, a_n = attn if attn is not None else (e_t, e_k, e_n)
        a_comp = sel(
            attn_sep,
            b * seq * kv_len * (qk_w + sv_w) * heads / (np.maximum(p["attn_macs"], 1) * cores),
            b
            * heads
            * _ceil_div(seq, a_t_)
            * _ceil_div(kv_len, a_n)
            * (_ceil_div(qk_w, a_k) + _ceil_div(sv_w, a_k)),
        )
        kv_moved = b * queries * m.kv_span(kv_tokens) * kv_entry
        a_mem = kv_moved * cpb["kv"]
        # Short KV rows are latency-bound: each head reads its K rows and (an MV engine
        # computes the context as one dot product per value dimension) V stored per
        # dimension, sv_w rows of kv_len entries; each of the KV group's ports keeps
        # OUTSTANDING bursts in flight and issues one every two cycles.
        bursts = _ceil_div(kv_len * qk_w * eff["kvb"], MAX_BURST_BYTES) + sv_w * _ceil_div(
            kv_len * eff["kvb"], MAX_BURST_BYTES
        )
        a_lat = lat_per_burst * (b * queries * bursts)
        a_t = (
            np.maximum(np.maximum(a_comp, a_mem), a_lat)
            if overlap_all
            else sel(
                overlap,
                np.maximum(np.maximum(a_comp, a_mem), a_lat),
                a_comp + a_mem + _kv_fetch_cycles(w, eff, b * queries, kv_len),
            )
        )
        act_onchip = p["act_onchip"]
        if uniform(act_onchip) and act_onchip:
            act: Any = 0.0
            act_t: Any = 0.0
        else:
            act = sel(act_onchip, 0.0, 4 * tokens * max(m.d_model, m.ffn_width) * prec.a_bits / 8)
            act_t = act / tp * cpb["act"]
        # Non-linear work: two norms (one in a parallel attention + MLP block), softmax
        # (three passes, a fourth adds ALiBi's bias), activation, two residual adds.
        norms = 1 if m.parallel_block else 2
        passes = 4 if m.positions == "alibi" else 3
        nl_elems = (
            tokens * (norms * 3 * m.d_model + 2 * m.d_model + m.ffn_width * (m.ffn_matrices - 1))
            + passes * b * seq * kv_len * heads
        )
        nl = nl_elems / (p["sfu_lanes"] * cores)
        if uniform(tp) and uniform(pp) and tp == 1 and pp == 1:
            t_comm: Any = 0.0
            pp_comm: Any = 0.0
        else:
            comm = tokens * m.d_model * prec.a_bits / 8
            # Ring all-reduces, two per layer: bandwidth 2(tp-1)/tp of the message each, and
            # 2(tp-1) hops of link latency each; a pipeline stage boundary is one hop.
            lat = platform.link_latency_us * 1e-6 * f
            t_comm = sel(tp > 1, 4 * (tp - 1) / tp * comm / link * f + 4 * (tp - 1) * lat, 0.0)
            pp_comm = sel(pp > 1, (pp - 1) * (comm / link * f + lat), 0.0)
        # Instruction dispatch, stream start-up and serial SFU steps (the sim rung's terms),
        # once per chunk of tokens that reloads the weights; plus any fixed extra per layer.
        # A chunk of tokens that reloads the weights pays the per-load terms once; norms,
        # RoPE and every head's attention run token by token (causal: the overlay's step).
        per_token = eff["layer_token"] + eff["per_seq"]
        overhead = p["layer_overhead_cycles"] + loads * eff["layer"] + tokens * per_token
        per_layer = layer_cycles + a_t + nl + t_comm + overhead + act_t + slr_hop
        lm_t: Any = 0.0
        if w.lm_head:
            lm_comp = _ceil_div(b, e_t) * _ceil_div(e_w, e_k) * _ceil_div(m.vocab / tp, e_n)
            lm_t = (
                np.maximum(lm_comp, lm_mem)
                if overlap_all
                else sel(overlap, np.maximum(lm_comp, lm_mem), lm_comp + lm_mem)
            )
        cycles = (
            n_layers * per_layer + pp_comm + lm_t + tokens * eff["step_token"] + b * eff["step_seq"]
        )
        mem_total = (mem_layer_once if once else mem_layer_once * loads) + a_mem
        comp_total = comp_sum + a_comp
        top = np.maximum(mem_total, comp_total)
        mem_bound = mem_total >= comp_total
        if uniform(t_comm) and t_comm == 0:
            bound = np.where(nl + overhead > top, 3, mem_bound)
        else:
            fixed = nl + t_comm + overhead
            bound = np.where(fixed > top, 3, np.where(t_comm >= top, 2, mem_bound))
        if detail:
            breakdown["attention"] = a_t
            breakdown["nonlinear"] = nl
            breakdown["link"] = t_comm
            breakdown["overhead"] = overhead + act_t
        return {
            "cycles": cycles,
            "bound": bound,
            "breakdown": breakdown,
            "lm_t": lm_t,
            "kv_moved": kv_moved,
            "act": act,
        }

    mv = (1.0, p["mv_k"], mv_n)
    # Prefill. Batched: the whole prompt as one matrix-matrix pass, weights loaded once per
    # tile of tile_tokens tokens, the LM head for the last token only; attention runs token
    # by token on the matrix-vector mode as in the overlay (causal: token i over i entries,
    # its K/V rows streamed for it: l queries at the mean KV length). Serial (DFX): every
    # prompt token is one generation step in matrix-vector mode — the same instruction
    # stream, LM head included — at KV lengths 1..l, i.e. l steps at the mean KV length.
    mean_kv = (l_in + 1) / 2
    if not prefill:  # the caller reads no prefill column (a search on decode metrics)
        pre: dict[str, Any] = {"cycles": np.nan, "bound": np.int8(-1), "lm_t": np.nan}
        pre["breakdown"] = {}
    elif all_serial:
        pre = _scaled(step(b, 1, mean_kv, *mv, 1.0, mean_kv, b), l_in)
    else:
        tokens = b * l_in
        loads = _ceil_div(tokens, p["tile_tokens"])
        pre = step(
            tokens,
            l_in,
            mean_kv,
            p["mm_t"],
            p["mm_k"],
            p["mm_n"] * cores,
            loads,
            mean_kv,
            tokens / loads if m.moe else 1.0,
            queries=l_in,
            attn=mv,
        )
        if not uniform(serial) or serial:
            ser = _scaled(step(b, 1, mean_kv, *mv, 1.0, mean_kv, b), l_in)
            pre = {
                "cycles": np.where(serial, ser["cycles"], pre["cycles"]),
                "bound": np.where(serial, ser["bound"], pre["bound"]),
                "lm_t": np.where(serial, ser["lm_t"], pre["lm_t"]),
                "breakdown": {
                    k: np.where(serial, v, pre["breakdown"][k]) for k, v in ser["breakdown"].items()
                },
            }
    out["prefill_latency_s"] = pre["cycles"] / f
    out["bound_prefill"] = pre["bound"]

    kv_len = w.kv_len + 1
    dec = step(b, 1, kv_len, *mv, 1.0, kv_len, b)
    if b > 1:
        # A batch of b decoded tokens is a b-row matrix: the compiler runs it on the
        # matrix-matrix mode when that is faster (issue 16 item 6); one token pads mm_t rows,
        # so batch 1 stays on the matrix-vector mode.
        mm = step(b, 1, kv_len, p["mm_t"], p["mm_k"], p["mm_n"] * cores, 1.0, kv_len, b)
        dec = _faster(mm, dec)
    # Off-chip weight bytes per decoded token and layer, per group (the LM head's share
    # counted with the FFN group).
    lm_dec = lm_bytes / n_layers if w.lm_head else 0.0
    group_bytes: dict[str, Any] = {g: 0.0 for g in ("wqkv", "wo", "wffn")}
    stored: dict[str, Any] = {g: 0.0 for g in ("wqkv", "wo", "wffn")}
    step_read = routed_factor(w, b)  # routed experts a decode step of b tokens touches
    every = m.n_experts / m.experts_per_token if m.moe else 1.0
    # A separate MM engine (batched prefill) reads its own copy of every layer matrix, in
    # its mm_n × mm_k tile order: the image stores the layer weights twice (the LM head
    # runs on the MV engine only). Each pass still reads one copy.
    unified = np.logical_or(p["unified_engine"], serial)
    copies: Any = 1.0 if uniform(unified) and bool(unified) else sel(unified, 1.0, 2.0)
    for op in ops:
        v = wbytes[op.name]
        group_bytes[op.group] = group_bytes[op.group] + (v * step_read if op.routed else v)
        stored[op.group] = stored[op.group] + (v * every if op.routed else v) * copies
    group_bytes["wffn"] = group_bytes["wffn"] + lm_dec
    stored["wffn"] = stored["wffn"] + lm_dec
    bytes_layer = group_bytes["wqkv"] + group_bytes["wo"] + group_bytes["wffn"]
    out["decode_latency_s"] = dec["cycles"] / f + p["host_overhead_us"] * 1e-6
    out["bound_decode"] = dec["bound"]
    kv_moved, act = dec["kv_moved"], dec["act"]
    act_fpga = act if uniform(act) and act == 0 else act / tp
    out["decode_bytes_per_token"] = (n_layers * (bytes_layer + kv_moved + act_fpga) * tp) / b
    if detail:
        for phase, r in (("prefill", pre), ("decode", dec)):
            for name, t in r["breakdown"].items():
                out[f"op_{phase}_{name}_s"] = n_layers * t / f
            out[f"op_{phase}_lm_head_s"] = r["lm_t"] / f
        out["bytes_kv"] = n_layers * kv_moved * tp
        out["bytes_act"] = n_layers * act
        for g, per_layer in group_bytes.items():
            out[f"bytes_{g}"] = per_layer * n_layers * tp
    _resources(out, p, w, platform, prec, dens, ch, detail)
    n = n_layers / pp
    out["group_bytes_wqkv"] = stored["wqkv"] * n
    out["group_bytes_wo"] = stored["wo"] * n
    out["group_bytes_wffn"] = stored["wffn"] * n
    out["group_bytes_kv"] = b * m.kv_span(w.max_kv_len) * kv_entry * n
    out["group_bytes_act"] = sel(
        p["act_onchip"], 0.0, 4 * b * l_in * max(m.d_model, m.ffn_width) * prec.a_bits / 8 / tp
    )
    if detail:
        out["weight_bytes_per_fpga"] = (
            out["group_bytes_wqkv"] + out["group_bytes_wo"] + out["group_bytes_wffn"]
        )
        out["weights_onchip"] = False
    out["n_fpga"] = tp * pp
    return out


def _efficiency(
    p: Arrays,
    w: Workload,
    platform: Any,
    f: Any,
    heads: Any,
    kv_split: Any,
    kvb: Any,
    w_bits: Any,
    wbytes: dict[str, Any],
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
    out = {
        "kvb": kvb,
        "burst_cycles": np.maximum(2.0, lat / OUTSTANDING),
        # per token: its embedding rows (and RoPE tables) and the host's start of its entry
        "step_token": 3 * fill + 3 * inst + FETCH + 2,
        # per sequence: the final norm and the LM head's stream
        "step_seq": norm + ((fill + 1 + inst) if w.lm_head else 0.0),
        "layer_token": layer_token,
        # scratchpad / operand-buffer banks: SFU lanes rounded up to a power of two, >= 2
        "banks": np.maximum(2.0, 2.0 ** np.ceil(np.log2(np.maximum(p["sfu_lanes"], 1)))),
        "first": STREAM_START + BUF_READ + lat,  # request to a streamed operand's first byte
    }
    writes = kvh * (2 * (inst + 1) + 2 * lat)  # K and V writes wait for their response
    if uniform(overlap) and bool(overlap):
        out["layer"] = layer_fixed + n_mats * fill
        out["per_seq"] = hc * (head_fixed + 2 * fill) + writes
        return out
    # Without overlap a weight fetch is requested only when the engine waits for it: one
    # per tile, or per beat where a tile is narrower than a beat; each waits ``fill``.
    beat = p["axi_port_bits"] / 8
    fetches = sum(wbytes.values()) / np.maximum(p["mv_k"] * p["mv_n"] * w_bits / 8, beat)
    out["layer"] = layer_fixed + sel(overlap, n_mats * fill, n_mats + fetches * fill)
    out["per_seq"] = hc * (head_fixed + sel(overlap, 2 * fill, 2.0)) + writes
    lanes = p["mv_k"] * p["mv_n"]
    k_pop = np.maximum(np.minimum(lanes, m.attn_qk_width) * kvb, beat)
    out["k_fetches_per_row"] = _ceil_div(m.attn_qk_width * kvb, k_pop)
    out["v_pop"] = np.maximum(lanes * kvb, beat)
    out["kv_fetch_cost"] = hc * fill
    return out


def _kv_fetch_cycles(w: Workload, eff: dict[str, Any], b: int, kv_len: Any) -> Any:
    """Waits of one pass's KV rows without overlap: each row's bytes are fetched as the
    engine pops them (``min(lanes, row)`` elements, a fetch never past its row), and each
    fetch waits ``fill`` cycles."""
    m = w.model
    k = kv_len * eff["k_fetches_per_row"]
    v = m.attn_sv_width * _ceil_div(kv_len * eff["kvb"], eff["v_pop"])
    return eff["kv_fetch_cost"] * (b * (k + v))


def _resources(
    out: Arrays,
    p: Arrays,
    w: Workload,
    platform: Any,
    prec: Any,
    dens: Any,
    ch: Any,
    detail: bool = True,
) -> None:
    m = w.model
    lg = logic()
    tab = dsp_table(platform.dsp_kind)
    q, aq = prec.quant, prec.attn_quant
    cores = p["cores"]
    mm = p["mm_t"] * p["mm_k"] * p["mm_n"]
    mv = p["mv_k"] * p["mv_n"]
    macs = sel(p["unified_engine"], np.maximum(mm, mv), mm + mv)  # per core
    attn = p["attn_macs"]
    sparse = (dens["qk"] < 1) | (dens["vo"] < 1) | (dens["ffn"] < 1)
    mux_levels, index_bits = sparse_group_terms(p)
    mux_lut = sel(sparse, prec.a_bits * mux_levels, 0.0)
    nl = p["sfu_lanes"]
    nl_lane = lg["nonlinear_lane"]
    # Dequantisation keeps up with the wider of the two modes (they share it when unified).
    dq_lanes = dequant_lanes(p, prec, np.maximum(mm, mv), m.d_model)
    dq = lg["dequant_lane"]
    dsp = cores * (
        np.ceil(macs / tab["macs_per_dsp"][q])
        + np.ceil(attn / tab["macs_per_dsp"][aq])
        + nl * nl_lane["dsp"]
        + dq_lanes * dq["dsp"]
    )
    ctl = lg["overlay_control"]
    # Stream FIFOs between the engine and the SFU: the activation input and the result
    # row, stream_fifo_depth deep in SRL32s (weights arrive through the double-buffered
    # tiles below, and the ports' burst FIFOs are part of memory_port).
    fifo_width = 2 * np.maximum(p["mm_n"], p["mv_n"]) * prec.a_bits
    fifo_lut = fifo_width * lg["stream_fifo_depth"] / lg["srl_bits_per_lut"]
    lut = cores * (
        macs * (tab["lut_per_mac"][q] + mux_lut)
        + attn * tab["lut_per_mac"][aq]
        + nl * nl_lane["lut"]
        + ctl["lut"]
        + fifo_lut
        + dq_lanes * dq["lut"]
    )
    ff = cores * (
        macs * tab["ff_per_mac"][q]
        + attn * tab["ff_per_mac"][aq]
        + nl * nl_lane["ff"]
        + ctl["ff"]
        + dq_lanes * dq["ff"]
    )
    # Buffers: double-buffered weight tiles feeding the engine's operand ports, KV tiles,
    # and an activation buffer for the tokens processed at once (URAM where the device has
    # it): prefill runs in chunks of tile_tokens tokens through every layer (weights are
    # loaded once per chunk, as the time model charges; FlightLLM's profiler chunks the
    # prompt the same way), serial prefill and decode one token per sequence.
    idx_bits = sel(sparse, index_bits, 0.0)
    w_port_bits = np.maximum(p["mm_k"] * p["mm_n"], mv) * (prec.w_bits + idx_bits)
    w_banks = np.ceil(w_port_bits / lg["port_bits"])  # ping and pong share a bank's depth
    kv_banks = 2 * np.ceil(p["mv_k"] * prec.kv_bits / lg["port_bits"])  # mv_k >= 1
    wide = max(m.d_model, m.ffn_width) * prec.a_bits
    b = w.batch
    chunk = sel(
        p["prefill_serial"], b, np.maximum(np.minimum(b * w.prompt_len, p["tile_tokens"]), b)
    )
    act_bits = sel(p["act_onchip"], 2 * chunk * wide / p["tp"], 2 * p["mm_t"] * wide)
    has_uram = platform.resources.uram > 0
    act_blocks = np.ceil(act_bits / (lg["uram_bits"] if has_uram else lg["bram36_bits"]))
    port = lg["memory_port"]
    # Engines reach memory through one port per distinct channel (local) or per core (global).
    ports = sel(p["hbm_placement"] == 0, ch.distinct, cores)
    cdc = sel(ch.port_cdc, ports, 0.0)  # ports crossing into the memory clock
    cc = lg["port_cdc"]
    fixed = {
        "lut": ports * port["lut"] + cdc * cc["lut"],
        "ff": ports * port["ff"] + cdc * cc["ff"],
        "dsp": 0.0,
        "bram36": ports * port["bram36"] + cdc * cc["bram36"],
        "uram": act_blocks if has_uram else 0.0,
    }
    bram_core = w_banks + kv_banks + ctl["bram36"]
    parts = {
        "control": cores * ctl["lut"],
        "axi": fixed["lut"],
        "fifo": cores * fifo_lut,
        "dequant": cores * dq_lanes * dq["lut"],
        "nonlinear": cores * nl * nl_lane["lut"],
    }
    flow = ovr.FLOW_OF_DSP_KIND.get(platform.dsp_kind)
    built = ovr.builds(p, np.isin(q, [QUANTS.index(k) for k in ovr.OVERLAY_QUANTS]))
    if flow is not None and ovr.coefficients(flow) and np.any(built):
        # The whole overlay as templates/overlay builds it at this point (fitted to Yosys
        # builds of it, docs/models.md "Whole overlay"): engine, controller, SFU, buffers,
        # AXI read streams. MACs the RTL does not build (a separate prefill engine,
        # attention MACs) keep their per-MAC figures; the shell's clock crossing stays.
        # Points the overlay does not build (another precision, several cores, ...) keep
        # the engine-level model.
        hw = ovr.template_point(p, prec.w_bits)
        whole = ovr.predict(hw, flow)
        # the RTL's one engine is the MV engine; a separate prefill engine is not built.
        # Its MM mode's token lanes 1..mm_t-1 (ov_mm_lanes: multipliers, products, x
        # buffers banked by lane) are not in the fitted whole-overlay model: per-MAC figures,
        # where the template builds them (batched prefill of at most TT_MAX slots; serial
        # prefill and more slots build MT = 1 or nothing)
        separate = sel(p["unified_engine"], 0.0, mm)
        batched = ~np.asarray(p["prefill_serial"], bool) & (p["tile_tokens"] <= TT_MAX)
        lanes = np.where(batched, (p["mm_t"] - 1) * mv, 0.0)
        extra = sel(p["unified_engine"], lanes, mm)
        per_bram = 0.5 if flow == "yosys-ecp5" else 1.0  # EBR (18 Kb) -> 36 Kb blocks
        per_mac = extra * (tab["lut_per_mac"][q] + mux_lut) + attn * tab["lut_per_mac"][aq]
        lut = np.where(built, cores * (whole["lut"] + per_mac), lut)
        per_mac = extra * tab["ff_per_mac"][q] + attn * tab["ff_per_mac"][aq]
        ff = np.where(built, cores * (whole["ff"] + per_mac), ff)
        dsps = np.ceil(extra / tab["macs_per_dsp"][q]) + np.ceil(attn / tab["macs_per_dsp"][aq])
        dsp = np.where(built, cores * (whole["dsp"] + dsps), dsp)
        # a separate engine's weight tiles
        bram_core = np.where(built, whole["bram"] * per_bram + w_banks * (separate > 0), bram_core)
        for r in ("lut", "ff", "bram36"):
            fixed[r] = np.where(built, cdc * cc[r], fixed[r])
        if detail:
            bd = ovr.breakdown(hw, flow)
            ov_parts = {
                "control": bd["controller"]["lut"] + bd["instruction_memory"]["lut"],
                "axi": bd["stream_port"]["lut"] + bd["stream_buffer"]["lut"],
                "fifo": bd["spad_replica"]["lut"] + bd["x_buffer"]["lut"],
                "dequant": bd["sparse_decode"]["lut"],
                "nonlinear": bd["sfu"]["lut"],
            }
            for kind, v in ov_parts.items():
                shell = fixed["lut"] if kind == "axi" else 0.0
                parts[kind] = np.where(built, cores * v + shell, parts[kind])
    out["lut"] = lut + fixed["lut"]
    out["ff"] = ff + fixed["ff"]
    out["dsp"] = dsp
    bram = cores * bram_core + fixed["bram36"]
    out["bram36"] = bram if has_uram else bram + act_blocks
    out["uram"] = act_blocks if has_uram else 0.0
    if detail:
        out["macs_per_cycle"] = cores * (macs + attn)
        for kind, v in parts.items():
            out[f"lut_{kind}"] = v
    # A core wider than an SLR is sliced across SLRs, so the per-SLR check deals at least
    # one slice to every SLR; memory ports stay with the shell's SLR.
    units = np.maximum(cores, len(platform.slrs))
    for r in ("lut", "ff", "dsp", "bram36", "uram"):
        out[f"{r}_fixed"] = fixed[r]
        out[f"{r}_per_layer"] = (out[r] - fixed[r]) / units
    out["layers_built"] = units
    # The busiest boundary (next to the memory) carries a result row and the weight streams
    # of the cores beyond it, each at most its share of what the memory delivers per cycle.
    n_slr = len(platform.slrs)
    beyond = cores - np.ceil(cores / n_slr) if n_slr > 1 else 0.0
    delivered = ch.union_bw * 8 / (p["freq_mhz"] * 1e6) / cores
    stream = np.minimum(w_port_bits, delivered)
    out["sll_bits"] = prec.a_bits * np.maximum(p["mv_n"], p["mm_n"]) + beyond * stream
    out["slr_crossed"] = np.minimum(cores, n_slr) - 1.0
