"""The overlay released for a board without external memory (ECP5): on-chip images, UART host.

``templates/overlay_release/overlay_uart_top.v`` puts the program and the memory image of
every AXI port in block RAM initialised in the bitstream (``$readmemh`` of the hex files
written here) and talks to a host over a UART. This module writes those files, checks that
they fit the device, and speaks the UART protocol (the top's header comment) over anything
with pyserial's ``write``/``read``.

Digests (recorded in a release manifest): ``image_sha256`` is the sha256 of the five port
images' bytes in port order (wqkv, wo, wffn, kv, act) as the compiler made them;
``program_sha256`` the sha256 of the program's 32-bit words, little-endian.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cost_models import ModelShape
from overlay.compiler import Compiled
from overlay.config import OverlayError
from overlay.flow import Prepared, default_prompt, prepare
from overlay.isa import PORTS
from overlay.sim import verilator_params

RELEASE_DIR = Path(__file__).resolve().parent.parent / "templates" / "overlay_release"
TOP = "overlay_uart_top"
# The released top's own sources, then the core's (templates/overlay).
SOURCES = ("overlay_uart_top.v", "ov_memslave.v", "ov_uart.v")
CORE_SOURCES = (
    "overlay_core.v",
    "ov_tile_dec.v",
    "ov_mm_lanes.v",
    "ov_rdstream.v",
    "ov_bankram.v",
)
HARNESS = "uart_main.cpp"
MAGIC_REQ, MAGIC_RESP = 0xA5, 0x5A
ONCHIP_LATENCY = 2  # cycles from a read request to its first beat in ov_memslave
# ECP5 EBR (18 Kbit) configurations, (depth, width); 512 x 36 is pseudo dual port, which is
# all a port memory needs (one read, one write).
ECP5_EBR_MODES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
EBR_ROWS = 512  # a port memory (BEAT >= 4 bytes) uses an EBR as 512 words of 36 bits
SPAD_EBR_ROWS = 1024  # a scratchpad bank (18-bit words) uses an EBR as 1024 x 18


class SerialLike(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...


@dataclass
class OnchipRelease:
    prep: Prepared
    params: dict[str, int]
    max_pos: int
    image_sha256: str
    program_sha256: str
    files: dict[str, str]  # hex file name -> contents


def words_log2(n_bytes: int, beat: int) -> int:
    """log2 of the words (of ``beat`` bytes) a port memory needs, at least 2 words."""
    return max(1, math.ceil(math.log2(max(2, -(-n_bytes // beat)))))


def port_words(n_bytes: int, beat: int) -> int:
    """Words a port memory holds: the image rounded up to whole block RAMs (not to a
    power of two, which costs up to twice the EBRs: the tiny LLaMA's wffn image is 21.9k
    words, 43 EBRs where 2^15 words would take 64)."""
    words = max(2, -(-n_bytes // beat))
    return -(-words // EBR_ROWS) * EBR_ROWS


def spad_words(scratch_words: int, banks: int) -> int:
    """Scratchpad words of a release: the program's footprint (the compiler's
    ``scratch_words``) rounded up to whole block RAMs per bank. Each of the ``3 + lanes``
    copies pays for every word, so the power-of-two rounding of the simulation builds
    (4880 words -> 8192 for the tiny LLaMA) would cost a third more EBRs for nothing."""
    per_bank = -(-max(scratch_words, 1) // banks)
    return banks * -(-per_bank // SPAD_EBR_ROWS) * SPAD_EBR_ROWS


def hex_words(data: bytes, beat: int) -> str:
    """``$readmemh`` text: one word of ``beat`` bytes per line, byte 0 least significant."""
    pad = bytes(data) + bytes(-len(data) % beat)
    return "".join(pad[i : i + beat][::-1].hex() + "\n" for i in range(0, len(pad), beat))


def program_hex(comp: Compiled) -> str:
    return "".join(
        "".join(f"{w:08x}" for w in reversed(ins.encode())) + "\n" for ins in comp.program
    )


def prefill_hex(comp: Compiled) -> str:
    """The released top's batched-prefill entry points (``F_PF``), one 16-bit word a line:
    per slot the embedding entry, per chunk size the body, per slot the LM head; zeros for
    a serial program (the top then reads none)."""
    pf = comp.prefill
    pcs = [*pf.embed, *pf.body, *pf.head] if pf.slots > 1 else [0, 0, 0]
    return "".join(f"{pc:04x}\n" for pc in pcs)


def digests(comp: Compiled) -> tuple[str, str]:
    img = hashlib.sha256()
    for g in PORTS:
        img.update(bytes(comp.mem[g]))
    prog = hashlib.sha256(b"".join(w.to_bytes(4, "little") for w in comp.words()))
    return img.hexdigest(), prog.hexdigest()


def prepare_release(
    shape: ModelShape, point: dict, seed: int = 0, max_pos: int = 64, cpb: int = 217
) -> OnchipRelease:
    """Seeded weights of ``shape`` quantised (calibrated on a seeded prompt) and compiled for
    ``point``; the released top's parameters and hex files."""
    prep = prepare(shape, point, seed, max_pos, default_prompt(shape, 4, seed + 7))
    comp, cfg = prep.comp, prep.cfg
    if cfg.separate:
        raise OverlayError(
            "unified_engine",
            "the on-chip release top builds the unified engine only (true); "
            "a separate MM engine is built by the sim rung and the synthesis flows",
        )
    params = verilator_params(cfg, comp, ONCHIP_LATENCY)
    aw = {g: words_log2(len(comp.mem[g]), cfg.beat) for g in PORTS}
    banks = max(2, 1 << max(0, (cfg.sfu_lanes - 1).bit_length()))  # overlay_core's NB
    params.update(
        {
            "CPB": cpb,
            "SPAD": spad_words(comp.scratch_words, banks),
            **{f"AW_{g.upper()}": aw[g] for g in PORTS},
            **{f"N_{g.upper()}": port_words(len(comp.mem[g]), cfg.beat) for g in PORTS},
            "PROG_LEN": len(comp.program),
            "INIT_PC": comp.init_pc,
            "STEP_PC": comp.step_pc,
            "MAX_POS": comp.max_pos,
            "TT": comp.prefill.slots,
        }
    )
    files = {f"{g}.hex": hex_words(bytes(comp.mem[g]), cfg.beat) for g in PORTS}
    files["prog.hex"] = program_hex(comp)
    files["pf.hex"] = prefill_hex(comp)
    img, prog = digests(comp)
    return OnchipRelease(prep, params, comp.max_pos, img, prog, files)


