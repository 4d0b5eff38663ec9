"""Streamed weights of the spatial RTL: the read ports, the memory image, the memory model.

A point with ``weight_storage: stream`` builds every GEMV (each layer instance's and the
LM head's) without weight ROMs: it reads its rows from a memory read port of its own
(``sp_gemv`` STREAM), one burst per row and tile of tokens, into two row buffers. This
module says which ports ``sp_top`` has (``ports``), lays the weights out in one
byte-addressed image (``image``: per port, the layers it serves one after another, each
row's chunks in issue order; a beat is a chunk of U stored weights and, N:M, their offsets
in their blocks, ceil(log2 M) bits each, as the cost model counts a stored weight) and
derives what the harness (templates/spatial_rtl/sim_main.cpp) serves them with from the
cost model's own memory terms (``memory``): per tensor group (Wq/Wk/Wv, Wo, the FFN and
LM head) the bytes a cycle its channels deliver (``cost_models._common.channels``: the
same channel counts, port width, clock and efficiency) shared by the group's ports, and
the memory's read latency (``read_latency_ns``) before a burst's first beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import cost_models as cm
from cost_models._common import channels
from cost_models._point_columns import normalise
from overlay.model import layer_mats
from overlay.reference import QMat, QuantModel
from spatial.image import compress
from spatial.plan import SpatialPlan

# The cost model's tensor group of each GEMV's weights (the LM head lives with the FFN).
GROUP_OF = {"wq": "wqkv", "wk": "wqkv", "wv": "wqkv", "wo": "wo", "lm": "wffn"}
ALIGN = 64  # bytes: every port's region starts on a burst boundary
# Channels of the weight groups where a point names none (the cost model's defaults wrap
# the groups onto shared channels, which the harness does not model).
DISJOINT = {"hbm_ch_wqkv": 8, "hbm_ch_wo": 4, "hbm_ch_wffn": 12, "hbm_ch_kv": 4, "hbm_ch_act": 4}


@dataclass(frozen=True)
class Port:
    """The read port of GEMV instance ``inst`` (``c0_wq``, ..., ``lm``)."""

    index: int
    inst: str
    mat: str
    group: str
    base: int  # byte address of its first beat
    bb: int  # bytes a beat
    dw: int  # bits a beat carries (weights, then offsets)
    row_beats: int  # beats of a row: one burst
    beats: int  # beats of the whole region (every layer it serves)
    nn: int = 1  # N:M of a sparse matrix (1:1 dense)
    mm: int = 1
    ob: int = 1  # bits of an offset in its block


def ports(plan: SpatialPlan) -> dict[str, Port]:
    """The streamed GEMVs of ``plan`` in port order, keyed by instance name."""
    from spatial.rtl import gemvs  # rtl imports this module

    g = gemvs(plan)
    insts = [(f"c{c}_{m}", m) for c in range(plan.layers_built) for m in layer_mats(plan.shape)]
    insts.append(("lm", "lm"))
    out: dict[str, Port] = {}
    base = 0
    for i, (inst, mat) in enumerate(insts):
        k = g[mat]
        ob = max(1, math.ceil(math.log2(k.mm)))
        dw = k.unroll * (plan.w_bits + k.sparse * ob)
        rb = k.ng * k.nch
        passes = 1 if mat == "lm" else plan.passes
        beats = passes * k.rows * rb
        bb = math.ceil(dw / 8)
        grp = GROUP_OF.get(mat, "wffn")
        out[inst] = Port(i, inst, mat, grp, base, bb, dw, rb, beats, k.nn, k.mm, ob)
        base += -(-beats * bb // ALIGN) * ALIGN
    return out


def slot_bits(ps: Mapping[str, Port]) -> int:
    """Bits of one port's slot of ``wm_r_d``: the widest beat, in whole 32-bit words."""
    return 32 * math.ceil(max(p.dw for p in ps.values()) / 32)


