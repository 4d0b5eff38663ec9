"""Spatial (dataflow) accelerator: one hardware kernel per operator, layers streamed.

Follows the analytical model of seed paper A (arXiv 2312.15159), generalised to GQA,
SwiGLU, sparsity, per-group memory channels and multi-FPGA splits; ``docs/models.md``
walks through every term. Cycle counts are per FPGA.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import yaml

from cost_models._common import (
    DATA_DIR,
    Arrays,
    Channels,
    densities,
    dsp_table,
    memory_time,
    precision,
    weight_storage,
)
from cost_models._points import MEMS, WEIGHT_STORAGE
from cost_models._workload import Workload

BOUNDS = ("compute", "memory", "link", "overhead")


@cache
def logic() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA_DIR / "logic.yaml").read_text())
    return data


def _link_bw(platform: Any) -> float:
    """Bytes/s between FPGAs; infinite when the board has no link (multi-FPGA is then
    flagged as a violation instead of dividing by zero)."""
    bw = platform.link_count * platform.link_gbps / 8 * 1e9 * platform.link_efficiency
    return bw if bw > 0 else float("inf")


def evaluate_spatial(p: Arrays, w: Workload, platform: Any, ch: Channels) -> Arrays:
    m = w.model
    lg = logic()
    prec = precision(p)
    kept = densities(p)
    f = p["freq_mhz"] * 1e6
    tp, pp = p["tp"], p["pp"]
    n_layers = float(m.n_layers)
    layers = np.minimum(p["layers_per_fpga"], np.ceil(n_layers / pp))  # C actually built
    passes = np.ceil(n_layers / (layers * pp))
    mk, ma, mf = p["m_qkv"], p["m_attn"], p["m_ffn"]
    d, dq, dkv, dffn, nffn = m.d_model, m.d_q, m.d_kv, m.d_ffn, m.ffn_matrices
    b = w.batch

    # Bits stored per original weight, per class; weight bytes per layer and tensor group.
    stored = {c: weight_storage(p, prec, kept[c]) for c in ("qk", "vo", "ffn")}
    bits = {c: s[0] for c, s in stored.items()}
    dens = {c: s[1] for c, s in stored.items()}
    w_qkv = (d * dq + d * dkv) * bits["qk"] / 8 + d * dkv * bits["vo"] / 8
    w_o = dq * d * bits["vo"] / 8
    w_ffn = nffn * d * dffn * bits["ffn"] / 8
    w_layer = w_qkv + w_o + w_ffn
    w_lm = (m.vocab * d * prec.w_bits / 8) if w.lm_head else 0.0

    # On-chip weights need every layer resident (one pass) and room in the chosen memory.
    mem_bits = np.where(p["weight_mem"] == MEMS.index("uram"), lg["uram_bits"], lg["bram36_bits"])
    mw = mk * (2 + 2 * dkv / dq) + nffn * mf  # weight-operand MACs/cycle of one layer
    sparse = (dens["qk"] < 1) | (dens["vo"] < 1) | (dens["ffn"] < 1)
    wbits_cycle = mw * (prec.w_bits + np.where(sparse, 4.0, 0.0))  # operand (+ index) bits/cycle
    banks = np.ceil(wbits_cycle / lg["port_bits"])
    resident_blocks = layers * np.ceil(w_layer * 8 / tp / (banks * mem_bits)) * banks
    avail = platform.available()
    budget = np.where(p["weight_mem"] == MEMS.index("uram"), avail.uram, avail.bram36)
    storage = p["weight_storage"]
    fits = (passes == 1) & (resident_blocks <= 0.8 * budget)
    onchip = np.where(
        storage == WEIGHT_STORAGE.index("auto"), fits, storage == WEIGHT_STORAGE.index("onchip")
    )
    kv_onchip = passes == 1

    link = _link_bw(platform)
    out: Arrays = {}
    for phase in ("prefill", "decode"):
        seq_tokens = w.prompt_len if phase == "prefill" else 1
        kv_len = w.prompt_len if phase == "prefill" else w.kv_len + 1
        tokens = b * seq_tokens
        t_q = tokens * d * dq * dens["qk"] / (mk * tp)
        t_v = tokens * d * dq * dens["vo"] / (mk * tp)  # Wk/Wv kernels are sized d_kv/d_q of M_k
        t_qkv = np.maximum(t_q, t_v)
        t_o = tokens * dq * d * dens["vo"] / (mk * tp)
        t_a = b * seq_tokens * kv_len * dq / (ma * tp)
        t_f = tokens * d * dffn * dens["ffn"] / (mf * tp)
        reuse = np.ceil(tokens / p["tile_tokens"])
        kv_moved = b * (seq_tokens if phase == "prefill" else kv_len) * 2 * dkv * prec.kv_bits / 8
        act_moved = np.where(passes > 1, 2 * tokens * d * prec.a_bits / 8 / (layers * pp), 0.0)
        streamed = np.where(onchip, 0.0, reuse / tp)
        by_group = {
            "wqkv": w_qkv * streamed,
            "wo": w_o * streamed,
            "wffn": w_ffn * streamed,
            "kv": np.where(kv_onchip & (phase == "decode"), 0.0, kv_moved / tp),
            "act": act_moved,
        }
        t_mem = memory_time(by_group, ch) * f
        comm = tokens * d * prec.a_bits / 8
        t_comm = (
            (np.where(tp > 1, 4 * (tp - 1) / tp * comm, 0.0) + np.where(pp > 1, comm / layers, 0.0))
            / link
            * f
        )
        t_comp = np.maximum.reduce([t_qkv, t_o, t_a, t_f])
        stage = np.maximum.reduce([t_comp, t_mem, t_comm])
        cycles = passes * t_qkv + n_layers * stage
        # LM head on the FFN kernels after the last pass: logits of the last token only.
        lm_tokens = b
        t_lm_c = lm_tokens * d * m.vocab / (mf * nffn * tp) if w.lm_head else 0.0 * f
        t_lm_m = memory_time({"wffn": w_lm / tp + 0.0 * f}, ch) * f  # LM head always streams
        cycles = cycles + np.maximum(t_lm_c, t_lm_m)
        seconds = cycles / f
        if phase == "decode":
            seconds = seconds + p["host_overhead_us"] * 1e-6
        out[f"{phase}_latency_s"] = seconds
        out[f"bound_{phase}"] = np.select([stage == t_comm, stage == t_mem], [2, 1], 0)
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
        out[f"op_{phase}_lm_head_s"] = np.maximum(t_lm_c, t_lm_m) / f
        if phase == "decode":
            total = sum(by_group.values()) * n_layers * tp + w_lm
            out["decode_bytes_per_token"] = total / b
            for g, v in by_group.items():
                out[f"bytes_{g}"] = v * n_layers * tp
            out["bytes_wffn"] = out["bytes_wffn"] + w_lm  # the LM head lives with the FFN

    _resources(
        out,
        p,
        w,
        platform,
        prec,
        dens,
        ch,
        layers,
        onchip,
        kv_onchip,
        mw,
        banks,
        resident_blocks,
        passes,
    )
    out["weight_bytes_per_fpga"] = (w_layer * n_layers / pp + w_lm) / tp
    out["group_bytes_wqkv"] = w_qkv * n_layers / (tp * pp)
    out["group_bytes_wo"] = w_o * n_layers / (tp * pp)
    out["group_bytes_wffn"] = (w_ffn * n_layers / pp + w_lm) / tp
    out["group_bytes_kv"] = b * w.max_kv_len * 2 * dkv * prec.kv_bits / 8 * n_layers / (tp * pp)
    out["group_bytes_act"] = 4 * b * w.prompt_len * max(d, dffn) * prec.a_bits / 8 / tp
    out["n_fpga"] = tp * pp
    out["macs_per_cycle"] = layers * (mw + 2 * ma)
    out["layers_built"] = layers
    out["weights_onchip"] = onchip
    return out


def _resources(
    out: Arrays,
    p: Arrays,
    w: Workload,
    platform: Any,
    prec: Any,
    dens: Any,
    ch: Channels,
    layers: np.ndarray,
    onchip: np.ndarray,
    kv_onchip: np.ndarray,
    mw: np.ndarray,
    banks: np.ndarray,
    resident_blocks: np.ndarray,
    passes: np.ndarray,
) -> None:
    """Per-FPGA LUT/FF/DSP/BRAM36/URAM, also per layer for the per-SLR check."""
    m = w.model
    lg = logic()
    tab = dsp_table(platform.dsp_kind)
    ma = p["m_attn"]
    q, aq = prec.quant, prec.attn_quant
    sparse = (dens["qk"] < 1) | (dens["vo"] < 1) | (dens["ffn"] < 1)
    group = np.where(p["sparsity"] == 1, p["nm_m"], 8.0)
    mux_lut = np.where(sparse, prec.a_bits * np.ceil((group - 1) / 3), 0.0)  # M:1 operand mux

    dsp_layer = np.ceil(mw / tab["macs_per_dsp"][q]) + np.ceil(2 * ma / tab["macs_per_dsp"][aq])
    kernels = 4 + 2 + m.ffn_matrices
    nl_lanes = lg["nonlinear_units_per_layer"] * np.maximum(1.0, np.ceil(p["m_qkv"] / m.d_model))
    fifo_width = prec.a_bits * np.maximum(1.0, p["m_qkv"] / m.d_model) * 8
    fifo_bits = fifo_width * p["fifo_depth"]
    shallow = p["fifo_depth"] <= lg["srl_max_depth"]
    lut_layer = (
        mw * (tab["lut_per_mac"][q] + mux_lut)
        + 2 * ma * tab["lut_per_mac"][aq]
        + kernels * lg["kernel_control"]["lut"]
        + nl_lanes * lg["nonlinear_lane"]["lut"]
        + np.where(shallow, fifo_bits / lg["srl_bits_per_lut"], 0.0)
    )
    ff_layer = (
        mw * tab["ff_per_mac"][q]
        + 2 * ma * tab["ff_per_mac"][aq]
        + kernels * lg["kernel_control"]["ff"]
        + nl_lanes * lg["nonlinear_lane"]["ff"]
    )
    dsp_layer = dsp_layer + nl_lanes * lg["nonlinear_lane"]["dsp"]

    # Block RAM per layer: weight tiles or resident weights, KV buffer, deep FIFOs.
    uram_w = p["weight_mem"] == MEMS.index("uram")
    resident = np.where(onchip, resident_blocks / layers, 0.0)
    # A streamed weight tile is 2·ΣM_i·b_W bits (seed): two words deep, so it lives in
    # registers next to the multipliers rather than in block RAM.
    tile_ff = np.where(onchip, 0.0, 2 * mw * prec.w_bits)
    kv_bits = 4 * w.max_kv_len * m.d_kv * prec.kv_bits / p["tp"]  # seed: K and V, double-buffered
    kv_banks = 2 * np.ceil(ma * prec.kv_bits / lg["port_bits"])
    uram_kv = p["kv_mem"] == MEMS.index("uram")
    kv_cap = np.where(uram_kv, lg["uram_bits"], lg["bram36_bits"])
    kv_blocks = np.ceil(kv_bits / (kv_banks * kv_cap)) * kv_banks
    fifo_bram = np.where(shallow, 0.0, 8 * np.ceil(fifo_bits / 8 / lg["bram36_bits"]))
    ff_layer = ff_layer + tile_ff
    bram_layer = np.where(uram_w, 0.0, resident) + np.where(uram_kv, 0.0, kv_blocks) + fifo_bram
    uram_layer = np.where(uram_w, resident, 0.0) + np.where(uram_kv, kv_blocks, 0.0)

    port = lg["memory_port"]
    # Every kernel owns the ports of its group (local) or one port per group (global).
    ports = np.where(p["hbm_placement"] == 0, sum(ch.count.values()), float(len(ch.count)))
    per_layer = {
        "lut": lut_layer,
        "ff": ff_layer,
        "dsp": dsp_layer,
        "bram36": bram_layer,
        "uram": uram_layer,
    }
    fixed = {
        "lut": ports * port["lut"],
        "ff": ports * port["ff"],
        "dsp": 0.0 * layers,
        "bram36": ports * port["bram36"],
        "uram": 0.0 * layers,
    }
    for r, v in per_layer.items():
        out[r] = layers * v + fixed[r]
        out[f"{r}_per_layer"] = v
        out[f"{r}_fixed"] = fixed[r]
    out["sll_bits"] = fifo_width / 8  # one inter-layer activation stream crosses each boundary
