"""The released UART top in Verilator, as a serial port a host program can talk to.

``build`` compiles ``overlay_uart_top`` with its harness once per parameter set (cached
beside the core's simulators, see ``overlay.sim.cache_root``); the hex images are read at
run time from the working folder, so one binary serves every image of the same shape.
``SimPort`` runs it with stdin/stdout as the UART wire and offers pyserial's ``write``/
``read``, so ``overlay.onchip.run_uart`` (and ``dse run``) talk to it as to a board.
"""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

from overlay.onchip import CORE_SOURCES, HARNESS, RELEASE_DIR, SOURCES, TOP
from overlay.sim import RTL_DIR, verilate


def sources() -> list[Path]:
    return [RELEASE_DIR / s for s in SOURCES] + [RTL_DIR / s for s in CORE_SOURCES]


def build(params: dict[str, int]) -> Path:
    """Path of the simulator of the released top for ``params``, building it if needed."""
    return verilate(TOP, [*sources(), RELEASE_DIR / HARNESS], params, tag="uart")


class SimPort:
    """The simulated board behind a serial-port interface (``write``, ``read``, ``close``).

    ``folder`` holds the hex images (``$readmemh`` reads them relative to the working
    directory); ``timeout`` is seconds of wall clock a ``read`` waits for a byte.
    """

    def __init__(self, binary: Path, folder: Path, cpb: int, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [str(binary), str(cpb)],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def write(self, data: bytes) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return len(data)

    def read(self, size: int = 1) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], self.timeout)
        return os.read(fd, size) if ready else b""

    def close(self) -> str:
        """Stop the simulation; its stderr (the harness's cycle count, any error)."""
        # The harness runs until its stdin ends; the host has read what it asked for.
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        return err.decode(errors="replace")

    def __enter__(self) -> SimPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
