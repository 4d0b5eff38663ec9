"""Resources of the whole spatial accelerator (``templates/spatial_rtl``), kernel by kernel.

A spatial point's RTL (``spatial/rtl.py``) instantiates one module per operator of each of
its C layer instances, the FIFOs between them, the embedding tables, the final norm and LM
head, and the top's control and activation buffer: ``_spatial_params.instances`` lists
them with the Verilog parameters ``sp_top.v.j2`` gives them, from the generator's own plan
(one source of truth, so the model prices exactly what a build of the point generates).
Per instance:

- DSP blocks are counted from the RTL's multipliers as Yosys maps them
  (``_spatial_dsp.dsp``);
- block RAM from the memories Yosys can put in block RAM (the synchronous ROMs as wide as
  their varying bits, the FIFOs, a GEMV's result buffer), by memory_libmap's costs
  (``_libmap``);
- LUT and FF linear in a few structural features per kind (``features``), coefficients per
  flow fitted to whole builds (``benchmarks/spatial_whole_synth.py --write`` ->
  ``data/spatial_resources.yaml``, with the RTL revision they describe, ``rtl``), but for
  the buffers libmap leaves to flip-flops and muxes, priced by rule (``FIXED``). Xilinx
  keeps the hierarchy, so its coefficients are fitted per kind on each kernel instance;
  ECP5's netlist is flat (whole rows only), so its LUT and FF are the Xilinx fit's shape
  (its per-kind weights on ECP5's features) times one scale per resource, plus the
  ``FIXED`` features at ECP5's weights, plus a constant, fitted to ECP5 whole-design
  counts (``FLAT``, ``flat_coefficients``).

Flow ``yosys-ecp5-dsp`` (``PROBE``) is synth_ecp5 stopped after its multiplier mapping
(``-run :map_ram``), which the campaign runs for the multiplier count alone: priced as
``yosys-ecp5`` but for its DSPs, that stage's count (``dsp``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cost_models._libmap import _ram, async_ram, ecp5_ram, rom_bram
from cost_models._spatial_dsp import _pow2, dsp
from cost_models._spatial_params import DEFAULTS, Instance, _clog2, instances

RTL_DIR = Path(__file__).resolve().parents[1] / "templates" / "spatial_rtl"
_DATA = Path(__file__).parent / "data" / "spatial_resources.yaml"
FLOWS = ("yosys-xilinx", "yosys-ecp5")
# flat flow -> the hierarchical flow whose per-kind fit gives its LUT/FF shape
FLAT = {"yosys-ecp5": "yosys-xilinx"}
# a stage of a flow: its multipliers counted as that stage has them, the rest as the flow's
PROBE = {"yosys-ecp5-dsp": "yosys-ecp5"}
RESOURCES = ("lut", "ff", "dsp", "bram")  # bram: RAMB36 equivalents (Xilinx), EBRs (ECP5)
# Features priced by rule, not fitted: feature -> (the one resource it counts, its weight
# per flow; a flat flow's scale leaves them out). A logic-mapped memory's bits are
# flip-flops (x_ff, 64 bits a unit); its read ports' 2:1 muxes LUTs (x_mux, 64 mux bits a
# unit), at the weight an A/B build measured: the same kernel with its x buffer forced to
# LUT-RAM (``ram_style``) and left to logic took 15.1 k LUT more for B-nm's sparse FFN on
# Xilinx (32 ports, 32.5 k mux bits: 0.46 a bit) and 6.8 k LUT4 more for G-nm's on ECP5
# (16 ports, 16.3 k bits: 0.42), and 1024 flip-flops more, the array's bits. The campaign
# cannot pin them: every point with the one has the other, and few have a wide one.
FIXED: dict[str, tuple[str, dict[str, float]]] = {
    "x_ff": ("ff", {"yosys-xilinx": 64.0, "yosys-ecp5": 64.0}),
    "x_mux": ("lut", {"yosys-xilinx": 29.7, "yosys-ecp5": 26.9}),
}


def rtl_hash(files: Mapping[str, str] | None = None) -> str:
    """sha256 (12 hex) of the spatial RTL sources (the kernel library and sp_top.v.j2)."""
    if files is None:
        files = {f.name: f.read_text() for f in RTL_DIR.glob("*") if f.suffix in (".v", ".j2")}
    h = hashlib.sha256()
    for name in sorted(n for n in files if n.endswith((".v", ".j2")) and n != "sp_top.v"):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:12]


def _rom(n: float, w: float) -> float:
    """LUT6s of an n x w table in logic: 64 entries a LUT6 (the wider muxes in F7/F8)."""
    return w * math.ceil(n / 64)


def memories(kind: str, p: Mapping[str, int], narrow: bool = False) -> list[tuple[float, float]]:
    """(rows, width) of the synchronous ROMs of one instance (weights, N:M columns; a GELU
    activation's table, whose output register ``out_d`` makes its read synchronous where
    a SwiGLU's feeds a product: B-small's 512 x 8 went to a DP16KD on ECP5). ``narrow``:
    a row-mode column ROM as wide as its varying bits (``IXB``, where known), the width
    Yosys maps once it has dropped the bits that are constant in every word."""
    q = {**DEFAULTS[kind], **p}
    out: list[tuple[float, float]] = []
    if kind == "sp_act" and not q["GLU"]:
        out.append((q["PASSES"] * 256, 8))
    if kind != "sp_gemv":
        return out
    if not q["STREAM"]:
        deep = q["PASSES"] * (q["ROWS"] >> q["PACK"]) * q["NG"] * q["NCH"]
        # lanes beyond a group's stored weights only ever hold zero: columns Yosys drops
        # (B-nm's 16-lane sparse FFN of 8 stored weights: its 128 x 128 ROM took 2 EBRs);
        # a packed lane holds two rows' weights
        out.append((deep, min(q["U"], q["GS"]) * q["WB"] * (1 + q["PACK"])))
        if q["SPARSE"]:
            out.append((deep, q["IXB"] if narrow and q["IXB"] else q["U"] * q["CB"]))
    if q["CH"] > 0:
        deep = q["PASSES"] * (q["K"] // q["CH"]) * q["NRC"] * q["NJC"]
        out.append((deep, q["RPC"] * q["LPR"] * q["WB"]))
        if q["SPARSE"]:
            out.append((deep, q["RPC"] * q["LPR"] * q["CCB"]))
    return out


def x_reads(q: Mapping[str, int]) -> int:
    """Read ports of a GEMV's x buffer: a row-mode lane each, and in column mode the banks'
    gathers (``xb[bb*CH+col_]``): one address for all banks when dense (Yosys merges
    them), a column of each bank's own when sparse."""
    gathers = q["LPR"] * (q["RPC"] if q["SPARSE"] else 1)
    return q["U"] + (gathers if q["CH"] > 0 else 0)


