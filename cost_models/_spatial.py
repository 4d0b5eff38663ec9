"""Spatial (dataflow) accelerator: one hardware kernel per operator, layers streamed.

Follows the analytical model of seed paper A (arXiv 2312.15159), generalised to GQA,
SwiGLU, sparsity, per-group memory channels and multi-FPGA splits; ``docs/models.md``
walks through every term. Cycle counts are per FPGA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models._common import (
    Arrays,
    Channels,
    memory_time,
    precision,
    sel,
    sparse_weights,
    uniform,
)
from cost_models._points import MEMS, PREFETCH, WEIGHT_STORAGE
from cost_models._spatial_area import logic, spatial_resources
from cost_models._spatial_chain import pass_cycles
from cost_models._workload import Workload

BOUNDS = ("compute", "memory", "link", "overhead")


def _link_bw(platform: Any) -> float:
    """Bytes/s between FPGAs; infinite when the board has no link (multi-FPGA is then
    flagged as a violation instead of dividing by zero)."""
    bw = platform.link_count * platform.link_gbps / 8 * 1e9 * platform.link_efficiency
    return bw if bw > 0 else float("inf")


def _bound(stage: Any, t_mem: Any, t_comm: Any) -> Any:
    """Code into ``BOUNDS`` of what sets the stage time: link, memory, else compute."""
    if uniform(t_comm) and t_comm == 0:
        return (
            (stage == t_mem).astype(np.int64)
            if isinstance(stage, np.ndarray)
            else int(stage == t_mem)
        )
    return np.where(stage == t_comm, 2, np.where(stage == t_mem, 1, 0))


def evaluate_spatial(
    p: Arrays, w: Workload, platform: Any, ch: Channels, detail: bool = True
) -> Arrays:
    m = w.model
    lg = logic()
    prec = precision(p)
    f = p["freq_mhz"] * 1e6
    tp, pp = p["tp"], p["pp"]
    n_layers = float(m.n_layers)
    layers = np.minimum(p["layers_per_fpga"], np.ceil(n_layers / pp))  # C actually built
    passes = np.ceil(n_layers / (layers * pp))
    mk, ma, mf = p["m_qkv"], p["m_attn"], p["m_ffn"]
    d, nffn = m.d_model, m.ffn_matrices
    b = w.batch

    # Bits stored per original weight, per class; weight bytes per layer and tensor group.
    bits, dens = sparse_weights(p, prec)
    # (Mean over layers; an MoE layer stores every expert, a token reads its k of them.)
    w_qkv = (m.w_q + m.w_k) * bits["qk"] / 8 + m.w_v * bits["vo"] / 8
    w_o = m.w_o * bits["vo"] / 8
    ffn_byte = bits["ffn"] / 8
    w_ffn = m.ffn_weights() * ffn_byte
    w_layer = w_qkv + w_o + w_ffn
    e_w = m.embed_width
    lm_elems = m.vocab * e_w + (d * e_w if m.d_embed else 0)
    w_lm = (lm_elems * prec.w_bits / 8) if w.lm_head else 0.0

    # On-chip weights means every layer this FPGA serves is resident: with several passes
    # each built layer holds the weights of all the layers it runs (passes × one layer's,
    # issue 16 item 1), else the weights stream. The memory must have room for them all.
    uram_w = p["weight_mem"] == MEMS.index("uram")
    mem_bits = sel(uram_w, lg["uram_bits"], lg["bram36_bits"])
    mw = mk * (2 + (m.w_k + m.w_v) / m.w_q) + nffn * mf  # weight-operand MACs/cycle
    sparse = (dens["qk"] < 1) | (dens["vo"] < 1) | (dens["ffn"] < 1)
    wbits_cycle = mw * (prec.w_bits + sel(sparse, 4.0, 0.0))  # operand (+ index) bits/cycle
    banks = np.ceil(wbits_cycle / lg["port_bits"])
    resident_blocks = layers * np.ceil(passes * w_layer * 8 / tp / (banks * mem_bits)) * banks
    avail = platform.available()
    budget = sel(uram_w, avail.uram, avail.bram36)
    storage = p["weight_storage"]
    one_pass = passes == 1
    fits = resident_blocks <= 0.8 * budget
    onchip = sel(
        storage == WEIGHT_STORAGE.index("auto"), fits, storage == WEIGHT_STORAGE.index("onchip")
    )
    kv_onchip = one_pass

    # Cycles per token of each stage (zeros skipped when stored sparse, work split over tp).
    # The Wk/Wv kernels are sized d_kv/d_q of M_k, so q, k and v finish together.
    per_mk = m.w_q / (mk * tp)
    u_qkv = per_mk * np.maximum(dens["qk"], dens["vo"])
    u_o = m.w_o / (mk * tp) * dens["vo"]
    u_a = m.attn_macs_per_entry / 2 / (ma * tp)  # per token and KV entry, each matmul
    u_f = m.ffn_macs / nffn * dens["ffn"] / (mf * tp)  # routed experts only

    # Weight streams of one layer, KV entries and activations move concurrently: the
    # busiest channel sets the pace (memory_time: groups wrapped onto shared channels add).
    kv_entry = m.kv_width * prec.kv_bits / 8  # bytes of one token's K and V (or latent)
    # per FPGA: heads split over tp; fewer KV heads than FPGAs (or MLA's shared latent)
    # are replicated
    kv_split = 1.0 if m.mla else np.minimum(tp, m.n_kv_heads)
    kv_tok = kv_entry / kv_split
    a_bits = prec.a_bits
    # Between passes a token's activations go off chip and back.
    act_tok = sel(passes > 1, 2 * d * a_bits / 8 / (layers * pp), 0.0)
    no_act = uniform(act_tok) and act_tok == 0

    link = _link_bw(platform)
    single = uniform(tp) and uniform(pp) and tp == 1 and pp == 1
    # LM head on the FFN kernels after the last pass: logits of the last token only; its
    # weights always stream.
    t_lm_c = b * lm_elems / (mf * nffn * tp) if w.lm_head else 0.0
    t_lm = np.maximum(t_lm_c, memory_time({"wffn": w_lm / tp}, ch) * f)
    # Latency no throughput hides (issue 16 item 7): a token's activations cross every SLR
    # boundary the built layers span once per pass (registered SLL crossings), and between
    # FPGAs each layer's two all-reduces take 2(tp-1) ring hops each, a pipeline stage one.
    n_slr = len(platform.slrs)
    crossed = np.minimum(layers, n_slr) - 1.0
    hops: Any = passes * crossed * platform.slr_latency_cycles
    if not single:
        lat = platform.link_latency_us * 1e-6 * f
        hops = hops + (n_layers * 4 * (tp - 1) + (pp - 1)) * lat
    out: Arrays = {}
    for phase in ("prefill", "decode"):
        prefill = phase == "prefill"
        seq_tokens = w.prompt_len if prefill else 1
        kv_len = m.kv_span(w.prompt_len if prefill else w.kv_len + 1)  # windows bound it
        tokens = b * seq_tokens
        t_qkv = tokens * u_qkv
        t_o = tokens * u_o
        t_a = (b * seq_tokens * kv_len) * u_a
        t_f = tokens * u_f
        tile = p["tile_tokens"]
        reuse = 1.0 if tokens == 1 else np.ceil(tokens / tile)  # tile_tokens >= 1
        streamed = sel(onchip, 0.0, reuse / tp)
        kv_group = (b * (seq_tokens if prefill else kv_len)) * kv_tok
        if not prefill:  # all layers resident: the seed's on-chip KV buffer holds them
            kv_group = sel(kv_onchip, 0.0, kv_group)
        act_moved = 0.0 if no_act else tokens * act_tok
        # A tile of tokens reads the routed experts it touches (all of them, soon).
        ffn_read = w_ffn if not m.moe else m.ffn_read(tokens / reuse) * ffn_byte
        moved = {
            "wqkv": streamed * w_qkv,
            "wo": streamed * w_o,
            "wffn": streamed * ffn_read,
            "kv": kv_group,
        }
        total = streamed * (w_qkv + w_o + ffn_read) + kv_group
        if not no_act:
            moved["act"] = act_moved
            total = total + act_moved
        t_mem = memory_time(moved, ch) * f
        if single:
            t_comm: Any = 0.0
        else:
            comm = tokens * d * a_bits / 8
            t_comm = (
                (sel(tp > 1, 4 * (tp - 1) / tp * comm, 0.0) + sel(pp > 1, comm / layers, 0.0))
                / link
                * f
            )
        # A tile crosses the built layers' kernels one after another (the data of a token
        # orders them, _spatial_chain); later tiles follow one interval apart, paced by
        # the busiest kernel or by the bytes a tile moves, whichever is slower.
        t_io = t_mem if single else np.maximum(t_mem, t_comm)
        pos0 = 0.0 if prefill else float(w.kv_len)
        # The last pass crosses only the layers left (C need not divide N/pp).
        rest = np.ceil(n_layers / pp) - (passes - 1) * layers
        # Streamed, each GEMV stage of the chain fetches its weights once per tile over its
        # group's channels (q/k/v together, up/gate together, then down): cycles per tile.
        stages = {
            "qkv": ("wqkv", w_qkv),
            "o": ("wo", w_o),
            "up": ("wffn", ffn_read * (nffn - 1) / nffn),
            "down": ("wffn", ffn_read / nffn),
        }
        # ``weight_prefetch: tile`` fetches a tile ahead, off the chain's path: only the
        # bytes' pace (t_io) is left of the fetch.
        off_path = (np.asarray(onchip) > 0) | (p["weight_prefetch"] == PREFETCH.index("tile"))
        mem = {
            k: sel(off_path, 0.0, memory_time({g: b / tp}, ch) * f) for k, (g, b) in stages.items()
        }
        # ... and with the group's other stages of every built layer (later tiles overlap)
        group = {
            g: sum(mem[k] for k, (h, _) in stages.items() if h == g) for g, _ in stages.values()
        }
        shared = {k: layers * group[g] for k, (g, _) in stages.items()}
        run, run_last, l1, pace, tiles, waits = pass_cycles(
            m, p, dens, tokens, pos0, onchip, layers, rest, t_io, float(seq_tokens), mem, shared
        )
        mem_i = layers * t_mem / tiles
        comm_i: Any = t_comm if single else layers * t_comm / tiles
        io_i = np.maximum(mem_i, comm_i)
        # the fill: the first tile's latency beyond one tile interval
        fill = passes * pp * (np.maximum(l1, io_i) - np.maximum(pace, io_i))
        stage = np.maximum(np.where(tiles == 1, l1, pace), io_i)
        # A token crosses every FPGA's passes in turn; around them the embedding lookup
        # (a word a cycle) and the final norm (sums, outputs).
        cycles = pp * ((passes - 1) * run + run_last) + tokens * d + 2 * d + t_lm + hops
        seconds = cycles / f
        if not prefill:
            seconds = seconds + p["host_overhead_us"] * 1e-6
        out[f"{phase}_latency_s"] = seconds
        # memory-bound also where the chain waits for its weights (streamed, one tile)
        out[f"bound_{phase}"] = _bound(stage, np.where(waits, stage, mem_i), comm_i)
        if detail:
            per_layer = {
                "qkv": t_qkv,
                "o_proj": t_o,
                "attention": t_a,
                "ffn": t_f,
                "memory": t_mem,
                "link": t_comm,
            }
            for name, t in per_layer.items():
                out[f"op_{phase}_{name}_s"] = n_layers * t / f
            if prefill:
                out["op_prefill_pipeline_fill_s"] = fill / f
            out[f"op_{phase}_lm_head_s"] = t_lm / f
        if not prefill:
            scale = n_layers * tp
            # ``total``: every group's bytes of one layer, as moved above.
            out["decode_bytes_per_token"] = (total * scale + w_lm) / b
            if detail:
                by_group = {
                    "wqkv": w_qkv * streamed,
                    "wo": w_o * streamed,
                    "wffn": ffn_read * streamed,
                    "kv": kv_group,
                    "act": act_moved,
                }
                for g, v in by_group.items():
                    out[f"bytes_{g}"] = v * scale
                out["bytes_wffn"] = out["bytes_wffn"] + w_lm  # the LM head lives with the FFN

    spatial_resources(
        out,
        p,
        w,
        platform,
        prec,
        sparse,
        ch,
        layers,
        onchip,
        mw,
        resident_blocks,
        detail,
    )
    per_fpga = n_layers / (tp * pp)
    if detail:
        out["weight_bytes_per_fpga"] = (w_layer * n_layers / pp + w_lm) / tp
    out["group_bytes_wqkv"] = w_qkv * per_fpga
    out["group_bytes_wo"] = w_o * per_fpga
    out["group_bytes_wffn"] = (w_ffn * n_layers / pp + w_lm) / tp
    out["group_bytes_kv"] = b * m.kv_span(w.max_kv_len) * kv_tok * n_layers / pp
    out["group_bytes_act"] = 4 * b * w.prompt_len * max(d, m.ffn_width) * a_bits / 8 / tp
    out["n_fpga"] = tp * pp
    out["layers_built"] = layers
    if detail:
        out["macs_per_cycle"] = layers * (mw + 2 * ma)
        out["weights_onchip"] = onchip
    return out
