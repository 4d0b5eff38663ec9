"""Resources of the whole spatial accelerator (``templates/spatial_rtl``), kernel by kernel.

A spatial point's RTL (``spatial/rtl.py``) instantiates one module per operator of each of
its C layer instances (``sp_gemv``, ``sp_attn``, ``sp_norm``, ``sp_rope``, ``sp_act``,
``sp_add``), the FIFOs between them (``sp_fifo``), the embedding tables (``sp_tab``), the
final norm and LM head, and the top's control and activation buffer. ``instances`` lists
them with the Verilog parameters ``sp_top.v.j2`` gives them, from the generator's own plan
(``spatial.plan.build_plan``, ``spatial.rtl.gemvs``: one source of truth, so the model
prices exactly what a build of the point generates). Per instance:

- DSP blocks are counted from the RTL's multipliers as Yosys maps them (``dsp``; DSP48E2
  cells of a ``synth_xilinx`` netlist traced to their source lines by their ``src``
  attributes, see the function);
- block RAM from the sizes of the memories Yosys can put in block RAM (the synchronous
  weight ROMs, the FIFOs whose read address is a register), by the whole-overlay model's
  memory rule (``_overlay_resources.memory``);
- LUT and FF linear in a few structural features per kind (``features``), coefficients per
  flow fitted to whole builds (``benchmarks/spatial_whole_synth.py --write`` ->
  ``data/spatial_resources.yaml``, with the RTL revision they describe, ``rtl``). Xilinx
  keeps the hierarchy, so its coefficients are fitted per kind on each kernel instance;
  ECP5's netlist is flat (whole rows only), so its LUT and FF are the Xilinx fit's shape
  (its per-kind weights on ECP5's features) times one scale per resource plus a constant,
  fitted to ECP5 whole-design counts (``FLAT``, ``flat_coefficients``).

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
KINDS: tuple[str, ...] = ("sp_gemv", "sp_attn", "sp_norm", "sp_rope", "sp_act", "sp_add")
KINDS += ("sp_fifo", "sp_tab", "top")
# Verilog defaults of the parameters sp_top.v.j2 may leave out (a Yosys log lists only
# those an instance sets), and the model's own (``MODEL_ONLY``), which no log lists.
DEFAULTS = {
    "sp_gemv": {"ROWS": 64, "K": 64, "NG": 1, "GS": 64, "U": 16, "NCH": 4, "SPARSE": 0,
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
REQUANT_DSP = 4  # sp_requant: a 64 x 17 product (a submodule: kept even where unused)


def rtl_hash(files: Mapping[str, str] | None = None) -> str:
    """sha256 (12 hex) of the spatial RTL sources (the kernel library and sp_top.v.j2)."""
    if files is None:
        files = {f.name: f.read_text() for f in RTL_DIR.glob("*") if f.suffix in (".v", ".j2")}
    h = hashlib.sha256()
    for name in sorted(n for n in files if n.endswith((".v", ".j2")) and n != "sp_top.v"):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:12]


def _pow2(n: float) -> bool:
    return n >= 1 and int(n) & (int(n) - 1) == 0


def _clog2(n: float) -> int:
    return max(1, math.ceil(math.log2(max(n, 1))))


def _odd(c: int) -> bool:
    """A product by the constant ``c`` is a real multiplier (not a shift, not a wire)."""
    return c > 1 and not _pow2(c)


def _tz(c: int) -> int:
    """Trailing zero bits of ``c`` (what opt_expr moves into a shift)."""
    return (c & -c).bit_length() - 1


def _slices(bits: int) -> int:
    """MULT18X18D of an operand of ``bits`` times a constant of at most 18 bits, as mul2dsp
    splits it: 18 bits in the first, 17 a slice beyond."""
    return 1 + max(0, -(-(bits - 18) // 17))


def _wide(c: int, bits: int = 32) -> int:
    """MULT18X18D of a ``bits``-wide register times ``c`` into a ``bits``-wide result:
    opt_expr moves the constant's trailing zeros into a shift, so ``bits`` less those
    (a 32-bit index: 2)."""
    return _slices(bits - _tz(c)) if _odd(c) else 0


Instance = tuple[str, dict[str, int], int]  # kind, Verilog parameters, instances


def instances(shape: Any, knobs: Mapping[str, Any], max_pos: int) -> list[Instance]:
    """Every module instance of the point's ``sp_top`` with its parameters, as generated.
    Raises ``spatial.plan.SpatialError`` for a point the generator does not build."""
    from overlay.model import layer_mats  # the generator's plan: imported where used
    from spatial import rtl_stream
    from spatial.plan import build_plan
    from spatial.rtl import gemvs

    plan = build_plan(knobs, shape, max_pos)
    m, c, passes, g = shape, plan.layers_built, plan.passes, gemvs(plan)
    tile = min(plan.tile_tokens, plan.max_pos)
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


def pass_products(layer: Sequence[Instance]) -> int:
    """Multipliers (MULT18X18D, one each) by the pass number (``{24'b0, pass} * X``: the
    layer instances' ROM, scale table and KV-buffer addresses) that synth_ecp5 keeps. The
    pass is one register of the top that every layer instance reads, so after flattening
    ``opt_merge`` makes one product of each constant X, design-wide; opt_expr then moves
    X's trailing zeros into a shift (an 8-bit pass times X's odd part, a few result bits:
    one MULT18X18D each), and a power-of-two X leaves none. X: a GEMV's ROWS (its scale
    ROM and column-mode scale table), ROWS * NG * NCH (its weight ROM, not streamed) and
    its column ROM's NB * NRC * NJC; a norm's D; attention's MAXPOS * DKV. Where NG is not
    a power of two, the scale address's ``(pass * ROWS) * NG`` one more per (ROWS, NG).
    Traced on micro-gpt2-48 (G48: 48, 96 and 384: 3), the release example's point at 20
    positions (G-rel: attention's 20 * 32 = 640: 1) and the d_model-48 LLaMA probe of
    ``_index_mults`` (11, four of them per (ROWS, NG))."""
    keys: set[Any] = set()
    for kind, p, _ in layer:
        q = {**DEFAULTS[kind], **p}
        if kind == "sp_gemv":
            keys |= {q["ROWS"], *(() if q["STREAM"] else (q["ROWS"] * q["NG"] * q["NCH"],))}
            if q["CH"] > 0:
                keys.add(q["K"] // q["CH"] * q["NRC"] * q["NJC"])
            if _odd(q["NG"]):
                keys.add(("ng", q["ROWS"], q["NG"]))
        elif kind == "sp_norm":
            keys.add(q["D"])
        elif kind == "sp_attn":
            keys.add(q["MAXPOS"] * q["NKV"] * q["HD"])
    return sum(1 for k in keys if not isinstance(k, int) or _odd(k))


def dsp(kind: str, p: Mapping[str, int], flow: str = "yosys-xilinx") -> float:
    """DSP blocks of one instance, counted from the RTL's multipliers as Yosys maps them
    (the DSP cells of synth_xilinx (hierarchy kept) and synth_ecp5 (flattened) netlists
    traced to their source lines by ``src``, micro-LLaMA point, RTL 05c0b4e8a89b).

    GEMV: a lane's WB x 8 product one; a group's 48 x 17 scale product 3; column mode per
    lane one and per bank its 48 x 17 scale product 3; ``bc * U`` of a lane's column
    (dense or streamed: no column ROM) 2 where U is not a power of two; two sp_requant
    (64 x 17: 4 each), one in the LM head, whose RAW result leaves the other unread (Yosys
    drops it). Attention: U score and U context lanes (synth_ecp5's ``share`` merges each
    score lane with its context lane: U), the e x R probability product (4 DSP48E2, 2
    MULT18X18D), two requantisers. Norm: (D x - S) x inv, t x g x M and x^2 (7 DSP48E2,
    12 MULT18X18D; a LayerNorm 15 and 22, measured on the micro-GPT-2 C = 2 point). RoPE: four
    rotation products (ECP5 shares the two halves' pair: 2). Activation (SwiGLU): the
    gate x up product and its requantiser; a GELU table has neither. Also the address and
    index products by dimensions that are not powers of two, which the two flows map
    differently: on ECP5 ``_index_mults`` (flattened: the top's and the pass number's
    products design-wide, merged by constant, ``pass_products``), on Xilinx
    ``_xilinx_index_mults`` (hierarchy kept: a ROM's or table's 32-bit address port keeps
    its address product 32 bits wide, 2 DSP48E2, where ECP5 narrows it to one
    MULT18X18D; the pass number is each instance's port, so its products are per
    instance; an index into the module's own memory narrows to that memory's address and
    stays in LUTs below 9 result bits, DSP_Y_MINWIDTH). Xilinx traced on L-nm's LM head
    (U 12, NCH 3: ``bc * U`` 2, the weight ROM's ``(ir + ig) * NCH`` 2 and ``pass * ROWS
    * NG * NCH`` 1, so 24 with its sp_requant, not 21) and on standalone builds of every
    kernel over the dimensions (every module of d_model-48 GPT-2, BERT and LLaMA points,
    groups, GQA, N:M on chip and streamed: exact). The ECP5 count is the
    multiplier stage's (``synth_ecp5 -run :map_ram``, what the campaign measures); the whole
    synth_ecp5 drops one more per 64-bit (D x - S) x inv (a LayerNorm's, or an RMSNorm's
    where D is not a power of two): its top slice pair lies wholly above the 64-bit result,
    and map_gates' opt removes it once the adders are gates (G-rel: 167 there, 164 whole).
    So flow ``yosys-ecp5`` (a complete synth_ecp5 build) counts one fewer per such norm
    than ``yosys-ecp5-dsp`` (the ``-run :map_ram`` stage)."""
    q = {**DEFAULTS[kind], **p}
    ecp5 = flow in ("yosys-ecp5", "yosys-ecp5-dsp")
    extra = _index_mults(kind, q) if ecp5 else _xilinx_index_mults(kind, q)
    if kind == "sp_gemv":
        n = q["U"] + 3 + (1 if q["RAW"] else 2) * REQUANT_DSP
        if (not q["SPARSE"] or q["STREAM"]) and not _pow2(q["U"]):
            n += 2
        if q["CH"] > 0:
            n += q["RPC"] * q["LPR"] + 3 * q["RPC"]
        return float(n + extra)
    if kind == "sp_attn":
        n = (1 if ecp5 else 2) * q["U"] + (2 if ecp5 else 4) + 2 * REQUANT_DSP
        return float(n + extra)
    if kind == "sp_norm":  # LayerNorm: S^2 and a 33 x 33-bit (D x - S) x inv more
        if ecp5:  # the complete flow drops one of a 64-bit (D x - S) x inv
            dropped = flow == "yosys-ecp5" and (q["LN"] or _odd(q["D"]))
            return (22.0 if q["LN"] else 12.0) + extra - dropped
        return (15.0 if q["LN"] else 7.0) + extra
    if kind == "sp_rope":
        return (2.0 if ecp5 else 4.0) + extra
    if kind == "sp_act":
        return float(1 + REQUANT_DSP) if q["GLU"] else 0.0
    return float(extra)


def _chain(inner: int, outer: int) -> int:
    """MULT18X18D of an address ``(x * inner + y) * outer``: the inner product is narrow
    unless the outer one is a real product too, whose 32-bit operand keeps the sum and so
    the inner product at 32 bits (wreduce narrows a product's result, not its operands)."""
    return (_wide(inner) if _odd(outer) else _odd(inner)) + _odd(outer)


def _index_mults(kind: str, q: Mapping[str, int]) -> int:
    """MULT18X18D of the address and index products of one instance by parameters that are
    not powers of two (synth_ecp5; a power of two is a shift). Traced cell by cell, by the
    ``$mul$<file>:<line>`` in their names, on flattened ``synth_ecp5 -run :map_ram``
    netlists (RTL 05c0b4e8a89b, Yosys 0.70): micro-gpt2-48 (G48: d_model 48, ROWS 48/96/80,
    U 3/6/12/24, RPC 6/12; 64 of its 374), the release point at 20 positions (G-rel: 1 of
    167), and two probes built for it: a micro-LLaMA of d_model 48, head_dim 24, one KV
    head, groups of 16 (NG 3/6, NCH 3/6; 427) and a micro-BERT of d_model 48 (299). Yosys's
    opt_expr moves a constant's trailing zeros into a shift, opt_merge merges equal
    products (same operand, same constant, same width) before wreduce narrows them, and
    mul2dsp maps any product with a constant of 2 bits or more. A product into an address
    (a few bits) is one MULT18X18D; into a 32-bit register or compare ``_wide`` (2).

    GEMV: ``bg * GROUP`` of a lane's column (dense: 2), ``bt * K`` (its x buffer) and
    ``bt * ROWS`` (its y buffer), ``T * K`` (words in) and ``T * ROWS`` (rows out): one
    each, the ROWS pair merged into the K pair where ROWS = K; the weight ROM's
    ``(ir * NG + ig) * NCH`` (``_chain``) and the scale ROM's ``br * NG``; column mode:
    the column ROM's ``(cbk * NRC + crc) * NJC``, ``(cbk + 1) * CH`` (2) and ``bb * CH``,
    a bank's row ``brc * RPC`` (2; the banks share it), its scale index ``r_ * NG`` (per
    bank) and ``bjc * LPR`` (2). Attention: ``c * U`` (2), ``j * DKV`` (scores),
    ``jj * DKV`` (per context lane), ``pos * DKV`` (KV writes), ``h * HD`` and
    ``(h / GRP) * HD`` (merged where GRP = 1), an encoder's ``t * DQ``. Norm: ``D * Q``
    (48-bit Q: 3) and ``D * x``, whose product (a shift where D is a power of two) leaves
    an RMSNorm's ``(D x) * inv`` 64 bits wide as a LayerNorm's (8, not 2). RoPE:
    ``(pos0 + t) * H`` (H = HD / 2). Top: ``n_tok * D`` (the call's words; and the decoder's
    head read, ``(n_tok - 1) * D``), ``tok * D`` and ``(pos0 + et) * D`` (learned positions),
    and the products by the pass number, design-wide (``pass_products``). Not built with
    such a dimension yet, counted by the same lines' rule: CH, LPR, NRC, NJC. A streamed
    GEMV's memory-port addresses are not counted (no ECP5 flow streams weights)."""
    if kind == "sp_gemv":
        k, rows = q["K"], q["ROWS"]
        n = 2 * (_odd(k) + (rows != k) * _odd(rows))  # bt * K, T * K; bt * ROWS, T * ROWS
        if not q["SPARSE"] or q["STREAM"]:
            n += _wide(k // q["NG"])  # bg * GROUP
        if not q["STREAM"]:
            n += _chain(q["NG"], q["NCH"])  # the weight ROM's (ir * NG + ig) * NCH
        n += _odd(q["NG"])  # the scale ROM's br * NG
        if q["CH"] > 0:
            n += _chain(q["NRC"], q["NJC"]) + _wide(q["CH"]) + _odd(q["CH"])
            n += _wide(q["RPC"]) + q["RPC"] * _odd(q["NG"]) + _wide(q["LPR"])
        return n
    if kind == "sp_attn":
        dkv, hd = q["NKV"] * q["HD"], q["HD"]
        n = _wide(q["U"]) + (2 + q["U"]) * _odd(dkv)
        n += (1 if q["NH"] == q["NKV"] else 2) * _odd(hd)
        return n + (0 if q["CAUSAL"] else _odd(q["NH"] * hd))
    if kind == "sp_norm":  # an RMSNorm's D x (a product, not a shift) stays 64 bits wide
        wide_c = 0 if q["LN"] or not _odd(q["D"]) else 2 * (_wide(q["D"], 64) - 1)
        return _wide(q["D"], 48) + _odd(q["D"]) + wide_c
    if kind == "sp_rope":
        return int(_odd(q["HD"] // 2))
    if kind == "top":
        return (2 + q["GPT"] + 1 - q["ENC"]) * _odd(q["D"]) + q["PMUL"]
    return 0


X_WIDE = 2  # DSP48E2 of a 32-bit register times a constant of up to 17 bits (see below)


def _xnarrow(depth: int, c: int, zeros: int = 0, blocks: int = X_WIDE) -> int:
    """DSP48E2 of a 32-bit register (``blocks``: the 8-bit pass number's, 1) times ``c``
    into the index of a memory of ``depth`` words inside the module: wreduce keeps
    clog2(depth) result bits, less c's trailing zeros (opt_expr's shift) and ``zeros`` more
    known-zero low bits of the register; fewer than 9 stay in LUTs (DSP_Y_MINWIDTH)."""
    return blocks if _odd(c) and _clog2(depth) - _tz(c) - zeros >= 9 else 0


def _xilinx_index_mults(kind: str, q: Mapping[str, int]) -> int:
    """DSP48E2 of the address and index products of one instance by parameters that are
    not powers of two (synth_xilinx, hierarchy kept). Traced by ``$mul$<file>:<line>`` and
    the ``$mul`` cells' widths after ``alumacc -macc-only; maccmap -unmap`` (where map_dsp
    reads them) on standalone builds of one kernel (``synth_xilinx -family xcup -run
    begin:map_dsp``, then map_dsp's own commands; Yosys 0.70, RTL 05c0b4e8a89b): sp_gemv
    over U, NCH, NG, K, ROWS, TILE, PASSES, SPARSE, STREAM, BB and column mode's CH, RPC,
    LPR, NRC, NJC (40 sets), sp_attn over U, HD, MAXPOS, NH/NKV, CAUSAL, PASSES (11),
    sp_norm over D, LN (9), sp_rope over HD (5), sp_top of three d_model-48 points, then
    every module of five d_model-48 points (GPT-2, BERT, LLaMA with groups and GQA, N:M on
    chip and streamed): all exact; and on L-nm's build (the LM head: 3 more than U + 5).

    How Yosys maps them: opt_expr moves a constant's trailing zeros into a shift; mul2dsp
    (DSP_SIGNEDONLY: an unsigned operand one bit wider) maps a product whose operands have
    2 bits or more and whose result 9 or more (DSP_A/B_MINWIDTH, DSP_Y_MINWIDTH), one
    DSP48E2 up to 27 x 18, a wider operand in 17-bit slices: a 32-bit register (33 bits)
    times a constant is ``X_WIDE`` (2), the 8-bit pass number or the 16-bit token count T
    times one is 1. Unlike the flattened ECP5 netlist, a kernel's ROM and table are
    submodules with a 32-bit address port, so their address products stay 32 bits wide
    (the pass number's products narrow by the pass's own 8 bits), only an index into a
    memory of the module itself narrows to that memory's address (``_xnarrow``: 9 bits or
    more only for large buffers, a bank's scale table of several passes); and the pass number
    is each instance's port, so its products are per instance, merged only between equal
    constants in one module (``{24'b0, pass} * C`` of the same C: opt_merge runs before
    opt_expr splits the trailing zeros off, so pass * 48 and pass * 192 stay two).

    GEMV: ``T * K`` (words in) and ``T * ROWS`` (rows out), one each, merged where ROWS =
    K; ``bg * GROUP`` of a lane's column (dense or streamed: 2); the weight ROM's ``(ir *
    NG + ig) * NCH`` (2 per factor: the sum is a 32-bit port's), or a streamed GEMV's
    ``(pass * ROWS + row) * RB * BB`` (RB = NG * NCH; 2 per factor) and its row buffer's
    ``ig * NCH``; the scale table's ``br * NG`` (2) and ``(pass * ROWS) * NG`` (1); the
    pass products ``pass * ROWS``, ``pass * ROWS * NG * NCH`` (ROM, not streamed) and
    ``pass * NB * NRC * NJC`` (column ROM), one per distinct constant; ``bt * K`` and
    ``bt * ROWS`` (x and y buffers, narrow). Column mode: the column ROM's ``(cbk * NRC +
    crc) * NJC``, ``(cbk + 1) * CH``, the banks' ``brc * RPC`` (shared) and ``bjc *
    LPR``: 2 each; ``bb * CH`` (x buffer, narrow) and, NG not a power of two, each bank's
    scale index ``r_ * NG`` into its PASSES * ROWS * NG-word table (narrow, bank 0's by
    RPC's trailing zeros more: ROWS 64, NG 3, 2 passes, RPC 4: banks 1 to 3, 2 each).
    ``bc * U`` (2) is ``dsp``'s."""
    if kind == "sp_attn":
        return _xilinx_attn(q)
    if kind == "sp_norm":  # D * q (48-bit q: 3), D * x, pass * D (the g and b tables)
        return 5 * _odd(q["D"])
    if kind == "sp_rope":  # (pos0 + t) * H, H = HD / 2 (its tables' 32-bit address)
        return X_WIDE * _odd(q["HD"] // 2)
    if kind == "top":  # n_tok * D, tok * D (16-bit: 1 each), learned (pos0 + et) * D (2),
        d = q["D"]  # and the decoder head's (n_tok - 1) * D into the activation buffer
        return (2 + X_WIDE * q["GPT"]) * _odd(d) + (1 - q["ENC"]) * _xnarrow(2 * q["MAXPOS"] * d, d)
    if kind != "sp_gemv":
        return 0
    k, rows, ng, nch, tile = q["K"], q["ROWS"], q["NG"], q["NCH"], q["TILE"]
    n = _odd(k) + (rows != k) * _odd(rows)  # T * K, T * ROWS
    n += _xnarrow(tile * k, k) + (rows != k) * _xnarrow(tile * rows, rows)  # bt * K, bt * ROWS
    if not q["SPARSE"] or q["STREAM"]:
        n += X_WIDE * _odd(k // ng)  # bg * GROUP
    passes = {rows}  # the pass number's constants (pass * ROWS: the scale table's first)
    if q["STREAM"]:
        n += X_WIDE * (_odd(ng * nch) + _odd(q["BB"])) + _xnarrow(2 * ng * nch, nch)
    else:
        n += X_WIDE * (_odd(ng) + _odd(nch))  # (ir * NG + ig) * NCH
        passes.add(rows * ng * nch)
    n += (X_WIDE + 1) * _odd(ng)  # br * NG, (pass * ROWS) * NG
    if q["CH"] > 0:
        rpc = q["RPC"]
        passes.add(k // q["CH"] * q["NRC"] * q["NJC"])
        n += X_WIDE * (_odd(q["NRC"]) + _odd(q["NJC"]) + _odd(q["CH"]) + _odd(rpc))
        n += X_WIDE * _odd(q["LPR"]) + _xnarrow(tile * k, q["CH"])
        depth = q["PASSES"] * rows * ng
        n += sum(_xnarrow(depth, ng, 0 if gr else _tz(rpc)) for gr in range(rpc))
    return n + sum(_odd(c) for c in passes)


def _xilinx_attn(q: Mapping[str, int]) -> int:
    """DSP48E2 of attention's index products (``_xilinx_index_mults``' rules; standalone
    sp_attn builds over U, HD, MAXPOS, NH/NKV, CAUSAL and PASSES): ``c * U`` (2, where U
    is not a power of two); into its K/V buffers (PASSES * MAXPOS * DKV words) ``j * DKV``
    (scores), ``jj * DKV`` per context lane (lane 0's ``c * U`` by U's trailing zeros
    narrower), ``pos * DKV`` (the K and V writes, one), ``(h / GRP) * HD`` and the pass's
    base; into q (DQ or an encoder's MAXPOS * DQ words) ``h * HD`` (the same product as the
    K/V one where GRP = 1) and an encoder's ``t * DQ``: all narrow unless a buffer is
    large (MAXPOS 64, head_dim 24, 4 passes: 12)."""
    u, hd, dkv, dq = q["U"], q["HD"], q["NKV"] * q["HD"], q["NH"] * q["HD"]
    kv = q["PASSES"] * q["MAXPOS"] * dkv
    qn = dq if q["CAUSAL"] else q["MAXPOS"] * dq
    n = X_WIDE * _odd(u) + 2 * _xnarrow(kv, dkv)  # c * U; j * DKV, pos * DKV
    n += sum(_xnarrow(kv, dkv, 0 if lane else _tz(u)) for lane in range(u))  # jj * DKV
    n += _xnarrow(kv, q["MAXPOS"] * dkv, blocks=1)  # pass * MAXPOS * DKV
    if q["NH"] == q["NKV"]:
        n += _xnarrow(max(kv, qn), hd)
    else:
        n += _xnarrow(kv, hd) + _xnarrow(qn, hd)
    return n + (0 if q["CAUSAL"] else _xnarrow(qn, dq))  # t * DQ


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
        deep = q["PASSES"] * q["ROWS"] * q["NG"] * q["NCH"]
        # lanes beyond a group's stored weights only ever hold zero: columns Yosys drops
        # (B-nm's 16-lane sparse FFN of 8 stored weights: its 128 x 128 ROM took 2 EBRs)
        out.append((deep, min(q["U"], q["GS"]) * q["WB"]))
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
        f["x_mux"] = x_mux_bits(q) / 64 if xb["ff"] else 0.0
        f["y_bits"] = q["TILE"] * q["ROWS"] * q["OW"] / 64  # result buffer
        f["scales"] = (1 + col * q["RPC"]) * _rom(q["PASSES"] * q["ROWS"] * q["NG"], 16)
        f["idx"] = q["SPARSE"] * q["U"] * q["CB"]  # N:M column gather
        # the LM head (64-bit results, no per-row requantiser) has a constant of its own:
        # it is smaller than any other GEMV's, which a non-negative fit could not express
        f["raw"], f["one"] = q["RAW"], 1.0 - q["RAW"]
        f["col"] = float(col)  # column mode's counters and its requantiser
        f["col_banks"] = col * q["RPC"]  # per bank: partial sums, scale product, adders
        f["col_lanes"] = col * q["RPC"] * q["LPR"]
        f["stream"] = q["STREAM"] * (1 + 2 * q["NG"] * q["NCH"] * q["U"] * q["WB"] / 64)
        f["rom_logic"] = sum(r * w / 64 for r, w in memories(kind, q) if not rom_bram(r, w, flow))
    elif kind == "sp_attn":
        kv = q["PASSES"] * q["MAXPOS"] * q["NKV"] * q["HD"]
        f["lanes"] = q["U"]
        # K and V buffers: LUT-RAM, a copy per read lane, or (ECP5 from 4 lanes) logic,
        # each lane's read reaching any word; the q buffer likewise (B-nm on ECP5: its
        # 256 x 8 and both 512 x 8 buffers in flip-flops: 10.2 k of the kernel's 10.6 k)
        bits = 1 if flow == "yosys-ecp5" else 4
        buf = async_ram(kv, 8, q["U"], flow, cell_bits=bits)
        qn = q["NH"] * q["HD"] * (1 if q["CAUSAL"] else q["MAXPOS"])
        qbuf = async_ram(qn, 8, q["U"], flow, cell_bits=bits)
        f["kv_read"] = q["U"] * kv / 64 if not buf["ff"] else 0.0
        f["q_bits"] = qn / 64 if not qbuf["ff"] else 0.0
        f["x_ff"] = (2 * buf["ff"] + qbuf["ff"]) / 64
        f["x_mux"] = (2 * buf["mux"] + qbuf["mux"]) / 64
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
    resource's scale (its ``FIXED`` features at the flow's own weights), the constant on
    ``top``."""
    c = coefficients(flow) if coef is None else coef
    flat = PROBE.get(flow, flow) in FLAT
    scale = {r: float((c.get("scale") or {}).get(r, 0.0)) for r in ("lut", "ff")}
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
        return flat_coefficients(shape, c["scale"], c.get("const", {})) if shape else {}
    return c


def flat_coefficients(
    shape: Mapping[str, Any], scale: Mapping[str, float], const: Mapping[str, float]
) -> dict[str, Any]:
    """A flat flow's coefficients: per resource (lut, ff) the whole design is ``scale``
    times the hierarchical fit's prediction (``shape``: its per-kind weights, on the flat
    flow's features, less its ``FIXED`` ones), plus the ``FIXED`` features at the flow's
    weights, plus ``const``."""
    return {"shape": dict(shape), "scale": dict(scale), "const": dict(const)}


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
