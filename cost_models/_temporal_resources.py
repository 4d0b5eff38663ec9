"""Resources of a temporal (overlay) design point: LUT, FF, DSP, block RAM, URAM per FPGA.

Where the overlay template builds the point (``_overlay_template``) and its flow has fitted
coefficients, the figures are the whole-overlay model's prediction of the accelerator the
point's build generates; elsewhere (another precision, several cores, a separate attention
engine) the engine-level model below: MACs, SFU lanes, dequantisation, controller, FIFOs and
buffers. The platform shell's share (memory ports, their clock crossing) is in ``*_fixed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models import _overlay_program as ovp
from cost_models import _overlay_resources as ovr
from cost_models import _overlay_template as ovt
from cost_models._common import Arrays, dequant_lanes, dsp_table, sel, sparse_group_terms
from cost_models._points import QUANTS
from cost_models._spatial_area import logic
from cost_models._workload import Workload


def temporal_resources(
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
    # (The overlay's five masters are in the whole-overlay model; this engine-level count
    # serves the points it does not build.)
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
    flow = ovt.FLOW_OF_DSP_KIND.get(platform.dsp_kind)
    built = ovt.overlay_knobs(p, np.isin(q, [QUANTS.index(k) for k in ovt.OVERLAY_QUANTS]))
    if flow is not None and ovr.coefficients(flow) and np.any(built):
        # The whole overlay as templates/overlay builds it at this point (fitted to Yosys
        # builds of it, docs/models.md "Whole overlay"): engine with its token slots (TT)
        # and lanes (MT), a separate MM engine (SEP) with its x buffers, controller, SFU,
        # buffers, AXI read streams, at the parameters the manifest generates for the point
        # (``_overlay_template``); the shell's clock crossing stays. Points the overlay
        # does not build (another precision, several cores, more than 8 token slots, ...)
        # keep the engine-level model.
        # SPAD, IMEM and XBUF hold the program of the study's own model (what its build is
        # given, dse.buildspec); a point whose program needs more than the template's
        # largest memories is built by nothing: a violation naming the memory.
        words = ovp.point_words(p, m, ovp.study_max_pos(m, w.prompt_len, w.gen_len))
        hw = ovt.template_point(p, prec.w_bits, words)
        built = built & ovt.template_accepts(hw)
        for key, most in ovp.TEMPLATE_MAX.items():
            out[f"over_{key}"] = built & (words[key] > most)
        whole = ovr.predict(hw, flow)
        per_bram = 0.5 if flow == "yosys-ecp5" else 1.0  # EBR (18 Kb) -> 36 Kb blocks
        lut = np.where(built, cores * (whole["lut"] + attn * tab["lut_per_mac"][aq]), lut)
        ff = np.where(built, cores * (whole["ff"] + attn * tab["ff_per_mac"][aq]), ff)
        dsps = np.ceil(attn / tab["macs_per_dsp"][aq])
        dsp = np.where(built, cores * (whole["dsp"] + dsps), dsp)
        bram_core = np.where(built, whole["bram"] * per_bram, bram_core)
        for r in ("lut", "ff", "bram36"):
            fixed[r] = np.where(built, cdc * cc[r], fixed[r])
        # the overlay keeps activations in its scratchpad (spad_replica): no buffer of its own
        act_blocks = np.where(built, 0.0, act_blocks)
        if has_uram:
            fixed["uram"] = act_blocks
        if detail:
            bd = ovr.breakdown(hw, flow)
            ov_parts = {
                "control": bd["controller"]["lut"] + bd["instruction_memory"]["lut"],
                "axi": bd["stream_port"]["lut"] + bd["stream_buffer"]["lut"],
                "fifo": bd["spad_replica"]["lut"]
                + bd["x_buffer"]["lut"]
                + bd.get("mm_x_buffer", {}).get("lut", 0.0),
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
