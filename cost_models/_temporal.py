"""Temporal (overlay) accelerator: one set of engines reused layer after layer.

Models the EdgeLLM / FlightLLM / DFX family: an instruction-driven matrix engine with a
matrix-matrix mode for prefill and a matrix-vector mode for decode, optional separate FP16
attention engine, a non-linear unit, and weights plus KV cache streamed from off-chip memory
every token. ``docs/models.md`` explains every term. Cycle counts are per FPGA.

This module runs the passes (``_temporal_pass``: one pass's cycles; ``_temporal_efficiency``:
the overlay's idle cycles) for prefill and decode and adds the memory traffic and capacity
columns; ``_temporal_resources`` adds the resources.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models._common import Arrays, Channels, layer_ops, routed_factor, sel, uniform
from cost_models._temporal_pass import passes
from cost_models._temporal_resources import temporal_resources
from cost_models._workload import Workload


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
    ps = passes(p, w, platform, ch, detail)
    step = ps.step
    m, prec, dens, f = w.model, ps.prec, ps.dens, ps.f
    tp, pp, cores, b = ps.tp, ps.pp, ps.cores, ps.b
    l_in = w.prompt_len
    n_layers = ps.n_layers
    wbytes, lm_bytes, kv_entry = ps.wbytes, ps.lm_bytes, ps.kv_entry
    ops = layer_ops(w)
    out: Arrays = {}
    mv_n = p["mv_n"] * cores
    serial = p["prefill_serial"]
    all_serial = uniform(serial) and bool(serial)
    mv = (1.0, p["mv_k"], mv_n)
    # attention (KV rows) runs on the MV engine: on half its rows where it packs W4 pairs
    kv = (1.0, p["mv_k"], mv_n / ps.kv_pack)
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
        pre = _scaled(step(b, 1, mean_kv, *mv, 1.0, mean_kv, b, attn=kv), l_in)
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
            attn=kv,
        )
        if not uniform(serial) or serial:
            ser = _scaled(step(b, 1, mean_kv, *mv, 1.0, mean_kv, b, attn=kv), l_in)
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
    dec = step(b, 1, kv_len, *mv, 1.0, kv_len, b, attn=kv)
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
    temporal_resources(out, p, w, platform, prec, dens, ch, detail)
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
