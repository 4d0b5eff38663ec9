"""The overlay's instruction set: encoding and a functional executor.

An instruction is eight little-endian 32-bit words (see ``FIELDS``). The executor runs a
program against the per-port memory image exactly as the RTL controller does and is the
check that the compiler's program and memory layout implement the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from overlay import arith

OPS = (
    "END", "LOAD", "LOADX", "STORE", "MV", "ADD", "NORM", "SOFTMAX", "LUT", "MULQ", "ROPE",
    "SETPOS",
)  # fmt: skip
OP = {name: i for i, name in enumerate(OPS)}
PORTS = ("wqkv", "wo", "wffn", "kv", "act")
PORT = {name: i for i, name in enumerate(PORTS)}
# LOAD element kinds
E_I8, E_I16, E_U16 = 0, 1, 2
# MV / NORM / SOFTMAX flags
F_DYN_N = 1  # N = POS + 1 (attention scores: one row per cached token)
F_DYN_K = 2  # K = POS + 1 (attention context: reduction over cached tokens)
F_ROWS = 4  # plain int8 rows at addr + n*stride (KV cache), no scales, no tiling
F_ARGMAX = 8  # no requant: the index of the largest accumulator goes to the token register
F_SPARSE = 16  # stored N:M values + indices
F_BATCH = 32  # aux tokens: x_t at src + t*k, y_t at dst + t*n, each weight tile fetched once
F_MM = 64  # on the separate MM engine: the weights at addr are in its mm_n × mm_k tile order
F_LN = 1  # NORM: LayerNorm (else RMSNorm)

# name: (word, low bit, width)
FIELDS = {
    "op": (0, 0, 8),
    "flags": (0, 8, 8),
    "port": (0, 16, 4),
    "elem": (0, 20, 4),
    "dst": (1, 0, 16),
    "src": (1, 16, 16),
    "src2": (2, 0, 16),
    "n": (2, 16, 16),
    "k": (3, 0, 16),
    "group": (3, 16, 16),
    "addr": (4, 0, 32),
    "aux": (5, 0, 32),  # scale / index region address, LUT / table scratch address
    "stride": (6, 0, 24),
    "sh": (6, 24, 8),
    "m": (7, 0, 16),
    "aux2": (7, 16, 16),  # beta / sin table scratch address; sparse N (hi) M (lo) bytes
}
WORDS = 8


@dataclass
class Instr:
    op: str
    flags: int = 0
    port: int = 0
    elem: int = 0
    dst: int = 0
    src: int = 0
    src2: int = 0
    n: int = 0
    k: int = 0
    group: int = 0
    addr: int = 0
    aux: int = 0
    stride: int = 0
    sh: int = 0
    m: int = 0
    aux2: int = 0

    def encode(self) -> list[int]:
        words = [0] * WORDS
        for name, (wi, lo, width) in FIELDS.items():
            v = OP[self.op] if name == "op" else int(getattr(self, name))
            if not 0 <= v < (1 << width):
                raise ValueError(f"{self.op}: field {name}={v} does not fit {width} bits")
            words[wi] |= v << lo
        return words

    @staticmethod
    def decode(words: list[int]) -> Instr:
        vals = {n: (words[w] >> lo) & ((1 << wd) - 1) for n, (w, lo, wd) in FIELDS.items()}
        return Instr(op=OPS[vals.pop("op")], **vals)


@dataclass
class MatFormat:
    """How an MV instruction's weights sit in memory (engine tile order, see docs)."""

    w_bits: int
    mv_k: int
    mv_n: int
    beat: int = 1  # port width in bytes: regions start on a beat
    mm_k: int = 0  # the separate MM engine's tiles (F_MM instructions); 0: none
    mm_n: int = 0


def unpack(data: bytes, bits: int, count: int, signed: bool) -> np.ndarray:
    """``count`` little-endian ``bits``-wide fields packed LSB-first from ``data``."""
    raw = np.frombuffer(data, dtype=np.uint8)
    allbits = np.unpackbits(raw, bitorder="little")[: count * bits].reshape(count, bits)
    vals = (allbits.astype(np.int64) << np.arange(bits)).sum(axis=1)
    if signed:
        vals = np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
    return vals


