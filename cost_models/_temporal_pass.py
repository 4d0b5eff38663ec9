"""One pass of the temporal model: cycles of the whole model for a batch of tokens.

``Passes`` holds what every pass of one evaluation shares (per-operator weight bytes and
their stream cycles, the KV entry, the engine efficiency terms); ``Passes.step`` is one pass
(prefill chunks, a decode step) on an engine of ``e_t × e_k × e_n`` MACs: linear maps
(padded to the engine, weights loaded once per chunk), attention, the SFU's non-linear work,
tensor- and pipeline-parallel links, per-instruction overheads and the LM head.
``docs/models.md`` explains every term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models._common import (
    Arrays,
    Channels,
    Precision,
    layer_ops,
    precision,
    routed_factor,
    sel,
    sparse_weights,
    uniform,
)
from cost_models._overlay_cycles import MAX_BURST_BYTES, MV_SUM
from cost_models._points import GROUP_PORTS, PLACEMENTS, QUANTS
from cost_models._spatial import _link_bw
from cost_models._temporal_efficiency import efficiency, kv_fetch_cycles
from cost_models._workload import Workload

# Operators of one shape: (reduction, class, outputs, memory group, weights, share, routed).
Shape = tuple[float, str, float, str, float, float, bool]


def _ceil_div(a: Any, b: Any) -> Any:
    return np.ceil(a / b)


@dataclass
class Passes:
    """What every pass of one evaluation shares (arrays over the design points)."""

    p: Arrays
    w: Workload
    platform: Any
    detail: bool
    prec: Precision
    dens: dict[str, Any]
    f: Any  # clock, Hz
    tp: Any
    pp: Any
    cores: Any
    b: int
    n_layers: float
    link: Any
    attn_sep: Any
    overlap: Any
    overlap_all: bool
    cpb: dict[str, Any]  # cycles per byte of each memory group
    wbytes: dict[str, Any]  # weight bytes per operator and average layer, per FPGA
    mem_once: dict[str, Any]  # cycles to stream each operator's weights once
    mem_fixed: Any
    mem_routed: Any
    routed: set[str]
    shapes: dict[Shape, list[str]]
    heads: Any
    kv_entry: Any  # bytes of one token's KV entry per FPGA
    slr_hop: Any
    lm_bytes: Any
    lm_mem: Any
    eff: dict[str, Any]
    lat_per_burst: Any
    kv_pack: Any  # 2 where the MV engine reads KV rows on half its multipliers, else 1

    @property
    def m(self) -> Any:
        return self.w.model

    def step(
        self,
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
        m, w, p, eff, b, f = self.m, self.w, self.p, self.eff, self.b, self.f
        tp, pp, cores, prec, platform = self.tp, self.pp, self.cores, self.prec, self.platform
        overlap, overlap_all, detail = self.overlap, self.overlap_all, self.detail
        shapes, mem_once, routed = self.shapes, self.mem_once, self.routed
        mem_fixed, mem_routed, heads, cpb = self.mem_fixed, self.mem_routed, self.heads, self.cpb
        attn_sep, kv_entry, lat_per_burst = self.attn_sep, self.kv_entry, self.lat_per_burst
        n_layers, lm_mem, link, slr_hop = self.n_layers, self.lm_mem, self.link, self.slr_hop
        dens = self.dens
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
                a_comp + a_mem + kv_fetch_cycles(w, eff, b * queries, kv_len),
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
            lm_comp = (
                _ceil_div(b, e_t) * _ceil_div(m.embed_width, e_k) * _ceil_div(m.vocab / tp, e_n)
            )
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


def passes(p: Arrays, w: Workload, platform: Any, ch: Channels, detail: bool) -> Passes:
    """The shared terms of ``evaluate_temporal``'s passes at design points ``p``."""
    m = w.model
    prec = precision(p)
    f = p["freq_mhz"] * 1e6
    tp, cores = p["tp"], p["cores"]
    bits, dens = sparse_weights(p, prec)
    ops = layer_ops(w)
    # Cycles per byte of each group's stream. ``group_ports: group``: the overlay reads a
    # group through ONE AXI master (per core) of axi_port_bits that takes a beat a cycle at
    # most (templates/overlay: m_axi_<group>, rready held high), so its channels' bandwidth
    # (n · channel · efficiency) counts only up to that beat. ``channel``: a master per
    # channel (DFX, FlightLLM, EdgeLLM), each already capped at its beat in ``ch.bw``.
    per_channel = p["group_ports"] == GROUP_PORTS.index("channel")
    beat_cpb = sel(per_channel, 0.0, 8.0 / (cores * p["axi_port_bits"]))
    cpb = {g: np.maximum(f / bw, beat_cpb) for g, bw in ch.bw.items()}
    per_bit = {c: bits[c] / 8 / tp for c in ("qk", "vo", "ffn")}
    # Per layer on average (``share``: the fraction of layers that have the operator).
    wbytes = {op.name: op.weights * op.share * per_bit[op.cls] for op in ops}
    # Cycles to stream each operator's weights once (routed experts: one token's k).
    mem_once = {op.name: wbytes[op.name] * cpb[op.group] for op in ops}
    # Operators of one shape (same reduction, outputs, weights, sparsity class, memory
    # group and layer share) cost the same; each shape is computed once.
    shapes: dict[Shape, list[str]] = {}
    for op in ops:
        key = (op.red, op.cls, op.out, op.group, op.weights, op.share, op.routed)
        shapes.setdefault(key, []).append(op.name)
    heads = m.n_heads / tp
    # Bytes of one token's KV entry per FPGA: heads split over tp, but a KV head (or MLA's
    # latent, which every head reads) is replicated where there are fewer than tp of them.
    kv_split = 1.0 if m.mla else np.minimum(tp, m.n_kv_heads)
    e_w = m.embed_width
    lm_weights = m.vocab * e_w + (m.d_model * e_w if m.d_embed else 0)
    lm_bytes = lm_weights * prec.w_bits / 8 / tp
    overlap = p["overlap"]
    # A DSP-packed W4 engine (w4a8, every class stored dense, even mv_n: the overlay's PACK)
    # holds two weights' products per multiplier but only one int8 KV product, so its KV
    # rows run on half its multipliers (the cycle model's ``kv_lanes``).
    quant = prec.quant
    if uniform(quant) and quant != QUANTS.index("w4a8"):
        kv_pack: Any = 1.0
    else:
        dense = (dens["qk"] >= 1) & (dens["vo"] >= 1) & (dens["ffn"] >= 1)
        packed = (quant == QUANTS.index("w4a8")) & dense & (np.mod(p["mv_n"], 2) == 0)
        kv_pack = sel(packed, 2.0, 1.0)
    eff = efficiency(
        p,
        w,
        platform,
        f,
        heads,
        kv_split,
        prec.kv_bits / 8,
        prec.w_bits,
        wbytes,
        kv_pack,
        cpb["act"],
    )
    # The KV group's bursts in flight: one port per core, however many channels it spans;
    # with a master per channel, a local group has a port per channel (global: one a core).
    local = p["hbm_placement"] == PLACEMENTS.index("local")
    kv_ports = sel(per_channel & local, ch.count["kv"], cores)
    return Passes(
        p=p,
        w=w,
        platform=platform,
        detail=detail,
        prec=prec,
        dens=dens,
        f=f,
        tp=tp,
        pp=p["pp"],
        cores=cores,
        b=w.batch,
        n_layers=float(m.n_layers),
        link=_link_bw(platform),
        attn_sep=p["attn_macs"] > 0,
        overlap=overlap,
        overlap_all=uniform(overlap) and bool(overlap),
        cpb=cpb,
        wbytes=wbytes,
        mem_once=mem_once,
        mem_fixed=sum(mem_once[op.name] for op in ops if not op.routed),
        mem_routed=sum(mem_once[op.name] for op in ops if op.routed),
        routed={op.name for op in ops if op.routed},
        shapes=shapes,
        heads=heads,
        kv_entry=m.kv_width * prec.kv_bits / 8 / kv_split,
        # Cores in different SLRs hand each layer's results across registered SLL crossings.
        slr_hop=(np.minimum(cores, len(platform.slrs)) - 1.0) * platform.slr_latency_cycles,
        lm_bytes=lm_bytes,
        lm_mem=lm_bytes * cpb["wffn"] if w.lm_head else 0.0,
        eff=eff,
        lat_per_burst=heads * eff["burst_cycles"] / kv_ports,  # per burst of every head
        kv_pack=kv_pack,
    )
