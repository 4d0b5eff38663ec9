"""DSP blocks of a spatial point's modules, counted from the RTL's multipliers as Yosys maps
them on each open flow (``dsp``), and the products by the pass number that a flattened
ECP5 netlist keeps once (``pass_products``, the top's ``PMUL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cost_models._mul2dsp import mul_dsp
from cost_models._spatial_params import DEFAULTS, Instance, _clog2

REQUANT_DSP = 4  # sp_requant: a 64 x 17 product (a submodule: kept even where unused)


def _pow2(n: float) -> bool:
    return n >= 1 and int(n) & (int(n) - 1) == 0


def _odd(c: int) -> bool:
    """A product by the constant ``c`` is a real multiplier (not a shift, not a wire)."""
    return c > 1 and not _pow2(c)


def _tz(c: int) -> int:
    """Trailing zero bits of ``c`` (what opt_expr moves into a shift)."""
    return (c & -c).bit_length() - 1


def packed_lane(wb: int, flow: str) -> int:
    """DSP blocks of a packed lane: (w_b * 2^(WB + 8) + w_a) x an 8-bit activation, a
    (2 WB + 8)-bit operand (W4: one block on both flows; W8: one DSP48E2, two MULT18X18D)."""
    return mul_dsp(2 * wb + 8, 8, flow)


def norm_products(q: Mapping[str, int]) -> list[tuple[int, int]]:
    """The (A, B) bit widths of sp_norm's products, as the kernel declares them (DB =
    clog2 D): x^2, S^2 (LayerNorm), c x inv, t x g, t g x M; and by a D that is not a power
    of two, D x and D Q (its odd part; a power of two is a shift)."""
    d, ln = q["D"], q["LN"]
    db = max(1, _clog2(d))
    tw = db + 21
    out = [(8, 8), (db + 8 + ln, 32), (tw, 8), (tw + 8, 17)]
    if ln:
        out.append((db + 8, db + 8))
    if _odd(d):
        odd_bits = (d >> _tz(d)).bit_length() + 1  # a signed constant
        out += [(8, odd_bits), (db + 16, odd_bits)]
    return out


def _wide(c: int, bits: int = 32) -> int:
    """MULT18X18D of a ``bits``-wide register times ``c`` into a ``bits``-wide result:
    opt_expr moves the constant's trailing zeros into a shift, so ``bits`` less those
    (a 32-bit index: 2), times the constant's odd part (a signed constant)."""
    if not _odd(c):
        return 0
    return mul_dsp(bits - _tz(c), (c >> _tz(c)).bit_length() + 1, "yosys-ecp5")


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
            rom = (q["ROWS"] >> q["PACK"]) * q["NG"] * q["NCH"]  # PACK: pairs of rows
            keys |= {q["ROWS"], *(() if q["STREAM"] else (rom,))}
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
    MULT18X18D), two requantisers. Norm: its products at the widths the kernel declares
    (``norm_products``), each split as mul2dsp splits it (``mul_dsp``; standalone norms
    of d_model 32 to 768, LayerNorm and RMSNorm, both flows: exact). RoPE: four
    rotation products (ECP5 shares the two halves' pair: 2). Activation (SwiGLU): the
    gate x up product and its requantiser, 16 bits wide as the kernel declares it (one
    each); a GELU table has neither. Also the address and
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
    groups, GQA, N:M on chip and streamed: exact). The complete synth_ecp5 flow and its
    multiplier stage (``synth_ecp5 -run :map_ram``) count the same: the norm's 64-bit
    products whose top slices the complete flow used to drop are declared at their width
    now."""
    q = {**DEFAULTS[kind], **p}
    ecp5 = flow in ("yosys-ecp5", "yosys-ecp5-dsp")
    extra = _index_mults(kind, q) if ecp5 else _xilinx_index_mults(kind, q)
    if kind == "sp_gemv":
        packed = packed_lane(q["WB"], flow)
        n = q["U"] * (packed if q["PACK"] else 1) + 3 + (1 if q["RAW"] else 2) * REQUANT_DSP
        if (not q["SPARSE"] or q["STREAM"]) and not _pow2(q["U"]):
            n += 2
        if q["CH"] > 0:
            pairs = 0 if q["SPARSE"] else q["RPC"] // 2
            n += q["LPR"] * (pairs * packed + q["RPC"] - 2 * pairs) + 3 * q["RPC"]
        return float(n + extra)
    if kind == "sp_attn":
        n = (1 if ecp5 else 2) * q["U"] + (2 if ecp5 else 4) + 2 * REQUANT_DSP
        return float(n + extra)
    if kind == "sp_norm":
        return float(sum(mul_dsp(a, b, flow) for a, b in norm_products(q)) + extra)
    if kind == "sp_rope":
        return (2.0 if ecp5 else 4.0) + extra
    if kind == "sp_act":  # the gate x up product (16 bits declared) and its requantiser
        return float(mul_dsp(8, 8, flow) + mul_dsp(16, 17, flow)) if q["GLU"] else 0.0
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
    each, ``T * ROWS`` merged into ``T * K`` where ROWS = K (the y buffer's row is a
    stage's choice, ``(C ? ct : bt) * ROWS``, a product of its own); the weight ROM's
    ``(ir * NG + ig) * NCH`` (``_chain``) and the scale ROM's ``br * NG``; column mode:
    the column ROM's ``(cbk * NRC + crc) * NJC``, ``(cbk + 1) * CH`` (2) and ``bb * CH``,
    a bank's row ``brc * RPC`` (2; the banks share it), its scale index ``r_ * NG`` (per
    bank) and ``bjc * LPR`` (2). Attention: ``c * U`` (2), ``j * DKV`` (scores),
    ``jj * DKV`` (per context lane), ``pos * DKV`` (KV writes), ``h * HD`` and
    ``(h / GRP) * HD`` (merged where GRP = 1), an encoder's ``t * DQ``. (A norm's
    ``D * Q`` and ``D * x`` are ``norm_products``.) RoPE:
    ``(pos0 + t) * H`` (H = HD / 2). Top: ``n_tok * D`` (the call's words; and the decoder's
    head read, ``(n_tok - 1) * D``), ``tok * D`` and ``(pos0 + et) * D`` (learned positions),
    and the products by the pass number, design-wide (``pass_products``). Not built with
    such a dimension yet, counted by the same lines' rule: CH, LPR, NRC, NJC. A streamed
    GEMV's memory-port address ``(pass * ROWS + row) * RB * BB``: a product by RB = NG *
    NCH and one by BB (L-stream's LM head, 24-byte beats: 2, the only ECP5 stream build
    with one)."""
    if kind == "sp_gemv":
        k, rows = q["K"], q["ROWS"]
        # bt * K (x buffer) and T * K (words in); T * ROWS (rows out) merged into T * K
        # where ROWS = K; the result buffer's (C ? ct : bt) * ROWS (the row a packed pair's
        # either stage writes) its own, packed or not (RTL 66e1a0e7e119: a d_model-48
        # encoder's four unpacked ROWS = K GEMVs, one each)
        n = 2 * _odd(k) + (rows != k) * _odd(rows) + _odd(rows)
        if not q["SPARSE"] or q["STREAM"]:
            n += _wide(k // q["NG"])  # bg * GROUP
        if not q["STREAM"]:
            n += _chain(q["NG"], q["NCH"])  # the weight ROM's (ir * NG + ig) * NCH
        else:
            n += _wide(q["NG"] * q["NCH"]) + _wide(q["BB"])  # the row's byte address
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
    sp_rope over HD (5), sp_top of three d_model-48 points, then
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
    if kind == "sp_norm":  # pass * D into the g and b tables' 32-bit address
        return int(_odd(q["D"]))
    if kind == "sp_rope":  # (pos0 + t) * H, H = HD / 2 (its tables' 32-bit address)
        return X_WIDE * _odd(q["HD"] // 2)
    if kind == "top":  # n_tok * D, tok * D (16-bit: 1 each), learned (pos0 + et) * D (2),
        d = q["D"]  # and the decoder head's (n_tok - 1) * D into the activation buffer
        return (2 + X_WIDE * q["GPT"]) * _odd(d) + (1 - q["ENC"]) * _xnarrow(2 * q["MAXPOS"] * d, d)
    if kind != "sp_gemv":
        return 0
    k, rows, ng, nch, tile = q["K"], q["ROWS"], q["NG"], q["NCH"], q["TILE"]
    n = _odd(k) + (rows != k) * _odd(rows)  # T * K, T * ROWS
    # bt * K and the result buffer's (C ? ct : bt) * ROWS (its own, as on ECP5)
    n += _xnarrow(tile * k, k) + _xnarrow(tile * rows, rows)
    if not q["SPARSE"] or q["STREAM"]:
        n += X_WIDE * _odd(k // ng)  # bg * GROUP
    passes = {rows}  # the pass number's constants (pass * ROWS: the scale table's first)
    if q["STREAM"]:
        n += X_WIDE * (_odd(ng * nch) + _odd(q["BB"])) + _xnarrow(2 * ng * nch, nch)
    else:
        n += X_WIDE * (_odd(ng) + _odd(nch))  # (ir * NG + ig) * NCH
        passes.add((rows >> q["PACK"]) * ng * nch)
    n += (X_WIDE + 1) * _odd(ng)  # br * NG, (pass * ROWS) * NG
    if q["CH"] > 0:
        rpc = q["RPC"]
        passes.add(k // q["CH"] * q["NRC"] * q["NJC"])
        n += X_WIDE * (_odd(q["NRC"]) + _odd(q["NJC"]) + _odd(q["CH"]) + _odd(rpc))
        n += X_WIDE * _odd(q["LPR"]) + _xnarrow(tile * k, q["CH"])
        depth = q["PASSES"] * rows * ng
        n += sum(_xnarrow(depth, ng, 0 if gr else _tz(rpc), 1) for gr in range(rpc))
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
