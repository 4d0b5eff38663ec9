"""A stand-in for XRT's ``pyxrt`` (tests only): the calls ``overlay.xrt_host`` makes.

Its "xclbin" is a JSON file: the kernel name, its argument list, the HBM bank each argument
is linked to, and what the overlay's executor needs (matrix formats, scratchpad size, and
optionally the instruction memory's entries, ``imem``). A
kernel call runs the program from ``start_pc`` with ``overlay.isa`` on the buffers' bytes
(the scratchpad persists between calls, as in the hardware), and refuses a port buffer
that was not allocated in the bank the link gave that port.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from overlay import isa
from overlay.isa import PORTS, Instr, MatFormat


class xclBOSyncDirection:  # pyxrt spells its names this way
    XCL_BO_SYNC_BO_TO_DEVICE = 0
    XCL_BO_SYNC_BO_FROM_DEVICE = 1


class bo:
    normal = 0

    def __init__(self, dev: device, size: int, flags: int, group: int) -> None:
        self.data = bytearray(size)
        self.group = group

    def write(self, data: bytes, offset: int) -> None:
        self.data[offset : offset + len(data)] = data

    def sync(self, direction: int, size: int, offset: int) -> None:
        if not 0 <= offset <= offset + size <= len(self.data):
            raise ValueError("sync outside the buffer")

    def read(self, size: int, offset: int) -> np.ndarray:
        return np.frombuffer(bytes(self.data[offset : offset + size]), dtype=np.uint8)


class device:
    def __init__(self, index: int) -> None:
        self.xclbin: dict[str, Any] = {}

    def load_xclbin(self, path: str) -> str:
        self.xclbin = json.loads(Path(path).read_text())
        return "uuid:" + path


class _Run:
    def wait(self) -> int:
        return 0


class kernel:
    def __init__(self, dev: device, uuid: str, name: str) -> None:
        if name != dev.xclbin.get("kernel"):
            raise RuntimeError(f"no kernel {name!r} in the xclbin")
        self.dev = dev
        self.machine: isa.Machine | None = None

    def group_id(self, index: int) -> int:
        return int(self.dev.xclbin["banks"].get(self.dev.xclbin["args"][index], 0))

    def __call__(
        self, prog: bo, prog_len: int, pc: int, pos: int, tok: int, out: bo, *ports: bo
    ) -> _Run:
        x = self.dev.xclbin
        if prog_len * 32 != len(prog.data):
            raise RuntimeError(f"prog_len {prog_len} for a {len(prog.data)}-byte program")
        if prog_len > x.get("imem", prog_len):  # the kernel's instruction memory, when known
            raise RuntimeError(f"prog_len {prog_len} over the kernel's IMEM {x['imem']}")
        for g, b in zip(PORTS, ports, strict=True):
            if b.group != x["banks"][g]:
                raise RuntimeError(
                    f"buffer of port {g} in bank {b.group}, linked to {x['banks'][g]}"
                )
        words = np.frombuffer(bytes(prog.data), dtype="<u4").tolist()
        program = [Instr.decode(words[i : i + 8]) for i in range(0, len(words), 8)]
        if self.machine is None:
            fmt = {g: MatFormat(**f) for g, f in x["fmt"].items()}
            mem = {g: b.data for g, b in zip(PORTS, ports, strict=True)}
            self.machine = isa.Machine(mem, fmt, x["scratch_words"])
        m = self.machine
        m.pos, m.tok = pos, tok
        m.run(program, pc)
        # The kernel's out word: the token in bits 15..0, its AXI error flag in bit 31 (never
        # set here: a buffer outside its bank is refused above instead).
        out.data[0:4] = (int(m.out_token) & 0xFFFF).to_bytes(4, "little")
        return _Run()
