"""Temporal (overlay) accelerator: one set of engines reused layer after layer.

Models the EdgeLLM / FlightLLM / DFX family: an instruction-driven matrix engine with a
matrix-matrix mode for prefill and a matrix-vector mode for decode, optional separate FP16
attention engine, a non-linear unit, and weights plus KV cache streamed from off-chip memory
every token. ``docs/models.md`` explains every term. Cycle counts are per FPGA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models._common import (
    Arrays,
    Channels,
    densities,
    dsp_table,
    layer_ops,
    memory_time,
    precision,
    weight_storage,
)
from cost_models._spatial import _link_bw, logic
from cost_models._workload import Workload


def evaluate_temporal(p: Arrays, w: Workload, platform: Any, ch: Channels) -> Arrays:
    m = w.model
    prec = precision(p)
    kept = densities(p)
    f = p["freq_mhz"] * 1e6
    tp, pp, cores = p["tp"], p["pp"], p["cores"]
    b = w.batch
    n_layers = float(m.n_layers)
    link = _link_bw(platform)
    attn_sep = p["attn_macs"] > 0
    stored = {c: weight_storage(p, prec, kept[c]) for c in ("qk", "vo", "ffn")}
    bits = {c: s[0] for c, s in stored.items()}
    dens = {c: s[1] for c, s in stored.items()}
    out: Arrays = {}
    ops = layer_ops(w)
    group_bytes = {g: np.zeros_like(f) for g in ("wqkv", "wo", "wffn")}

    for phase in ("prefill", "decode"):
        seq = w.prompt_len if phase == "prefill" else 1
        kv_len = w.prompt_len if phase == "prefill" else w.kv_len + 1
        tokens = b * seq
        # Engine shape in this phase: (tokens, reduction, outputs) handled per cycle.
        if phase == "prefill":
            e_t, e_k, e_n = p["mm_t"], p["mm_k"], p["mm_n"] * cores
        else:
            e_t, e_k, e_n = 1.0 + 0 * f, p["mv_k"], p["mv_n"] * cores
        layer_cycles = np.zeros_like(f)
        mem_cycles_sum = np.zeros_like(f)
        comp_cycles_sum = np.zeros_like(f)
        bytes_layer = np.zeros_like(f)
        breakdown: dict[str, np.ndarray] = {}
        for op in ops:
            dn = dens[op.cls]
            out_per_fpga = op.out / tp
            comp = np.ceil(tokens / e_t) * np.ceil(op.red * dn / e_k) * np.ceil(out_per_fpga / e_n)
            wbytes = op.weights * bits[op.cls] / 8 / tp
            loads = np.ceil(tokens / p["tile_tokens"]) if phase == "prefill" else 1.0
            moved = wbytes * loads
            mem = memory_time({op.group: moved}, ch) * f
            t = np.where(p["overlap"], np.maximum(comp, mem), comp + mem)
            layer_cycles = layer_cycles + t
            mem_cycles_sum += mem
            comp_cycles_sum += comp
            bytes_layer = bytes_layer + moved
            breakdown[op.name] = t
            if phase == "decode":
                group_bytes[op.group] = group_bytes[op.group] + wbytes
        # Attention: QK^T then scores·V per head, on the attention engine or the main one.
        heads = m.n_heads / tp
        a_macs = 2 * b * seq * kv_len * m.head_dim * heads
        a_comp = np.where(
            attn_sep,
            a_macs / (np.maximum(p["attn_macs"], 1) * cores),
            2 * b * heads * np.ceil(seq / e_t) * np.ceil(kv_len / e_n) * np.ceil(m.head_dim / e_k),
        )
        kv_moved = b * (seq if phase == "prefill" else kv_len) * 2 * m.d_kv * prec.kv_bits / 8 / tp
        a_mem = memory_time({"kv": kv_moved}, ch) * f
        a_t = np.where(p["overlap"], np.maximum(a_comp, a_mem), a_comp + a_mem)
        breakdown["attention"] = a_t
        act = np.where(p["act_onchip"], 0.0, 4 * tokens * max(m.d_model, m.d_ffn) * prec.a_bits / 8)
        act_t = memory_time({"act": act / tp}, ch) * f
        # Non-linear work: two norms, softmax (three passes), activation, two residual adds.
        nl_elems = (
            tokens * (2 * 3 * m.d_model + 2 * m.d_model + m.d_ffn * (m.ffn_matrices - 1))
            + 3 * b * seq * kv_len * heads
        )
        nl = nl_elems / (p["sfu_lanes"] * cores)
        comm = tokens * m.d_model * prec.a_bits / 8
        t_comm = np.where(tp > 1, 4 * (tp - 1) / tp * comm / link * f, 0.0)
        breakdown["nonlinear"] = nl
        breakdown["link"] = t_comm
        breakdown["overhead"] = p["layer_overhead_cycles"] + act_t
        per_layer = layer_cycles + a_t + nl + t_comm + p["layer_overhead_cycles"] + act_t
        cycles = n_layers * per_layer + np.where(pp > 1, (pp - 1) * comm / link * f, 0.0)
        lm_t = np.zeros_like(f)
        if w.lm_head:
            lm_comp = np.ceil(b / e_t) * np.ceil(m.d_model / e_k) * np.ceil(m.vocab / tp / e_n)
            lm_bytes = m.vocab * m.d_model * prec.w_bits / 8 / tp
            lm_mem = memory_time({"wffn": lm_bytes + 0 * f}, ch) * f
            lm_t = np.where(p["overlap"], np.maximum(lm_comp, lm_mem), lm_comp + lm_mem)
            if phase == "decode":
                group_bytes["wffn"] = group_bytes["wffn"] + lm_bytes / n_layers
                bytes_layer = bytes_layer + lm_bytes / n_layers
        cycles = cycles + lm_t
        seconds = cycles / f
        if phase == "decode":
            seconds = seconds + p["host_overhead_us"] * 1e-6
            out["decode_bytes_per_token"] = (
                n_layers * (bytes_layer + kv_moved + act / tp) * tp
            ) / b
            out["bytes_kv"] = n_layers * kv_moved * tp
            out["bytes_act"] = n_layers * act
        out[f"{phase}_latency_s"] = seconds
        mem_total = mem_cycles_sum + a_mem
        comp_total = comp_cycles_sum + a_comp
        fixed = nl + t_comm + p["layer_overhead_cycles"]
        out[f"bound_{phase}"] = np.select(
            [
                fixed > np.maximum(mem_total, comp_total),
                t_comm >= np.maximum(mem_total, comp_total),
                mem_total >= comp_total,
            ],
            [3, 2, 1],
            0,
        )
        for name, t in breakdown.items():
            out[f"op_{phase}_{name}_s"] = n_layers * t / f
        out[f"op_{phase}_lm_head_s"] = lm_t / f

    for g, per_layer in group_bytes.items():  # off-chip weight bytes per decoded token
        out[f"bytes_{g}"] = per_layer * n_layers * tp
    _resources(out, p, w, platform, prec, dens, ch)
    n = n_layers / pp
    out["group_bytes_wqkv"] = group_bytes["wqkv"] * n
    out["group_bytes_wo"] = group_bytes["wo"] * n
    out["group_bytes_wffn"] = group_bytes["wffn"] * n
    out["group_bytes_kv"] = b * w.max_kv_len * 2 * m.d_kv * prec.kv_bits / 8 * n / tp
    out["group_bytes_act"] = np.where(
        p["act_onchip"], 0.0, 4 * b * w.prompt_len * max(m.d_model, m.d_ffn) * prec.a_bits / 8 / tp
    )
    out["weight_bytes_per_fpga"] = (
        out["group_bytes_wqkv"] + out["group_bytes_wo"] + out["group_bytes_wffn"]
    )
    out["n_fpga"] = tp * pp
    out["weights_onchip"] = np.zeros_like(f, dtype=bool)
    return out


def _resources(
    out: Arrays, p: Arrays, w: Workload, platform: Any, prec: Any, dens: Any, ch: Any
) -> None:
    m = w.model
    lg = logic()
    tab = dsp_table(platform.dsp_kind)
    q, aq = prec.quant, prec.attn_quant
    cores = p["cores"]
    mm = p["mm_t"] * p["mm_k"] * p["mm_n"]
    mv = p["mv_k"] * p["mv_n"]
    macs = np.where(p["unified_engine"], np.maximum(mm, mv), mm + mv)  # per core
    attn = p["attn_macs"]
    sparse = (dens["qk"] < 1) | (dens["vo"] < 1) | (dens["ffn"] < 1)
    group = np.where(p["sparsity"] == 1, p["nm_m"], 8.0)
    mux_lut = np.where(sparse, prec.a_bits * np.ceil((group - 1) / 3), 0.0)
    nl = p["sfu_lanes"]
    dsp = cores * (
        np.ceil(macs / tab["macs_per_dsp"][q])
        + np.ceil(attn / tab["macs_per_dsp"][aq])
        + nl * lg["nonlinear_lane"]["dsp"]
    )
    ctl = lg["kernel_control"]
    lut = cores * (
        macs * (tab["lut_per_mac"][q] + mux_lut)
        + attn * tab["lut_per_mac"][aq]
        + nl * lg["nonlinear_lane"]["lut"]
        + 4 * ctl["lut"]
    )
    ff = cores * (
        macs * tab["ff_per_mac"][q]
        + attn * tab["ff_per_mac"][aq]
        + nl * lg["nonlinear_lane"]["ff"]
        + 4 * ctl["ff"]
    )
    # Buffers: double-buffered weight tiles feeding the engine's operand ports, KV tiles,
    # and an activation buffer for a prompt (URAM where the device has it).
    idx_bits = np.where(sparse, np.ceil(np.log2(group)), 0.0)
    w_port_bits = np.maximum(p["mm_k"] * p["mm_n"], mv) * (prec.w_bits + idx_bits)
    w_banks = np.ceil(w_port_bits / lg["port_bits"])  # ping and pong share a bank's depth
    kv_banks = 2 * np.ceil(np.maximum(p["mv_k"], 1) * prec.kv_bits / lg["port_bits"])
    act_bits = 2 * w.batch * w.prompt_len * max(m.d_model, m.d_ffn) * prec.a_bits / p["tp"]
    act_bits = np.where(
        p["act_onchip"], act_bits, 2 * p["mm_t"] * max(m.d_model, m.d_ffn) * prec.a_bits
    )
    has_uram = platform.resources.uram > 0
    act_blocks = np.ceil(act_bits / (lg["uram_bits"] if has_uram else lg["bram36_bits"]))
    port = lg["memory_port"]
    # Engines reach memory through one port per distinct channel (local) or per core (global).
    ports = np.where(p["hbm_placement"] == 0, ch.distinct, cores)
    out["lut"] = lut + ports * port["lut"]
    out["ff"] = ff + ports * port["ff"]
    out["dsp"] = dsp
    out["bram36"] = (
        cores * (w_banks + kv_banks) + ports * port["bram36"] + (0.0 if has_uram else act_blocks)
    )
    out["uram"] = act_blocks if has_uram else 0.0 * lut
    out["macs_per_cycle"] = cores * (macs + attn)
    # A core wider than an SLR is sliced across SLRs, so the per-SLR check deals at least
    # one slice to every SLR; memory ports stay with the shell's SLR.
    units = np.maximum(cores, len(platform.slrs))
    for r in ("lut", "ff", "dsp", "bram36", "uram"):
        fixed = {
            "lut": ports * port["lut"],
            "ff": ports * port["ff"],
            "bram36": ports * port["bram36"],
        }.get(r, 0.0 * lut)
        if r == "uram" and has_uram:
            fixed = act_blocks
        out[f"{r}_fixed"] = fixed
        out[f"{r}_per_layer"] = (out[r] - fixed) / units
    out["layers_built"] = units
    out["sll_bits"] = 0.0 * lut + prec.a_bits * np.maximum(p["mv_n"], p["mm_n"])
