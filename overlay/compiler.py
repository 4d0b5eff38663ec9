"""Compiler: a quantised model and an overlay config to a program and a memory image.

The program has two entry points: ``init`` (load norm gains, LUTs into the scratchpad,
once) and ``step`` (one token at registers POS/TOK; the same stream serves every prefill
and decode token). The image has one byte array per AXI port (docs/overlay.md: layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from overlay import isa
from overlay.config import OverlayConfig
from overlay.isa import (
    E_I8,
    E_I16,
    E_U16,
    F_ARGMAX,
    F_DYN_K,
    F_DYN_N,
    F_LN,
    F_ROWS,
    F_SPARSE,
    PORT,
    Instr,
    MatFormat,
)
from overlay.model import is_gpt, layer_mats
from overlay.reference import MAT_CLASS, QMat, QuantModel

MAT_PORT = {"wq": "wqkv", "wk": "wqkv", "wv": "wqkv", "wo": "wo"}


@dataclass
class Region:
    port: str
    addr: int
    size: int


@dataclass
class Compiled:
    cfg: OverlayConfig
    program: list[Instr]
    init_pc: int
    step_pc: int
    mem: dict[str, bytearray]
    fmt: dict[str, MatFormat]
    scratch_words: int
    max_pos: int
    symbols: dict[str, Region] = field(default_factory=dict)
    d_model: int = 0
    scratch_x: int = 0  # scratchpad address of the residual stream (checked every token)

    def words(self) -> list[int]:
        return [w for ins in self.program for w in ins.encode()]

    def machine(self) -> isa.Machine:
        mem = {p: bytearray(b) for p, b in self.mem.items()}
        return isa.Machine(mem, self.fmt, self.scratch_words)


def pack_bits(vals: np.ndarray, bits: int) -> bytes:
    v = (vals.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)
    allbits = ((v[:, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
    return np.packbits(allbits.reshape(-1), bitorder="little").tobytes()


def tile_order(grid: np.ndarray, mv_n: int, mv_k: int) -> np.ndarray:
    """Rows × stored columns to the engine's stream order: n-tile, k-tile, row, column."""
    n, k = grid.shape
    tn, tk = -(-n // mv_n), -(-k // mv_k)
    pad = np.zeros((tn * mv_n, tk * mv_k), dtype=np.int64)
    pad[:n, :k] = grid
    return pad.reshape(tn, mv_n, tk, mv_k).transpose(0, 2, 1, 3).reshape(-1)


def stored_fields(w: np.ndarray, w_bits: int, nm: tuple[int, int] | None) -> np.ndarray:
    """Per row, the stored fields: value (low ``w_bits``) | position in its group << w_bits."""
    mask = (1 << w_bits) - 1
    if nm is None:
        return w & mask
    n_keep, m = nm
    rows, k = w.shape
    g = w.reshape(rows, k // m, m)
    order = np.sort(np.argsort(-np.abs(g), axis=2, kind="stable")[:, :, :n_keep], axis=2)
    vals = np.take_along_axis(g, order, axis=2).reshape(rows, -1)
    return (vals & mask) | (order.reshape(rows, -1) << w_bits)


def pack_matrix(q: QMat, cfg: OverlayConfig, nm: tuple[int, int] | None) -> bytes:
    """The engine's stream of one matrix: per tile of ``mv_n`` rows, per chunk of ``mv_k``
    stored columns, the group scales of those rows when the chunk starts a group, then the
    ``mv_n × mv_k`` fields of the chunk row by row."""
    rows, k = q.w.shape
    fb = field_bits(cfg.w_bits, nm)
    fields = stored_fields(q.w, cfg.w_bits, nm)
    ks = fields.shape[1]
    nch, ntile = -(-ks // cfg.mv_k), -(-rows // cfg.mv_n)
    gck = (q.group * ks // k) // cfg.mv_k if cfg.group else nch
    grid = np.zeros((ntile * cfg.mv_n, nch * cfg.mv_k), dtype=np.int64)
    grid[:rows, :ks] = fields
    sc = np.zeros((ntile * cfg.mv_n, q.s.shape[1]), dtype=np.int64)
    sc[:rows] = q.s
    out = bytearray()
    for nt in range(ntile):
        r = slice(nt * cfg.mv_n, (nt + 1) * cfg.mv_n)
        for kc in range(nch):
            if kc % gck == 0:
                out += sc[r, kc // gck].astype("<u2").tobytes()
            out += pack_bits(grid[r, kc * cfg.mv_k : (kc + 1) * cfg.mv_k].reshape(-1), fb)
    return bytes(out)


def field_bits(w_bits: int, nm: tuple[int, int] | None) -> int:
    return w_bits + (max(1, (nm[1] - 1).bit_length()) if nm else 0)


class _Image:
    def __init__(self, beat: int) -> None:
        self.beat = beat
        self.mem = {p: bytearray() for p in isa.PORTS}
        self.symbols: dict[str, Region] = {}

    def put(self, port: str, name: str, data: bytes) -> int:
        buf = self.mem[port]
        buf.extend(b"\0" * (-len(buf) % self.beat))
        addr = len(buf)
        buf.extend(data)
        self.symbols[name] = Region(port, addr, len(data))
        return addr

    def reserve(self, port: str, name: str, size: int) -> int:
        return self.put(port, name, b"\0" * size)


class _Scratch:
    def __init__(self) -> None:
        self.top = 0

    def alloc(self, n: int) -> int:
        a = self.top
        self.top += n
        return a


def compile_model(qm: QuantModel, cfg: OverlayConfig) -> Compiled:
    m = qm.shape
    fm = qm.fm
    max_pos = fm.max_pos
    gpt = is_gpt(m)
    img, sp = _Image(cfg.beat), _Scratch()
    d, hd = m.d_model, m.head_dim
    half = hd // 2
    fmt = {p: MatFormat(cfg.w_bits, cfg.mv_k, cfg.mv_n, cfg.beat) for p in ("wqkv", "wo", "wffn")}
    sparse_of: dict[str, tuple[int, int] | None] = {}
    for name in layer_mats(m):
        cls = MAT_CLASS[name]
        nm = qm.spec.prune.get(cls) if cfg.stored_sparse.get(cls) else None
        sparse_of[name] = nm
    # --- act port: embeddings, positions, norm parameters, LUTs, RoPE tables
    emb = img.put("act", "emb", qm.emb.astype(np.int8).tobytes())
    pos_addr = img.put("act", "pos", qm.pos.astype(np.int8).tobytes()) if qm.pos is not None else 0
    prog_init: list[Instr] = []

    def load_const(name: str, data: np.ndarray, elem: int) -> int:
        dt = np.dtype({E_I8: "i1", E_I16: "<i2", E_U16: "<u2"}[elem])
        addr = img.put("act", name, data.astype(dt).tobytes())
        s = sp.alloc(data.size)
        prog_init.append(Instr("LOAD", port=PORT["act"], elem=elem, dst=s, n=data.size, addr=addr))
        return s

    cos_addr = sin_addr = 0
    if qm.rope_cos is not None and qm.rope_sin is not None:
        cos_addr = img.put("act", "rope_cos", qm.rope_cos.astype("<i2").tobytes())
        sin_addr = img.put("act", "rope_sin", qm.rope_sin.astype("<i2").tobytes())
    consts = []
    for li in range(m.n_layers):
        c = {}
        for nm_ in ("n1", "n2"):
            g, b, _, _ = qm.norms[li][nm_]
            c[nm_ + "g"] = load_const(f"l{li}.{nm_}_g", g, E_I8)
            c[nm_ + "b"] = load_const(f"l{li}.{nm_}_b", b, E_I8)
        c["exp"] = load_const(f"l{li}.exp", qm.luts[li]["exp"], E_U16)
        c["act"] = load_const(f"l{li}.act", qm.luts[li]["act"], E_I8)
        consts.append(c)
    fg = load_const("nf_g", qm.norm_f[0], E_I8)
    fb = load_const("nf_b", qm.norm_f[1], E_I8)
    # --- weights
    mats: list[dict[str, tuple[int, int]]] = []
    for li in range(m.n_layers):
        md = {}
        for name in layer_mats(m):
            port = MAT_PORT.get(name, "wffn")
            data = pack_matrix(qm.layers[li][name], cfg, sparse_of[name])
            md[name] = (img.put(port, f"l{li}.{name}", data), len(data))
        mats.append(md)
    lm_w = pack_matrix(qm.lm, cfg, None)
    lm = (img.put("wffn", "lm", lm_w), len(lm_w))
    # --- KV region: K rows [t][hd] and V transposed [hd][t] per layer and KV head
    kv = []
    for li in range(m.n_layers):
        kv.append(
            [
                (
                    img.reserve("kv", f"l{li}.k{g}", max_pos * hd),
                    img.reserve("kv", f"l{li}.v{g}", max_pos * hd),
                )
                for g in range(m.n_kv_heads)
            ]
        )
    # --- scratch for one token
    x, tmp, h = sp.alloc(d), sp.alloc(d), sp.alloc(d)
    q, k, v = sp.alloc(m.d_q), sp.alloc(m.d_kv), sp.alloc(m.d_kv)
    sc, pr, ctx = sp.alloc(max_pos), sp.alloc(max_pos), sp.alloc(m.d_q)
    up, gate, mid = sp.alloc(m.d_ffn), sp.alloc(m.d_ffn), sp.alloc(m.d_ffn)
    cs, sn = sp.alloc(half), sp.alloc(half)
    A = PORT

    def mv(name: str, li: int, dst: int, src: int) -> Instr:
        qmat = qm.layers[li][name]
        port = MAT_PORT.get(name, "wffn")
        nm = sparse_of[name]
        mm, sh = qm.rq[li][name]
        n, kk = qmat.w.shape
        w_addr, w_len = mats[li][name]
        return Instr(
            "MV",
            flags=F_SPARSE if nm else 0,
            port=A[port],
            dst=dst,
            src=src,
            n=n,
            k=kk,
            group=qmat.group if cfg.group else 0,
            addr=w_addr,
            stride=w_len,
            m=mm,
            sh=sh,
            aux2=(nm[0] << 8 | nm[1]) if nm else 0,
        )

    step: list[Instr] = [Instr("LOADX", port=A["act"], elem=E_I8, dst=x, n=d, addr=emb, stride=d)]
    if gpt:
        step.append(Instr("LOAD", port=A["act"], elem=E_I8, dst=tmp, n=d, addr=pos_addr, stride=d))
        step.append(Instr("ADD", dst=x, src=x, src2=tmp, n=d))
    else:
        step.append(
            Instr("LOAD", port=A["act"], elem=E_I16, dst=cs, n=half, addr=cos_addr, stride=2 * half)
        )
        step.append(
            Instr("LOAD", port=A["act"], elem=E_I16, dst=sn, n=half, addr=sin_addr, stride=2 * half)
        )
    ln = F_LN if gpt else 0
    grp = m.n_heads // m.n_kv_heads
    for li in range(m.n_layers):
        c, r = consts[li], qm.rq[li]
        _, _, mm1, sh1 = qm.norms[li]["n1"]
        _, _, mm2, sh2 = qm.norms[li]["n2"]
        step.append(
            Instr("NORM", flags=ln, dst=h, src=x, src2=c["n1g"], aux2=c["n1b"], n=d, m=mm1, sh=sh1)
        )
        step += [mv("wq", li, q, h), mv("wk", li, k, h), mv("wv", li, v, h)]
        if not gpt:
            step.append(Instr("ROPE", dst=q, src=q, n=m.n_heads, k=hd, aux=cs, aux2=sn))
            step.append(Instr("ROPE", dst=k, src=k, n=m.n_kv_heads, k=hd, aux=cs, aux2=sn))
        for kvh in range(m.n_kv_heads):
            ka, va = kv[li][kvh]
            step.append(
                Instr("STORE", port=A["kv"], src=k + kvh * hd, n=hd, addr=ka, stride=hd, k=1)
            )
            step.append(
                Instr("STORE", port=A["kv"], src=v + kvh * hd, n=hd, addr=va, stride=1, k=max_pos)
            )
        for hh in range(m.n_heads):
            ka, va = kv[li][hh // grp]
            step.append(
                Instr(
                    "MV",
                    flags=F_ROWS | F_DYN_N,
                    port=A["kv"],
                    dst=sc,
                    src=q + hh * hd,
                    k=hd,
                    addr=ka,
                    stride=hd,
                    m=r["score"][0],
                    sh=r["score"][1],
                )
            )
            step.append(Instr("SOFTMAX", dst=pr, src=sc, aux=c["exp"]))
            step.append(
                Instr(
                    "MV",
                    flags=F_ROWS | F_DYN_K,
                    port=A["kv"],
                    dst=ctx + hh * hd,
                    src=pr,
                    n=hd,
                    addr=va,
                    stride=max_pos,
                    m=r["ctx"][0],
                    sh=r["ctx"][1],
                )
            )
        step.append(mv("wo", li, tmp, ctx))
        step.append(Instr("ADD", dst=x, src=x, src2=tmp, n=d))
        step.append(
            Instr("NORM", flags=ln, dst=h, src=x, src2=c["n2g"], aux2=c["n2b"], n=d, m=mm2, sh=sh2)
        )
        step.append(mv("w_up", li, up, h))
        if gpt:
            step.append(Instr("LUT", dst=mid, src=up, n=m.d_ffn, aux=c["act"]))
        else:
            step.append(mv("w_gate", li, gate, h))
            step.append(Instr("LUT", dst=gate, src=gate, n=m.d_ffn, aux=c["act"]))
            step.append(
                Instr("MULQ", dst=mid, src=gate, src2=up, n=m.d_ffn, m=r["mid"][0], sh=r["mid"][1])
            )
        step.append(mv("w_down", li, tmp, mid))
        step.append(Instr("ADD", dst=x, src=x, src2=tmp, n=d))
    _, _, mf, shf = qm.norm_f
    step.append(Instr("NORM", flags=ln, dst=h, src=x, src2=fg, aux2=fb, n=d, m=mf, sh=shf))
    step.append(
        Instr(
            "MV",
            flags=F_ARGMAX,
            port=A["wffn"],
            src=h,
            n=m.vocab,
            k=d,
            group=qm.lm.group if cfg.group else 0,
            addr=lm[0],
            stride=lm[1],
        )
    )
    program = [*prog_init, Instr("END"), *step, Instr("END")]
    for port in img.mem:  # every port image ends on a beat
        img.mem[port].extend(b"\0" * (-len(img.mem[port]) % cfg.beat))
    return Compiled(
        cfg, program, 0, len(prog_init) + 1, img.mem, fmt, sp.top, max_pos, img.symbols, d, x
    )


def run_program(
    comp: Compiled, prompt: list[int], n_new: int, xs: list[np.ndarray] | None = None
) -> list[int]:
    """Greedy decode with the functional ISA executor (prefill token by token); ``xs``
    collects the residual stream after the last layer of every token."""
    mach = comp.machine()
    mach.run(comp.program, comp.init_pc)
    seq, out = list(prompt), []
    for i in range(len(prompt) + n_new - 1):
        mach.pos, mach.tok = i, seq[i]
        mach.run(comp.program, comp.step_pc)
        if xs is not None:
            xs.append(mach.scratch[comp.scratch_x : comp.scratch_x + comp.d_model].copy())
        if i >= len(prompt) - 1:
            out.append(mach.out_token)
            seq.append(mach.out_token)
    return out