def _beats(q: QMat, p: Port, unroll: int, ng: int, nch: int, wb: int) -> list[int]:
    """One matrix's beats in issue order (row, group, chunk; chunks padded with zeros)."""
    if p.nn < p.mm:
        vals, offs = compress(q, (p.nn, p.mm))
    else:
        vals, offs = q.w, np.zeros_like(q.w)
    rows = vals.shape[0]
    gs = vals.shape[1] // ng
    pad = ((0, 0), (0, 0), (0, nch * unroll - gs))
    v = np.pad(vals.reshape(rows, ng, gs), pad).reshape(-1, unroll).astype(object)
    o = np.pad(offs.reshape(rows, ng, gs), pad).reshape(-1, unroll).astype(object)
    v &= (1 << wb) - 1
    sh = np.array([1 << (lane * wb) for lane in range(unroll)], dtype=object)
    words = (v * sh).sum(axis=1)
    if p.nn < p.mm:  # the offsets above the weights
        sho = np.array([1 << (unroll * wb + lane * p.ob) for lane in range(unroll)], dtype=object)
        words = words + (o * sho).sum(axis=1)
    return [int(x) for x in words]


def image(plan: SpatialPlan, qm: QuantModel) -> bytes:
    """The weight image every port reads from (little-endian beats at their addresses)."""
    from spatial.rtl import gemvs

    g = gemvs(plan)
    ps = ports(plan)
    last = max(ps.values(), key=lambda p: p.base)
    buf = bytearray(last.base + last.beats * last.bb)
    for p in ps.values():
        k = g[p.mat]
        if p.mat == "lm":
            mats = [qm.lm]
        else:
            c = int(p.inst[1 : p.inst.index("_")])
            mats = [qm.layers[q * plan.layers_built + c][p.mat] for q in range(plan.passes)]
        words = [w for q in mats for w in _beats(q, p, k.unroll, k.ng, k.nch, plan.w_bits)]
        raw = b"".join(v.to_bytes(p.bb, "little") for v in words)
        buf[p.base : p.base + len(raw)] = raw
    return bytes(buf)


def memory(point: Mapping[str, Any], platform: str = "u280") -> dict[str, tuple[int, float]]:
    """Per weight group (latency in cycles, bytes a cycle), as the cost model prices the
    point's memory: ``channels``' bandwidth of each group at the kernel clock and the
    memory's read latency. The groups must not share channels (the harness serves each
    from its own)."""
    plat = cm.load_platform(platform)
    if not isinstance(plat, cm.Platform):
        raise ValueError(f"{platform} is not an FPGA board")
    specs = cm.param_specs("spatial", plat)
    keys = {**DISJOINT, **{k: v for k, v in point.items() if k in specs}}
    cols, _ = normalise([keys], "spatial", plat)
    ch = channels(cols, plat)
    freq = float(cols["freq_mhz"][0]) * 1e6
    lat = round(plat.memory.read_latency_ns * 1e-9 * freq)
    groups = ("wqkv", "wo", "wffn")
    start = 0
    for g in ("wqkv", "wo", "wffn", "kv", "act"):  # channels() lays groups out in this order
        start += int(cols[f"hbm_ch_{g}"][0])
    if start > plat.memory.channels:
        raise ValueError("the weight groups share channels; the harness serves disjoint ones")
    return {g: (lat, float(np.asarray(ch.bw[g]).reshape(-1)[0]) / freq) for g in groups}


def run_lines(plan: SpatialPlan, mem: Mapping[str, tuple[int, float]], path: str) -> str:
    """The harness's run-file lines of the streamed weights (image file ``path``)."""
    ps = ports(plan)
    names = sorted({p.group for p in ps.values()})
    lines = [f"mem {path} {slot_bits(ps)}"]
    lines += [f"group {i} {mem[g][0]} {mem[g][1]!r}" for i, g in enumerate(names)]
    lines += [f"port {p.index} {names.index(p.group)} {p.bb} {p.row_beats}" for p in ps.values()]
    return "\n".join(lines) + "\n"