def x_mux_bits(q: Mapping[str, int]) -> float:
    """2:1 multiplexer bits of a logic-mapped x buffer's read ports, each as wide as the
    words its address can reach once Yosys folds the constant terms: a dense row lane
    reads ``bt*K + bg*GROUP + bc*U + l``, whose counters are 32 bits wide: l plus any
    multiple of gcd(U, GROUP, K) that the address bits hold (at powers of two one word a
    tile, group and chunk; the LM head's 32 lanes at K = 32: a wire each); a sparse lane
    any word of the tile buffer;
    a bank's gather any word (its block counter is 32 bits wide: Yosys cannot bound
    ``bb*CH + col_`` below K)."""
    depth = q["TILE"] * q["K"]
    # a dense lane's address is l plus multiples of g modulo the address range: D / g words
    g = math.gcd(q["U"], q["K"] // q["NG"], q["K"], 1 << _clog2(depth))
    row = depth if q["SPARSE"] else math.ceil(depth / g)
    gathers = x_reads(q) - q["U"]
    return 8.0 * (q["U"] * (row - 1) + gathers * (depth - 1))


def features(kind: str, p: Mapping[str, int], flow: str) -> dict[str, float]:
    """Structural features of one instance that its LUT and FF grow with."""
    q = {**DEFAULTS[kind], **p}
    f: dict[str, float] = {"one": 1.0}
    if kind == "sp_gemv":
        col = q["CH"] > 0
        f["lanes"] = q["U"]  # lane adders (the products are DSPs), x reads
        # the x buffer: LUT-RAM, a copy per read port, or flip-flops and a mux per port
        xb = async_ram(q["TILE"] * q["K"], 8, x_reads(q), flow)
        f["x_read"] = xb["lutram"]
        f["x_ff"] = xb["ff"] / 64
        f["x_mux"] = (x_mux_bits(q) if xb["ff"] else xb["mux"]) / 64
        if col:  # a bank's partial sums and accumulators, NRC rows: one row is registers
            banks = [async_ram(q["NRC"], w, 1, flow) for w in (48, 64)]
            f["x_ff"] += q["RPC"] * sum(b["ff"] for b in banks) / 64
        f["y_bits"] = q["TILE"] * q["ROWS"] * q["OW"] / 64  # result buffer
        f["scales"] = (1 + col * q["RPC"]) * _rom(q["PASSES"] * q["ROWS"] * q["NG"], 16)
        f["idx"] = q["SPARSE"] * q["U"] * q["CB"]  # N:M column gather
        # the LM head (64-bit results, no per-row requantiser) has a constant of its own:
        # it is smaller than any other GEMV's, which a non-negative fit could not express
        f["raw"], f["one"] = q["RAW"], 1.0 - q["RAW"]
        f["col"] = float(col)  # column mode's counters and its requantiser
        f["col_banks"] = col * q["RPC"]  # per bank: partial sums, scale product, adders
        f["col_lanes"] = col * q["RPC"] * q["LPR"]
        # DSP packing: a packed pair's second row (its group sum, accumulator, the stage a
        # cycle behind and the scale path's multiplexers) and per packed lane the second
        # row's adder and the split of the product; column mode's bank pairs split theirs
        f["pack"] = q["PACK"]
        f["pack_lanes"] = q["PACK"] * q["U"]
        f["col_pack"] = col * (1 - q["SPARSE"]) * (q["RPC"] // 2) * q["LPR"]
        f["stream"] = q["STREAM"] * (1 + 2 * q["NG"] * q["NCH"] * q["U"] * q["WB"] / 64)
        f["rom_logic"] = sum(r * w / 64 for r, w in memories(kind, q) if not rom_bram(r, w, flow))
    elif kind == "sp_attn":
        kv = q["PASSES"] * q["MAXPOS"] * q["NKV"] * q["HD"]
        f["lanes"] = q["U"]
        # K and V buffers: LUT-RAM, a copy per read lane, or (ECP5 from 4 lanes) logic;
        # the q buffer likewise (B-nm on ECP5: its 256 x 8 and both 512 x 8 buffers in
        # flip-flops: 10.2 k of the kernel's 10.6 k). A lane reads every U-th word (its
        # own offset l in ``c*U + l``, every other term a multiple of U where U is a power
        # of two dividing HD), so a logic-mapped buffer's mux per lane spans 1/U of it.
        bits = 1 if flow == "yosys-ecp5" else 4
        buf = async_ram(kv, 8, q["U"], flow, cell_bits=bits)
        qn = q["NH"] * q["HD"] * (1 if q["CAUSAL"] else q["MAXPOS"])
        qbuf = async_ram(qn, 8, q["U"], flow, cell_bits=bits)
        strided = _pow2(q["U"]) and q["HD"] % q["U"] == 0
        f["kv_read"] = q["U"] * kv / 64 if not buf["ff"] else 0.0
        f["q_bits"] = qn / 64 if not qbuf["ff"] else 0.0
        f["x_ff"] = (2 * buf["ff"] + qbuf["ff"]) / 64
        f["x_mux"] = 0.0
        for n, depth, b in ((2, kv, buf), (1, qn, qbuf)):
            span = math.ceil(depth / q["U"]) if strided else depth
            f["x_mux"] += n * (8 * q["U"] * (span - 1) if b["ff"] else b["mux"]) / 64
        f["pos"] = q["MAXPOS"]
    elif kind == "sp_norm":
        f["ln"] = q["LN"]
        f["tables"] = _rom(q["PASSES"] * q["D"], 16)
    elif kind == "sp_rope":
        f["tables"] = _rom(q["MAXPOS"] * q["HD"] / 2, 32)
    elif kind == "sp_act":
        f["glu"] = q["GLU"]
        f["tables"] = _rom(q["PASSES"] * 256, 8)
    elif kind == "sp_fifo":
        f["lutram"] = _ram(q["DEPTH"], q["W"], flow)["lutram"]
        f["aw"] = _clog2(q["DEPTH"])
    elif kind == "sp_tab":
        f["tables"] = _rom(q["N"], q["W"])
    elif kind == "top":
        f["act"] = 2 * q["MAXPOS"] * q["D"] / 64
        f["c"] = q["C"]
    return f


def bram(kind: str, p: Mapping[str, int], flow: str) -> float:
    """Block RAMs of one instance (RAMB36 equivalents, or EBRs): its ROMs that Yosys puts
    in block RAM; the FIFOs' memories, as deep as the plan makes them, by the rule (on
    ECP5 ``ecp5_ram``, and a GEMV's result buffer by it too)."""
    q = {**DEFAULTS[kind], **p}
    if kind == "sp_fifo":
        return _ram(q["DEPTH"], q["W"], flow)["bram"]
    n = sum(rom_bram(r, w, flow) for r, w in memories(kind, q, narrow=True))
    if kind == "sp_gemv" and flow == "yosys-ecp5":  # its result buffer (L-base's LM head)
        n += ecp5_ram(q["TILE"] * q["ROWS"], q["OW"])["bram"]
    return n


@cache
def _figures(
    kind: str, params: tuple[tuple[str, int], ...], flow: str
) -> tuple[dict[str, float], float, float]:
    """(features, DSPs, block RAMs) of one instance; the same module recurs across layer
    instances and design points, so it is worked out once."""
    p, base = dict(params), PROBE.get(flow, flow)
    return features(kind, p, base), dsp(kind, p, flow), bram(kind, p, base)


def predict_units(
    insts: Sequence[Instance], flow: str, coef: Mapping[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """Kind -> resource -> total over the kind's instances. A flat flow's (``FLAT``)
    ``coef`` is ``flat_coefficients``': each kind's LUT/FF the shape's times the
    resource's scale (a resident point's own where fitted; its ``FIXED`` features at the
    flow's own weights), the constant on ``top``."""
    c = coefficients(flow) if coef is None else coef
    flat = PROBE.get(flow, flow) in FLAT
    which = "scale_resident" if resident(insts) and c.get("scale_resident") else "scale"
    scale = {r: float((c.get(which) or {}).get(r, 0.0)) for r in ("lut", "ff")}
    weights = c.get("shape", {}) if flat else c
    out: dict[str, dict[str, float]] = {}
    base = PROBE.get(flow, flow)
    for kind, p, n in insts:
        acc = out.setdefault(kind, dict.fromkeys(RESOURCES, 0.0))
        f, n_dsp, n_bram = _figures(kind, tuple(sorted(p.items())), flow)
        for r in ("lut", "ff"):
            w = weights.get(kind, {}).get(r, {})
            if not flat:
                acc[r] += n * sum(float(w.get(k, 0.0)) * x for k, x in f.items())
                continue
            v = n * sum(float(w.get(k, 0.0)) * x for k, x in f.items() if k not in FIXED)
            rule = sum(FIXED[k][1][base] * x for k, x in f.items() if FIXED.get(k, ("",))[0] == r)
            acc[r] += v * scale[r] + n * rule
        acc["dsp"] += n * n_dsp
        acc["bram"] += n * n_bram
    if flat and c.get("scale"):
        top = out.setdefault("top", dict.fromkeys(RESOURCES, 0.0))
        for r in ("lut", "ff"):
            top[r] += float((c.get("const") or {}).get(r, 0.0))
    return out


def resident(insts: Sequence[Instance]) -> bool:
    """Every layer built (C = N): each layer instance serves one pass, so the top's pass
    register never leaves 0 and a flattened netlist folds every pass-indexed table and
    address (B-c2 on ECP5: 1.16 x the Xilinx shape where the C = 1 points take 1.3)."""
    return all(p.get("PASSES", 1) == 1 for kind, p, _ in insts if kind == "sp_attn")


def predict(
    insts: Sequence[Instance], flow: str, coef: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """Whole-design LUT / FF / DSP / BRAM of the instances (``instances``)."""
    per = predict_units(insts, flow, coef)
    return {r: sum(u[r] for u in per.values()) for r in RESOURCES}


@cache
def _doc() -> dict[str, Any]:
    if not _DATA.exists():
        return {}
    return dict(yaml.safe_load(_DATA.read_text(encoding="utf-8")) or {})


def fitted_rtl() -> str:
    """The RTL revision (``rtl_hash``) the fitted coefficients describe."""
    return str(_doc().get("rtl") or "")


def coefficients(flow: str) -> dict[str, Any]:
    """Fitted coefficients of ``flow`` (kind -> resource -> feature -> weight; a flat
    flow's: ``flat_coefficients``' with the committed shape); {} if none."""
    flow = PROBE.get(flow, flow)
    c = dict((_doc().get("flows") or {}).get(flow) or {})
    if flow in FLAT and c:
        shape = coefficients(FLAT[flow])
        res = c.get("scale_resident")
        return flat_coefficients(shape, c["scale"], c.get("const", {}), res) if shape else {}
    return c


def flat_coefficients(
    shape: Mapping[str, Any],
    scale: Mapping[str, float],
    const: Mapping[str, float],
    scale_resident: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A flat flow's coefficients: per resource (lut, ff) the whole design is ``scale``
    times the hierarchical fit's prediction (``shape``: its per-kind weights, on the flat
    flow's features, less its ``FIXED`` ones), plus the ``FIXED`` features at the flow's
    weights, plus ``const``; a ``resident`` point's scale is ``scale_resident`` if given."""
    out = {"shape": dict(shape), "scale": dict(scale), "const": dict(const)}
    if scale_resident:
        out["scale_resident"] = dict(scale_resident)
    return out


# Point keys the generator reads (spatial.plan.build_plan) and their codes' names.
_CATS = {"quant": "QUANTS", "sparsity": "SPARSITY_KINDS"}
_NUM: tuple[str, ...] = (
    "quant_group",
    "nm_m",
    "density_qk",
    "density_vo",
    "density_ffn",
    "layers_per_fpga",
)
_NUM += ("m_qkv", "m_attn", "m_ffn", "fifo_depth", "tile_tokens", "tp", "pp", "kv_bits")
_NUM += ("dsp_pack",)


def knobs_at(p: Mapping[str, Any], onchip: Any) -> list[dict[str, Any] | None]:
    """Per design point of the columns ``p`` (the cost model's encoded arrays), the point as
    the generator reads it, or None where dse's synthesis flows build no such design
    (streamed weights: the RTL streams them in simulation only)."""
    from cost_models import _points

    keys = [k for k in (*_CATS, *_NUM) if k in p]
    cols = np.broadcast_arrays(
        *(np.asarray(p[k]) for k in keys),
        np.asarray(onchip),
    )
    out: list[dict[str, Any] | None] = []
    for i in range(cols[0].size):
        v = {k: c.flat[i] for k, c in zip(keys, cols, strict=False)}
        kn: dict[str, Any] = {}
        for k, x in v.items():
            kn[k] = getattr(_points, _CATS[k])[int(x)] if k in _CATS else x.item()
            if isinstance(kn[k], float) and kn[k].is_integer() and not k.startswith("density"):
                kn[k] = int(kn[k])
        # dse's synthesis flows build weights on chip only (spatial.flow.plan_of)
        kn["weight_storage"] = "onchip"
        out.append(kn if bool(cols[-1].flat[i]) else None)
    return out


@cache
def _point_prediction(
    shape: Any, key: tuple[tuple[str, Any], ...], max_pos: int, flow: str
) -> dict[str, float] | None:
    from overlay.config import OverlayError
    from spatial.flow import MAX_WEIGHTS
    from spatial.plan import build_plan
    from spatial.rtl import check

    if shape.params_total() > MAX_WEIGHTS:  # no ROMs that large: the flows refuse it
        return None
    try:
        check(build_plan(dict(key), shape, max_pos))  # what render refuses
        insts = instances(shape, dict(key), max_pos)
    except OverlayError:  # SpatialError: a point the generator does not build
        return None
    return predict(insts, flow)


def predict_points(
    p: Mapping[str, Any], shape: Any, max_pos: int, onchip: Any, flow: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(built, resources) per design point: ``built`` where the generator builds the point,
    and there the whole-design LUT/FF/DSP/BRAM of its RTL (arrays, NaN elsewhere)."""
    pts = knobs_at(p, onchip)
    res = {r: np.full(len(pts), np.nan) for r in RESOURCES}
    built = np.zeros(len(pts), dtype=bool)
    for i, kn in enumerate(pts):
        got = (
            None
            if kn is None
            else _point_prediction(shape, tuple(sorted(kn.items())), max_pos, flow)
        )
        if got is not None:
            built[i] = True
            for r in RESOURCES:
                res[r][i] = got[r]
    return built, res
