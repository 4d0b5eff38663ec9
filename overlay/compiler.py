"""Compiler: a quantised model and an overlay config to a program and a memory image.

The program has two entry points: ``init`` (nothing to load: every constant, a layer's
norm gains and LUTs or the final norm's, is loaded into one reused scratchpad region just
before its use) and ``step`` (one token at registers POS/TOK; the same stream serves every
prefill and decode token). The image has one byte array per AXI port (docs/overlay.md: layout).
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
    F_BATCH,
    F_DYN_K,
    F_DYN_N,
    F_LN,
    F_MM,
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
class Prefill:
    """Entry points of the batched prefill (``slots`` = 1: none, prefill runs ``step``)."""

    slots: int
    embed: list[int] = field(default_factory=list)  # per slot: LOADX of the started TOK
    body: list[int] = field(default_factory=list)  # per chunk size T (index T - 1)
    head: list[int] = field(default_factory=list)  # per slot: final norm and LM head
    x: int = 0  # scratchpad address of slot 0's residual stream (slot t at x + t*d_model)

    def chunks(self, n: int) -> list[tuple[int, int]]:
        """(first position, tokens) of the chunks a prompt of ``n`` tokens runs in."""
        return [(p, min(self.slots, n - p)) for p in range(0, n, self.slots)]


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
    prefill: Prefill = field(default_factory=lambda: Prefill(1))

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


def pack_matrix(q: QMat, cfg: OverlayConfig, nm: tuple[int, int] | None, mm: bool = False) -> bytes:
    """An engine's stream of one matrix: per tile of ``mv_n`` rows, per chunk of ``mv_k``
    stored columns, the group scales of those rows when the chunk starts a group, then the
    ``mv_n × mv_k`` fields of the chunk row by row (``mm``: the MM engine's ``mm_n × mm_k``
    tiles)."""
    tk, tn = (cfg.mm_k, cfg.mm_n) if mm else (cfg.mv_k, cfg.mv_n)
    rows, k = q.w.shape
    fb = field_bits(cfg.w_bits, nm)
    fields = stored_fields(q.w, cfg.w_bits, nm)
    ks = fields.shape[1]
    nch, ntile = -(-ks // tk), -(-rows // tn)
    gck = (q.group * ks // k) // tk if cfg.group else nch
    grid = np.zeros((ntile * tn, nch * tk), dtype=np.int64)
    grid[:rows, :ks] = fields
    sc = np.zeros((ntile * tn, q.s.shape[1]), dtype=np.int64)
    sc[:rows] = q.s
    out = bytearray()
    for nt in range(ntile):
        r = slice(nt * tn, (nt + 1) * tn)
        for kc in range(nch):
            if kc % gck == 0:
                out += sc[r, kc // gck].astype("<u2").tobytes()
            out += pack_bits(grid[r, kc * tk : (kc + 1) * tk].reshape(-1), fb)
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
    mmk, mmn = (cfg.mm_k, cfg.mm_n) if cfg.separate else (0, 0)
    fmt = {
        p: MatFormat(cfg.w_bits, cfg.mv_k, cfg.mv_n, cfg.beat, mmk, mmn)
        for p in ("wqkv", "wo", "wffn")
    }
    sparse_of: dict[str, tuple[int, int] | None] = {}
    for name in layer_mats(m):
        cls = MAT_CLASS[name]
        nm = qm.spec.prune.get(cls) if cfg.stored_sparse.get(cls) else None
        sparse_of[name] = nm
    # --- act port: embeddings, positions, norm parameters, LUTs, RoPE tables
    emb = img.put("act", "emb", qm.emb.astype(np.int8).tobytes())
    pos_addr = img.put("act", "pos", qm.pos.astype(np.int8).tobytes()) if qm.pos is not None else 0
    # the init program loads nothing: every constant is loaded where it is used
    prog_init: list[Instr] = []

    cos_addr = sin_addr = 0
    if qm.rope_cos is not None and qm.rope_sin is not None:
        cos_addr = img.put("act", "rope_cos", qm.rope_cos.astype("<i2").tobytes())
        sin_addr = img.put("act", "rope_sin", qm.rope_sin.astype("<i2").tobytes())
    # Constants stay in the act image; each is loaded into the scratchpad just before its
    # use, into one region every layer (and the final norm) reuses: a layer's first norm
    # (gain, beta) and its exp LUT at the layer's start, its second norm with the
    # activation LUT after the attention's residual, the final norm before the LM head.
    # The scratchpad then holds one norm's constants, not the model's (SmolLM-135M's 30
    # layers would take 84k words; with ChatGLM2-6B's buffers every word counts).
    n_act, n_exp = len(qm.luts[0]["act"]), len(qm.luts[0]["exp"])
    c_n, c_exp = sp.alloc(2 * d + n_act), sp.alloc(n_exp)
    c = {"g": c_n, "b": c_n + d, "act": c_n + 2 * d, "exp": c_exp}

    def const_load(name: str, data: np.ndarray, elem: int, dst: int) -> Instr:
        dt = "<u2" if elem == E_U16 else "i1"
        addr = img.put("act", name, data.astype(dt).tobytes())
        return Instr("LOAD", port=PORT["act"], elem=elem, dst=dst, n=data.size, addr=addr)

    loads_n1: list[list[Instr]] = []
    loads_n2: list[Instr] = []
    for li in range(m.n_layers):
        nd, lt = qm.norms[li], qm.luts[li]
        n1 = np.concatenate([nd["n1"][0], nd["n1"][1]])
        n2 = np.concatenate([nd["n2"][0], nd["n2"][1], lt["act"]])
        loads_n1.append([
            const_load(f"l{li}.n1", n1, E_I8, c_n),
            const_load(f"l{li}.exp", lt["exp"], E_U16, c_exp),
        ])  # fmt: skip
        loads_n2.append(const_load(f"l{li}.n2", n2, E_I8, c_n))
    load_nf = const_load("nf", np.concatenate([qm.norm_f[0], qm.norm_f[1]]), E_I8, c_n)
    # --- weights
    # a separate MM engine reads a second copy of every layer matrix in its own tile order
    # (the batched prefill's maps; the LM head runs on the MV engine only)
    mats: list[dict[str, tuple[int, int]]] = []
    mats_mm: list[dict[str, tuple[int, int]]] = []
    for li in range(m.n_layers):
        md, mdm = {}, {}
        for name in layer_mats(m):
            port = MAT_PORT.get(name, "wffn")
            data = pack_matrix(qm.layers[li][name], cfg, sparse_of[name])
            md[name] = (img.put(port, f"l{li}.{name}", data), len(data))
            if cfg.separate:
                data = pack_matrix(qm.layers[li][name], cfg, sparse_of[name], mm=True)
                mdm[name] = (img.put(port, f"l{li}.{name}.mm", data), len(data))
        mats.append(md)
        mats_mm.append(mdm)
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
    A = PORT
    grp = m.n_heads // m.n_kv_heads
    ln = F_LN if gpt else 0

    def mv(name: str, li: int, dst: int, src: int, tokens: int, on_mm: bool) -> Instr:
        """A layer's linear map; over ``tokens`` token slots with one weight stream (on the
        separate MM engine and its weight copy if ``on_mm``)."""
        qmat = qm.layers[li][name]
        nm = sparse_of[name]
        mm, sh = qm.rq[li][name]
        n, kk = qmat.w.shape
        w_addr, w_len = (mats_mm if on_mm else mats)[li][name]
        return Instr(
            "MV",
            flags=(F_SPARSE if nm else 0) | (F_BATCH if tokens > 1 else 0) | (F_MM if on_mm else 0),
            port=A[MAT_PORT.get(name, "wffn")],
            dst=dst,
            src=src,
            n=n,
            k=kk,
            group=qmat.group if cfg.group else 0,
            addr=w_addr,
            stride=w_len,
            m=mm,
            sh=sh,
            aux=tokens if tokens > 1 else 0,
            aux2=(nm[0] << 8 | nm[1]) if nm else 0,
        )

    def head(h: int, x: int) -> list[Instr]:
        """Final norm of the residual at ``x`` and the LM head's argmax."""
        _, _, mf, shf = qm.norm_f
        return [
            load_nf,
            Instr("NORM", flags=ln, dst=h, src=x, src2=c["g"], aux2=c["b"], n=d, m=mf, sh=shf),
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
            ),
        ]

    def embed(x: int, tmp: int) -> list[Instr]:
        out = [Instr("LOADX", port=A["act"], elem=E_I8, dst=x, n=d, addr=emb, stride=d)]
        if gpt:
            out.append(
                Instr("LOAD", port=A["act"], elem=E_I8, dst=tmp, n=d, addr=pos_addr, stride=d)
            )
            out.append(Instr("ADD", dst=x, src=x, src2=tmp, n=d))
        return out

    def rope_tables(cs: int, sn: int) -> list[Instr]:
        return [
            Instr(
                "LOAD", port=A["act"], elem=E_I16, dst=cs, n=half, addr=cos_addr, stride=2 * half
            ),
            Instr(
                "LOAD", port=A["act"], elem=E_I16, dst=sn, n=half, addr=sin_addr, stride=2 * half
            ),
        ]

    def layers(b: dict[str, int], tokens: int, on_mm: bool = False) -> list[Instr]:
        """Every layer for ``tokens`` tokens in slots (buffers ``b``, one slot per token);
        linear maps run once over all slots (on the separate MM engine if ``on_mm``),
        attention token by token (causal: token t stores its K/V at POS0 + t, then attends
        over 0..POS0 + t)."""
        T, out = tokens, []
        dq, dff = m.d_q, m.d_ffn
        for li in range(m.n_layers):
            r = qm.rq[li]
            out += loads_n1[li]
            _, _, mm1, sh1 = qm.norms[li]["n1"]
            _, _, mm2, sh2 = qm.norms[li]["n2"]
            for t in range(T):
                out.append(
                    Instr("NORM", flags=ln, dst=b["h"] + t * d, src=b["x"] + t * d,
                          src2=c["g"], aux2=c["b"], n=d, m=mm1, sh=sh1)
                )  # fmt: skip
            out += [
                mv(nm_, li, b[o], b["h"], T, on_mm)
                for nm_, o in (("wq", "q"), ("wk", "k"), ("wv", "v"))
            ]
            for t in range(T):
                q, k, v = b["q"] + t * dq, b["k"] + t * m.d_kv, b["v"] + t * m.d_kv
                if T > 1:
                    out.append(Instr("SETPOS", n=t))
                if not gpt:
                    cs, sn = b["cs"] + t * half, b["sn"] + t * half
                    out.append(Instr("ROPE", dst=q, src=q, n=m.n_heads, k=hd, aux=cs, aux2=sn))
                    out.append(Instr("ROPE", dst=k, src=k, n=m.n_kv_heads, k=hd, aux=cs, aux2=sn))
                for kvh in range(m.n_kv_heads):
                    ka, va = kv[li][kvh]
                    out.append(Instr("STORE", port=A["kv"], src=k + kvh * hd, n=hd, addr=ka,
                                     stride=hd, k=1))  # fmt: skip
                    out.append(Instr("STORE", port=A["kv"], src=v + kvh * hd, n=hd, addr=va,
                                     stride=1, k=max_pos))  # fmt: skip
                for hh in range(m.n_heads):
                    ka, va = kv[li][hh // grp]
                    out.append(Instr("MV", flags=F_ROWS | F_DYN_N, port=A["kv"], dst=b["sc"],
                                     src=q + hh * hd, k=hd, addr=ka, stride=hd,
                                     m=r["score"][0], sh=r["score"][1]))  # fmt: skip
                    out.append(Instr("SOFTMAX", dst=b["pr"], src=b["sc"], aux=c["exp"]))
                    out.append(Instr("MV", flags=F_ROWS | F_DYN_K, port=A["kv"],
                                     dst=b["ctx"] + t * dq + hh * hd, src=b["pr"], n=hd,
                                     addr=va, stride=max_pos, m=r["ctx"][0],
                                     sh=r["ctx"][1]))  # fmt: skip
            out.append(mv("wo", li, b["tmp"], b["ctx"], T, on_mm))
            out.append(Instr("ADD", dst=b["x"], src=b["x"], src2=b["tmp"], n=T * d))
            out.append(loads_n2[li])
            for t in range(T):
                out.append(
                    Instr("NORM", flags=ln, dst=b["h"] + t * d, src=b["x"] + t * d,
                          src2=c["g"], aux2=c["b"], n=d, m=mm2, sh=sh2)
                )  # fmt: skip
            out.append(mv("w_up", li, b["up"], b["h"], T, on_mm))
            if gpt:
                out.append(Instr("LUT", dst=b["up"], src=b["up"], n=T * dff, aux=c["act"]))
            else:
                out.append(mv("w_gate", li, b["gate"], b["h"], T, on_mm))
                out.append(Instr("LUT", dst=b["gate"], src=b["gate"], n=T * dff, aux=c["act"]))
                out.append(Instr("MULQ", dst=b["up"], src=b["gate"], src2=b["up"], n=T * dff,
                                 m=r["mid"][0], sh=r["mid"][1]))  # fmt: skip
            out.append(mv("w_down", li, b["tmp"], b["up"], T, on_mm))  # in place
            out.append(Instr("ADD", dst=b["x"], src=b["x"], src2=b["tmp"], n=T * d))
        return out

    def buffers(T: int) -> dict[str, int]:
        sizes = {"x": d, "tmp": d, "h": d, "q": m.d_q, "k": m.d_kv, "v": m.d_kv,
                 "ctx": m.d_q, "up": m.d_ffn, "gate": m.d_ffn,
                 "cs": half, "sn": half}  # fmt: skip
        b = {name: sp.alloc(T * n) for name, n in sizes.items()}
        b["sc"], b["pr"] = sp.alloc(max_pos), sp.alloc(max_pos)
        return b

    # --- one token (decode, and serial prefill)
    sb = buffers(1)
    step = embed(sb["x"], sb["tmp"]) + ([] if gpt else rope_tables(sb["cs"], sb["sn"]))
    step += layers(sb, 1) + head(sb["h"], sb["x"])
    program = [*prog_init, Instr("END"), *step, Instr("END")]
    step_pc = len(prog_init) + 1
    # --- batched prefill (tile_tokens slots): per slot an embedding entry (the host starts
    # it with the token), per chunk size a body, per slot an LM-head entry
    pf = Prefill(cfg.prefill_tokens)
    if pf.slots > 1:
        pb = buffers(pf.slots)
        for t in range(pf.slots):
            pf.embed.append(len(program))
            program += [*embed(pb["x"] + t * d, pb["tmp"] + t * d), Instr("END")]
        for T in range(1, pf.slots + 1):
            pf.body.append(len(program))
            tabs = [] if gpt else [
                ins for t in range(T) for ins in (
                    Instr("SETPOS", n=t), *rope_tables(pb["cs"] + t * half, pb["sn"] + t * half)
                )
            ]  # fmt: skip
            program += [*tabs, *layers(pb, T, cfg.separate), Instr("END")]
        for t in range(pf.slots):
            pf.head.append(len(program))
            program += [*head(pb["h"], pb["x"] + t * d), Instr("END")]
        pf.x = pb["x"]
    for port in img.mem:  # every port image ends on a beat
        img.mem[port].extend(b"\0" * (-len(img.mem[port]) % cfg.beat))
    return Compiled(
        cfg, program, 0, step_pc, img.mem, fmt, sp.top, max_pos, img.symbols, d, sb["x"], pf
    )


def run_program(
    comp: Compiled, prompt: list[int], n_new: int, xs: list[np.ndarray] | None = None
) -> list[int]:
    """Greedy decode with the functional ISA executor; ``xs`` collects the residual stream
    after the last layer of every token. Prefill runs the host protocol of the hardware:
    token by token through ``step``, or (batched) per chunk the slots' embedding entries,
    the chunk's body, and after the last chunk its last slot's LM head."""
    mach = comp.machine()
    mach.run(comp.program, comp.init_pc)
    seq, out = list(prompt), []
    pf, d = comp.prefill, comp.d_model
    first = 0
    if pf.slots > 1:
        for p0, n in pf.chunks(len(prompt)):
            for t in range(n):
                mach.pos, mach.tok = p0 + t, seq[p0 + t]
                mach.run(comp.program, pf.embed[t])
            mach.pos = p0
            mach.run(comp.program, pf.body[n - 1])
            if xs is not None:
                xs += [mach.scratch[pf.x + t * d : pf.x + (t + 1) * d].copy() for t in range(n)]
        mach.run(comp.program, pf.head[n - 1])
        out.append(mach.out_token)
        seq.append(mach.out_token)
        first = len(prompt)
    for i in range(first, len(prompt) + n_new - 1):
        mach.pos, mach.tok = i, seq[i]
        mach.run(comp.program, comp.step_pc)
        if xs is not None:
            xs.append(mach.scratch[comp.scratch_x : comp.scratch_x + d].copy())
        if i >= len(prompt) - 1:
            out.append(mach.out_token)
            seq.append(mach.out_token)
    return out
