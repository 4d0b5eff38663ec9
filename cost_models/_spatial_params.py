"""The modules of a spatial point's ``sp_top`` and their Verilog parameters.

``instances`` lists every module instance the generator (``spatial.rtl``) writes for a
point, with the parameters ``sp_top.v.j2`` gives it, from the generator's own plan: what
the resource model (``_spatial_resources``) and its DSP count (``_spatial_dsp``) price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

KINDS: tuple[str, ...] = ("sp_gemv", "sp_attn", "sp_norm", "sp_rope", "sp_act", "sp_add")
KINDS += ("sp_fifo", "sp_tab", "top")
# Verilog defaults of the parameters sp_top.v.j2 may leave out (a Yosys log lists only
# those an instance sets), and the model's own (``MODEL_ONLY``), which no log lists.
DEFAULTS = {
    "sp_gemv": {"ROWS": 64, "K": 64, "NG": 1, "GS": 64, "U": 16, "NCH": 4, "PACK": 0, "SPARSE": 0,
                "WB": 8, "CB": 6, "TILE": 1, "PASSES": 1, "RAW": 0, "OW": 8, "CH": 0,
                "CHS": 1, "RPC": 1, "LPR": 1, "NRC": 1, "NJC": 1, "CCB": 1, "STREAM": 0,
                "BB": 1, "NN": 1, "MM": 1, "OB": 1, "IXB": 0},
    "sp_attn": {"CAUSAL": 1, "NH": 4, "NKV": 4, "HD": 16, "MAXPOS": 16, "U": 8, "PASSES": 1},
    "sp_norm": {"D": 64, "LN": 1, "SKIP": 1, "PASSES": 1},
    "sp_rope": {"NH": 4, "HD": 16, "MAXPOS": 16},
    "sp_act": {"GLU": 0, "PASSES": 1},
    "sp_fifo": {"W": 8, "DEPTH": 8},
    "sp_tab": {"W": 8, "N": 2},
    "sp_add": {},
    # GPT: a learned position table; ENC: an encoder (reads the call's first token); PMUL:
    # the products by the pass number Yosys keeps (``pass_products``): the model's, not HDL
    "top": {"D": 64, "MAXPOS": 16, "C": 1, "GPT": 1, "ENC": 0, "PMUL": 0},
}  # fmt: skip
MODEL_ONLY = {"sp_gemv": ("IXB",), "top": ("PMUL",)}


def row_pack(rows: Any, gs: Any, macs: Any, dense: Any, onchip: Any) -> Any:
    """Whether the RTL's row mode packs a GEMV (sp_gemv's PACK: rows in pairs, one
    multiplier per lane forming both rows' products at one column, ``macs`` / 2 lanes):
    dense weights read from on-chip ROMs, an even number of rows and of MACs a cycle, and
    at least two chunks a group (``gs`` stored weights), so that the pair's two group ends
    share one scale product and requantiser a cycle apart. Arrays broadcast."""
    macs = np.asarray(macs)
    lanes = np.maximum(macs // 2, 1)
    ok = (np.asarray(rows) % 2 == 0) & (macs % 2 == 0) & (np.ceil(np.asarray(gs) / lanes) >= 2)
    return np.asarray(dense, dtype=bool) & np.asarray(onchip, dtype=bool) & ok


def _clog2(n: float) -> int:
    return max(1, math.ceil(math.log2(max(n, 1))))


Instance = tuple[str, dict[str, int], int]  # kind, Verilog parameters, instances


def instances(shape: Any, knobs: Mapping[str, Any], max_pos: int) -> list[Instance]:
    """Every module instance of the point's ``sp_top`` with its parameters, as generated.
    Raises ``spatial.plan.SpatialError`` for a point the generator does not build."""
    from spatial.plan import build_plan  # the generator's plan: imported where used

    return plan_instances(build_plan(knobs, shape, max_pos))


def plan_instances(plan: Any) -> list[Instance]:
    """``instances`` of a generator's plan (``spatial.plan.SpatialPlan``)."""
    from cost_models._spatial_dsp import pass_products  # which imports this module
    from overlay.model import layer_mats
    from spatial import rtl_stream
    from spatial.rtl import gemvs

    m, c, passes, g = plan.shape, plan.layers_built, plan.passes, gemvs(plan)
    max_pos = plan.max_pos
    tile = min(plan.tile_tokens, max_pos)
    stream = int(not plan.weights_onchip)
    out: list[Instance] = []

    def gemv(k: Any, **extra: int) -> dict[str, int]:
        # N:M block geometry reaches only a streamed GEMV (its offsets ride the beats,
        # sp_top's mport); an on-chip one reads its columns from a ROM and keeps 1, 1, 1
        nn, mm = (k.nn, k.mm) if stream else (1, 1)
        ob = max(1, math.ceil(math.log2(mm)))
        # IXB (the model's, not HDL): the bits of the on-chip column ROM that vary over
        # its words, which Yosys keeps: a lane's offset in its N:M block and which chunk
        # and group it serves (its block within them is the lane's own, a constant), on
        # the lanes that carry weights (B-nm's ROMs: 16, 32 and 12 of 80, 96 and 20 bits)
        per_lane = math.ceil(math.log2(k.mm)) + math.ceil(math.log2(k.nch * k.ng))
        ixb = min(k.unroll, k.gs) * min(k.cb, per_lane) if k.sparse and not stream else 0
        return {
            "ROWS": k.rows, "K": k.k, "NG": k.ng, "GS": k.gs, "U": k.unroll, "NCH": k.nch,
            "PACK": k.pack,
            "SPARSE": k.sparse, "WB": plan.w_bits, "CB": k.cb, "TILE": tile, "PASSES": passes,
            "CH": k.ch, "CHS": k.chs, "RPC": k.rpc, "LPR": k.lpr, "NRC": k.nrc, "NJC": k.njc,
            "CCB": k.ccb, "STREAM": stream, "NN": nn, "MM": mm, "OB": ob, "IXB": ixb, **extra,
        }  # fmt: skip

    gpt, enc = int(plan.gpt), plan.encoder
    # a streamed GEMV's beat bytes (its read port's, spatial/rtl_stream.py)
    beat = {q.inst: q.bb for q in rtl_stream.ports(plan).values()} if stream else {}
    for ci in range(c):
        for name in layer_mats(m):
            out.append(("sp_gemv", gemv(g[name], BB=beat.get(f"c{ci}_{name}", 1)), 1))
        norm = {"D": m.d_model, "LN": 1 if enc else gpt, "PASSES": passes}
        out.append(("sp_norm", {**norm, "SKIP": 0 if enc else 1}, 1))
        out.append(("sp_norm", {**norm, "SKIP": 0 if enc else 1}, 1))
        if not gpt:
            for nh in (m.n_heads, m.n_kv_heads):
                out.append(("sp_rope", {"NH": nh, "HD": m.head_dim, "MAXPOS": max_pos}, 1))
        attn = {"CAUSAL": int(not enc), "NH": m.n_heads, "NKV": m.n_kv_heads}
        attn |= {"HD": m.head_dim, "MAXPOS": max_pos, "U": plan.kernel("attn").unroll}
        out.append(("sp_attn", {**attn, "PASSES": passes}, 1))
        out.append(("sp_act", {"GLU": 1 - gpt, "PASSES": passes}, 1))
        out.append(("sp_add", {}, 2))
        fifos = [f.depth for f in plan.fifos] + ([plan.fifo_depth] if enc else [])
        for depth in fifos:
            out.append(("sp_fifo", {"W": 8, "DEPTH": depth}, 1))
    layer = list(out)  # the instances that read the top's pass number
    out.append(("sp_fifo", {"W": 8, "DEPTH": plan.fifo_depth}, c + 3))  # s0..sC, hf_in, hf
    out.append(("sp_norm", {"D": m.d_model, "LN": gpt, "SKIP": 0, "PASSES": 1}, 1))
    lm = g["lm"]
    head = {"TILE": 1, "PASSES": 1, "RAW": 1, "OW": 64, "CH": 0, "CHS": 1, "RPC": 1, "LPR": 1}
    head |= {"NRC": 1, "NJC": 1, "CCB": 1, "SPARSE": 0, "BB": beat.get("lm", 1)}
    out.append(("sp_gemv", gemv(lm, **head), 1))
    out.append(("sp_tab", {"W": 8, "N": m.vocab * m.d_model}, 1))
    if gpt:
        out.append(("sp_tab", {"W": 8, "N": max_pos * m.d_model}, 1))
    top = {"D": m.d_model, "MAXPOS": max_pos, "C": c, "GPT": gpt, "ENC": int(enc)}
    out.append(("top", {**top, "PMUL": pass_products(layer)}, 1))
    return out
