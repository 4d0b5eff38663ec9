"""Resources of a spatial point: the engine-level figures of seed A's model (kernels, lanes,
FIFOs, buffers, memory ports) and, where dse's flows build the point's RTL, the
whole-design model of that RTL (``_spatial_resources``) in their place.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import yaml

from cost_models import _spatial_resources as sr
from cost_models._common import (
    DATA_DIR,
    Arrays,
    Channels,
    dequant_lanes,
    dsp_table,
    sel,
    sparse_group_terms,
)
from cost_models._overlay_template import FLOW_OF_DSP_KIND
from cost_models._points import MEMS
from cost_models._workload import Workload

# Flows whose builds of a point are the sp_top the whole-design model describes. Not ECP5
# yet: an ECP5 board builds the released top (spatial_release: sp_top, its ROMs and the
# UART). Up to RTL 05c0b4e8a89b the two mapped different multipliers (146 against 164 at
# the micro-GPT-2 example), by the order Yosys's wreduce visited the norms' and the GLU
# requantiser's products; those now declare their widths and both map the model's count
# (125; the micro-LLaMA release 266; docs/spatial.md). ECP5 studies still keep the
# engine-level figures: priced as their RTL, every point of the tiny GPT-2 ECP5 example's
# space is infeasible (204 MULT18X18D or more of 156, as its synthesis says), so turning
# ECP5 on needs that example re-scoped with it (docs/spatial.md).
WHOLE_RTL_FLOWS = ("yosys-xilinx",)


@cache
def logic() -> dict[str, Any]:
    """Soft-logic prices per kernel and lane (data/logic.yaml; the temporal model's too)."""
    data: dict[str, Any] = yaml.safe_load((DATA_DIR / "logic.yaml").read_text())
    return data


def spatial_resources(
    out: Arrays,
    p: Arrays,
    w: Workload,
    platform: Any,
    prec: Any,
    sparse: Any,
    ch: Channels,
    layers: Any,
    onchip: Any,
    mw: Any,
    resident_blocks: Any,
    detail: bool = False,
) -> None:
    """Per-FPGA LUT/FF/DSP/BRAM36/URAM, also per layer for the per-SLR check."""
    m = w.model
    lg = logic()
    tab = dsp_table(platform.dsp_kind)
    ma = p["m_attn"]
    q, aq = prec.quant, prec.attn_quant
    a_bits = prec.a_bits
    mux_levels, _ = sparse_group_terms(p)
    mux_lut = sel(sparse, a_bits * mux_levels, 0.0)  # M:1 operand mux

    kernels = 4 + 2 + m.ffn_matrices
    nl_ctl = lg["nonlinear_lane"]
    ctl = lg["kernel_control"]
    wide = np.fmax(p["m_qkv"] / m.d_model, 1.0)
    nl_lanes = lg["nonlinear_units_per_layer"] * np.ceil(wide)
    fifo_width = a_bits * wide * 8
    fifo_bits = fifo_width * p["fifo_depth"]
    shallow = p["fifo_depth"] <= lg["srl_max_depth"]
    attn_macs = 2 * ma
    dq_lanes = dequant_lanes(p, prec, mw, m.d_model)
    dq = lg["dequant_lane"]
    # two weights of one activation per multiplier where the point packs (dsp_pack)
    per_dsp = np.where(np.asarray(p.get("dsp_pack", True)) > 0, tab["macs_per_dsp"][q], 1.0)
    dsp_layer = (
        np.ceil(mw / per_dsp)
        + np.ceil(attn_macs / tab["macs_per_dsp"][aq])
        + nl_lanes * nl_ctl["dsp"]
        + dq_lanes * dq["dsp"]
    )
    fifo_lut = sel(shallow, fifo_bits / lg["srl_bits_per_lut"], 0.0)
    lut_layer = (
        mw * (tab["lut_per_mac"][q] + mux_lut)
        + attn_macs * tab["lut_per_mac"][aq]
        + kernels * ctl["lut"]
        + nl_lanes * nl_ctl["lut"]
        + fifo_lut
        + dq_lanes * dq["lut"]
    )
    # A streamed weight tile is 2·ΣM_i·b_W bits (seed): two words deep, so it lives in
    # registers next to the multipliers rather than in block RAM.
    ff_layer = (
        mw * tab["ff_per_mac"][q]
        + attn_macs * tab["ff_per_mac"][aq]
        + kernels * ctl["ff"]
        + nl_lanes * nl_ctl["ff"]
        + sel(onchip, 0.0, 2 * mw * prec.w_bits)
        + dq_lanes * dq["ff"]
    )

    # Block RAM per layer: weight tiles or resident weights, KV buffer, deep FIFOs.
    uram_w = p["weight_mem"] == MEMS.index("uram")
    resident = sel(onchip, resident_blocks / layers, 0.0)
    # seed: K and V double-buffered (4·L·d_kv); the windowed span, the latent for MLA
    kv_split = 1.0 if m.mla else np.minimum(p["tp"], m.n_kv_heads)
    kv_bits = 2 * m.kv_span(w.max_kv_len) * m.kv_width * prec.kv_bits / kv_split
    kv_banks = 2 * np.ceil(ma * prec.kv_bits / lg["port_bits"])
    uram_kv = p["kv_mem"] == MEMS.index("uram")
    kv_cap = sel(uram_kv, lg["uram_bits"], lg["bram36_bits"])
    kv_blocks = np.ceil(kv_bits / (kv_banks * kv_cap)) * kv_banks
    fifo_bram = sel(shallow, 0.0, 8 * np.ceil(fifo_bits / 8 / lg["bram36_bits"]))
    bram_layer = sel(uram_w, 0.0, resident) + sel(uram_kv, 0.0, kv_blocks) + fifo_bram
    uram_layer = sel(uram_w, resident, 0.0) + sel(uram_kv, kv_blocks, 0.0)

    port = lg["memory_port"]
    # Every kernel owns the ports of its group (local) or one port per group (global).
    local = p["hbm_placement"] == 0
    ports = sel(local, ch.requested, float(len(ch.count)))
    per_layer = {
        "lut": lut_layer,
        "ff": ff_layer,
        "dsp": dsp_layer,
        "bram36": bram_layer,
        "uram": uram_layer,
    }
    cdc = sel(ch.port_cdc, ports, 0.0)  # ports crossing into the memory clock
    cc = lg["port_cdc"]
    fixed = {
        "lut": ports * port["lut"] + cdc * cc["lut"],
        "ff": ports * port["ff"] + cdc * cc["ff"],
        "dsp": 0.0,
        "bram36": ports * port["bram36"] + cdc * cc["bram36"],
        "uram": 0.0,
    }
    _whole_rtl(per_layer, fixed, p, w, platform, layers, onchip)
    for r, v in per_layer.items():
        out[r] = layers * v + fixed[r]
        out[f"{r}_per_layer"] = v
        out[f"{r}_fixed"] = fixed[r]
    if detail:  # LUTs of the units around the MAC arrays, by kind
        out["lut_control"] = layers * kernels * ctl["lut"]
        out["lut_axi"] = fixed["lut"]
        out["lut_fifo"] = layers * fifo_lut
        out["lut_dequant"] = layers * dq_lanes * dq["lut"]
        out["lut_nonlinear"] = layers * nl_lanes * nl_ctl["lut"]
    # What crosses the busiest boundary (the shell's, next to the memory): one inter-layer
    # activation stream, and the weight streams of every layer built beyond it — each as
    # wide as its kernels consume, at most its share of what the memory delivers per cycle.
    n_slr = len(platform.slrs)
    beyond = layers - np.ceil(layers / n_slr) if n_slr > 1 else 0.0
    delivered = ch.union_bw * 8 / (p["freq_mhz"] * 1e6) / layers
    stream = sel(onchip, 0.0, np.minimum(mw * prec.w_bits, delivered))
    out["sll_bits"] = fifo_width / 8 + beyond * stream
    out["slr_crossed"] = np.minimum(layers, n_slr) - 1.0


def _whole_rtl(
    per_layer: Arrays,
    fixed: Arrays,
    p: Arrays,
    w: Workload,
    platform: Any,
    layers: Any,
    onchip: Any,
) -> None:
    """Where dse's synthesis flows build the point's spatial RTL (weights on chip, ROMs the
    generator makes) and the board's flow is one whose builds the whole-design model
    describes (``WHOLE_RTL_FLOWS``) with fitted coefficients, the resources are the
    whole-design model's of that RTL (``_spatial_resources``: every kernel, FIFO, table and
    the top; DSPs counted from its multipliers), spread over the C layers for the per-SLR
    check, and no memory ports are charged (it has none). Other points (streamed weights, a
    model too large for ROMs, a knob the generator refuses) and other boards keep the
    engine-level figures above."""
    flow = FLOW_OF_DSP_KIND.get(platform.dsp_kind)
    if flow not in WHOLE_RTL_FLOWS or not sr.coefficients(flow):
        return
    m = w.model
    max_pos = min(w.prompt_len + w.gen_len, m.max_positions or 1 << 30)  # dse.buildspec's
    built, whole = sr.predict_points(p, m, max_pos, onchip, flow)
    if not built.any():
        return
    shape = np.broadcast(layers, per_layer["lut"], onchip).shape
    if int(np.prod(shape)) != built.size:  # knobs that do not vary with the points
        shape = built.shape
    ok = built.reshape(shape) if shape else bool(built[0])
    per_bram = 0.5 if flow == "yosys-ecp5" else 1.0  # EBR (18 Kb) -> 36 Kb blocks
    rtl = {"lut": whole["lut"], "ff": whole["ff"], "dsp": whole["dsp"]}
    rtl |= {"bram36": whole["bram"] * per_bram, "uram": np.zeros(built.size)}
    for r, v in rtl.items():
        val = v.reshape(shape) if shape else v[0]
        per_layer[r] = np.where(ok, val / layers, per_layer[r])
        fixed[r] = np.where(ok, 0.0, fixed[r])