def write_files(rel: OnchipRelease, folder: Path) -> None:
    for name, text in rel.files.items():
        (folder / name).write_text(text)


def ecp5_blocks(width: int, depth: int) -> int:
    """EBRs of a ``depth`` x ``width`` memory in the cheapest ECP5 configuration."""
    return min(-(-width // w) * -(-depth // d) for d, w in ECP5_EBR_MODES)


def onchip_blocks(rel: OnchipRelease) -> dict[str, int]:
    """EBRs of each memory the released top adds or holds in block RAM."""
    p = rel.params
    beat_bits = 8 * p["BEAT"]
    out = {g: ecp5_blocks(beat_bits, p[f"N_{g.upper()}"]) for g in PORTS}
    out["program"] = ecp5_blocks(256, p["PROG_LEN"])
    out["imem"] = ecp5_blocks(256, p["IMEM"])
    return out


def check_fits(rel: OnchipRelease, ebr_available: int, where: str) -> dict[str, int]:
    """The EBR need per memory; :class:`OverlayError` naming what is missing when the images
    do not fit ``ebr_available`` blocks of ``where``."""
    need = onchip_blocks(rel)
    total = sum(need.values())
    if total > ebr_available:
        parts = ", ".join(f"{k} {v}" for k, v in need.items())
        raise OverlayError(
            "platform",
            f"the weights and program need {total} block RAMs ({parts}) and {where} has "
            f"{ebr_available}: the overlay has no external memory controller (DDR) for this "
            "board yet, so only models whose image fits on chip can be released",
        )
    return need


# ---------------------------------------------------------------------------- protocol
def encode_request(prompt: list[int], n_gen: int) -> bytes:
    if not 1 <= len(prompt) <= 255:
        raise ValueError(f"--prompt: 1 to 255 token ids, got {len(prompt)}")
    if not 1 <= n_gen <= 255:
        raise ValueError(f"--tokens: 1 to 255, got {n_gen}")
    if any(not 0 <= t < 1 << 16 for t in prompt):
        raise ValueError("--prompt: token ids are 0..65535")
    body = b"".join(t.to_bytes(2, "little") for t in prompt)
    return bytes([MAGIC_REQ, len(prompt), n_gen]) + body


def _read_exact(port: SerialLike, n: int, what: str) -> bytes:
    buf = b""
    while len(buf) < n:
        got = port.read(n - len(buf))
        if not got:
            raise TimeoutError(
                f"no answer from the board while reading {what} ({len(buf)}/{n} bytes)"
            )
        buf += got
    return buf


# Status bytes of the released top (overlay_uart_top.v's header) other than 0 (ok).
STATUS = {
    1: "refused the request: prompt + tokens - 1 exceeds its positions",
    2: (
        "reports a memory error: a port memory (wqkv, wo, wffn, kv, act) was addressed "
        "past the image it holds, so its tokens are no longer the model's; reload the "
        "bitstream (power-on reset clears it), and if it comes back the release is damaged"
    ),
}
TOKEN_ERROR = 0xFFFF  # in place of a token id: a status byte follows


def _status(code: int) -> str:
    return STATUS.get(code, f"answered the unknown status {code}")


def run_uart(port: SerialLike, prompt: list[int], n_gen: int) -> tuple[list[int], int]:
    """Send a prompt, read ``n_gen`` generated token ids and the step program's cycles."""
    port.write(encode_request(prompt, n_gen))
    head = _read_exact(port, 2, "the reply header")
    if head[0] != MAGIC_RESP:
        raise ValueError(f"not a released UART top on this port (reply starts 0x{head[0]:02x})")
    if head[1] != 0:
        raise ValueError(f"the board {_status(head[1])}")
    tokens: list[int] = []
    while len(tokens) < n_gen:
        tok = int.from_bytes(_read_exact(port, 2, "tokens"), "little")
        if tok == TOKEN_ERROR:
            code = _read_exact(port, 1, "the error status")[0]
            raise ValueError(f"the board stopped after {len(tokens)} tokens: it {_status(code)}")
        tokens.append(tok)
    cycles = int.from_bytes(_read_exact(port, 4, "the cycle count"), "little")
    return tokens, cycles