@dataclass
class Machine:
    """Architectural state: scratchpad words, per-port memories, POS/TOK registers."""

    mem: dict[str, bytearray]
    fmt: dict[str, MatFormat]
    scratch_words: int
    scratch: np.ndarray = field(init=False)
    pos: int = 0
    tok: int = 0
    out_token: int = -1
    pos0: int = 0  # POS the host started the program with (SETPOS is relative to it)

    def __post_init__(self) -> None:
        self.scratch = np.zeros(self.scratch_words, dtype=np.int64)

    def _read(self, port: int, addr: int, n: int) -> bytes:
        return bytes(self.mem[PORTS[port]][addr : addr + n])

    def run(self, program: list[Instr], start: int = 0) -> None:
        pc = start
        self.pos0 = self.pos
        while program[pc].op != "END":
            self.execute(program[pc])
            pc += 1

    def execute(self, i: Instr) -> None:
        s = self.scratch
        if i.op == "LOAD" or i.op == "LOADX":
            base = i.addr + (self.pos if i.op == "LOAD" else self.tok) * i.stride
            if i.elem == E_I8:
                v = np.frombuffer(self._read(i.port, base, i.n), dtype=np.int8)
            else:
                dt = np.int16 if i.elem == E_I16 else np.uint16
                v = np.frombuffer(self._read(i.port, base, 2 * i.n), dtype=dt)
            s[i.dst : i.dst + i.n] = v
        elif i.op == "STORE":
            mem = self.mem[PORTS[i.port]]
            base = i.addr + self.pos * i.stride
            step = i.k or 1
            for j in range(i.n):
                mem[base + j * step] = int(s[i.src + j]) & 0xFF
        elif i.op == "MV":
            if i.flags & F_BATCH:  # one weight stream, every token of the chunk
                for t in range(i.aux):
                    self._mv(i, t * i.k, t * i.n)
            else:
                self._mv(i)
        elif i.op == "SETPOS":
            self.pos = self.pos0 + i.n
        elif i.op == "ADD":
            s[i.dst : i.dst + i.n] = arith.add8(s[i.src : i.src + i.n], s[i.src2 : i.src2 + i.n])
        elif i.op == "NORM":
            g = s[i.src2 : i.src2 + i.n]
            b = s[i.aux2 : i.aux2 + i.n]
            x = s[i.src : i.src + i.n]
            s[i.dst : i.dst + i.n] = arith.norm(x, g, b, i.m, i.sh, ln=bool(i.flags & F_LN))
        elif i.op == "SOFTMAX":
            n = self.pos + 1
            s[i.dst : i.dst + n] = arith.softmax(s[i.src : i.src + n], s[i.aux : i.aux + 256])
        elif i.op == "LUT":
            s[i.dst : i.dst + i.n] = arith.lut_apply(s[i.src : i.src + i.n], s[i.aux : i.aux + 256])
        elif i.op == "MULQ":
            a, b = s[i.src : i.src + i.n], s[i.src2 : i.src2 + i.n]
            s[i.dst : i.dst + i.n] = arith.mulq(a, b, i.m, i.sh)
        elif i.op == "ROPE":
            hd = i.k
            c, sn = s[i.aux : i.aux + hd // 2], s[i.aux2 : i.aux2 + hd // 2]
            for h in range(i.n):
                o = h * hd
                s[i.dst + o : i.dst + o + hd] = arith.rope(s[i.src + o : i.src + o + hd], c, sn)
        else:
            raise ValueError(f"unknown instruction {i.op}")

    def _mv(self, i: Instr, xoff: int = 0, yoff: int = 0) -> None:
        s = self.scratch
        n = self.pos + 1 if i.flags & F_DYN_N else i.n
        k = self.pos + 1 if i.flags & F_DYN_K else i.k
        x = s[i.src + xoff : i.src + xoff + k]
        if i.flags & F_ROWS:
            mem = self.mem[PORTS[i.port]]
            w = np.array(
                [np.frombuffer(mem, np.int8, k, i.addr + r * i.stride) for r in range(n)],
                dtype=np.int64,
            ).reshape(n, k)
            acc = w @ x
        else:
            acc = self._matvec(i, n, k, x)
        if i.flags & F_ARGMAX:
            self.out_token = int(np.argmax(acc))
        else:
            s[i.dst + yoff : i.dst + yoff + n] = arith.requant(acc, i.m, i.sh)

    def _matvec(self, i: Instr, n: int, k: int, x: np.ndarray) -> np.ndarray:
        """Walk the weight stream in the engine's order (docs/overlay.md)."""
        f = self.fmt[PORTS[i.port]]
        tk, tn = (f.mm_k, f.mm_n) if i.flags & F_MM else (f.mv_k, f.mv_n)
        nn, mm = (i.aux2 >> 8, i.aux2 & 0xFF) if i.flags & F_SPARSE else (1, 1)
        ib = max(1, (mm - 1).bit_length()) if i.flags & F_SPARSE else 0
        fb = f.w_bits + ib
        ks = k * nn // mm
        nch, ntile = -(-ks // tk), -(-n // tn)
        gck = (i.group * nn // mm) // tk if i.group else nch
        mem, addr = self.mem[PORTS[i.port]], i.addr
        acc = np.zeros(ntile * tn, dtype=np.int64)
        scale = np.zeros(tn, dtype=np.int64)
        for nt in range(ntile):
            for kc in range(nch):
                if kc % gck == 0:
                    scale = np.frombuffer(mem, "<u2", tn, addr).astype(np.int64)
                    addr += 2 * tn
                nbytes = tn * tk * fb // 8
                fields = unpack(bytes(mem[addr : addr + nbytes]), fb, tn * tk, False)
                addr += nbytes
                fields = fields.reshape(tn, tk)
                w = fields & ((1 << f.w_bits) - 1)
                w = np.where(w >= 1 << (f.w_bits - 1), w - (1 << f.w_bits), w)
                j = kc * tk + np.arange(tk)
                cols = (j // nn) * mm + (fields >> f.w_bits) if ib else np.broadcast_to(j, w.shape)
                live = j < ks
                xs = np.where(live, x[np.minimum(cols, k - 1)], 0)
                acc[nt * tn : (nt + 1) * tn] += scale * (w * xs).sum(axis=1)
        return acc[:n]


def stream_bytes(count: int, bits: int, align: int = 1) -> int:
    """Bytes of ``count`` packed ``bits``-wide fields, padded to ``align`` bytes."""
    b = -(-count * bits // 8)
    return -(-b // align) * align
