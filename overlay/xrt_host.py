"""Host runner of an Alveo release of the overlay, on XRT's Python binding (``pyxrt``).

The release holds the ``.xclbin``, the memory image of every AXI port (``<port>.bin``) and
``layout.json`` (``write_layout``): per port its image size and the HBM channels the point's
channel map gave it (the ``sp=`` lines of the link), the program, its entry points.
``XrtRunner`` loads the xclbin, allocates one buffer per port in the bank its kernel
argument is connected to (``kernel.group_id``), writes the images, then runs the prefill —
batched when the kernel holds token slots (``layout.json``'s ``prefill``: per chunk of up
to ``slots`` prompt tokens each slot's embedding entry, the chunk's body, after the last
chunk its last slot's LM head), else the step program per prompt token — then the step
program per generated token, and reads each token from a 4-byte output buffer: bits 15..0
the token, bit 31 the core's sticky AXI error flag (a port answered SLVERR/DECERR), on
which the runner stops with ``KernelError``.

Kernel arguments, in order (``KERNEL_ARGS``, the register map of
``templates/overlay_kernel/overlay_kernel.v``): ``prog`` (program words) and ``prog_len``
(instructions; copied into the instruction memory on a call at the init entry, pc 0),
``start_pc``, ``pos``, ``tok``, ``out`` (the argmax token, uint32), then the five ports.
Where XRT is absent a module with the same calls stands in
(``tests/overlay_tests/fake_pyxrt.py`` executes the program with ``overlay.isa``);
``XrtRunner(..., xrt=module)`` takes it, otherwise ``import pyxrt``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from overlay.compiler import Compiled
from overlay.isa import PORTS

KERNEL = "overlay_kernel"
KERNEL_ARGS = ("prog", "prog_len", "start_pc", "pos", "tok", "out", *PORTS)
PREFILL_ENTRIES = ("embed", "body", "head")  # layout.json's batched prefill entry points
# The kernel's own two masters (program reads, token writes) share the activations' channels.
EXTRA_PORTS = {"prog": "act", "out": "act"}
HBM_CHANNELS = 32  # U280 / U55C pseudo-channels
AXI_ERR_BIT = 1 << 31  # in the out word (overlay_kernel.v)


class KernelError(RuntimeError):
    """The kernel reported a failure the token it returned cannot be trusted after."""


def hbm_banks(
    hbm_ch: dict[str, int], first: int = 0, channels: int = HBM_CHANNELS
) -> dict[str, tuple[int, int]]:
    """HBM channel range (first, last) per port: the groups follow each other in port order
    from ``first``, as the cost model places them (``cost_models._common``), and start over
    at channel 0 past the platform's ``channels`` (groups then share channels). An ``sp=``
    range is contiguous, so a group that would run past the last channel takes the same
    number of channels ending at the last one."""
    out, at = {}, first
    for g in PORTS:
        n = min(channels, max(1, int(hbm_ch.get(g, 1))))
        a = at % channels
        a = min(a, channels - n)
        out[g] = (a, a + n - 1)
        at += n
    return out


def sp_lines(banks: dict[str, tuple[int, int]], instance: str = f"{KERNEL}_1") -> list[str]:
    """``v++ --connectivity.sp`` lines: each AXI port to its channel range (the kernel's
    program and token ports to the activations' range)."""
    spans = {**banks, **{p: banks[g] for p, g in EXTRA_PORTS.items() if g in banks}}
    return [
        f"sp={instance}.m_axi_{g}:HBM[{a}]" if a == b else f"sp={instance}.m_axi_{g}:HBM[{a}:{b}]"
        for g, (a, b) in spans.items()
    ]


def write_layout(
    comp: Compiled, folder: Path, vocab: int, channels: int = HBM_CHANNELS, slots: int = 0
) -> dict[str, Any]:
    """Write ``<port>.bin``, ``prog.bin`` and ``layout.json`` for ``comp``; return the layout.

    ``slots``: the token slots of the kernel that runs it (its ``TT``; 0: the program's own,
    ``comp.prefill.slots``); a kernel of one slot gets a serial prefill even where the
    program has batched entries, since a batched MV needs the slots' accumulators."""
    banks = hbm_banks(comp.cfg.hbm_ch, channels=channels)
    pf = comp.prefill
    batched = pf.slots > 1 and (slots or pf.slots) == pf.slots
    for g in PORTS:
        (folder / f"{g}.bin").write_bytes(bytes(comp.mem[g]))
    (folder / "prog.bin").write_bytes(b"".join(w.to_bytes(4, "little") for w in comp.words()))
    layout = {
        "kernel": KERNEL,
        "args": list(KERNEL_ARGS),
        "ports": {
            g: {"file": f"{g}.bin", "bytes": len(comp.mem[g]), "hbm": list(banks[g])} for g in PORTS
        },
        "sp": sp_lines(banks),
        "program": {"file": "prog.bin", "instructions": len(comp.program)},
        "init_pc": comp.init_pc,
        "step_pc": comp.step_pc,
        "prefill": (
            {
                "mode": "batched",
                "slots": pf.slots,
                "embed": pf.embed,
                "body": pf.body,
                "head": pf.head,
            }
            if batched
            else {"mode": "serial", "slots": 1}
        ),
        "max_positions": comp.max_pos,
        "vocab": vocab,
    }
    (folder / "layout.json").write_text(json.dumps(layout, indent=1) + "\n")
    return layout


def kernel_run_file(
    beat: int, folder: Path, layout: dict[str, Any], prompt: list[int], n: int, out: Path
) -> str:
    """The Verilator kernel harness's run file (``templates/overlay_kernel/kernel_main.cpp``):
    the images of ``folder`` as ``write_layout`` laid them out, then init, prefill of
    ``prompt`` and ``n`` tokens; the harness writes one ``step`` line per call to ``out``."""
    run = [f"beat {beat}", f"buf prog {folder / layout['program']['file']}"]
    run += [f"buf {g} {folder / layout['ports'][g]['file']}" for g in PORTS]
    run += [
        f"prog_len {layout['program']['instructions']}",
        f"init {layout['init_pc']}",
        f"step {layout['step_pc']}",
        *_batch_lines(layout),
        f"tokens {len(prompt)} {n} " + " ".join(map(str, prompt)),
        f"out {out}",
    ]
    return "\n".join(run) + "\n"


def _batch_lines(layout: dict[str, Any]) -> list[str]:
    pf = layout.get("prefill", {})
    if pf.get("mode") != "batched":
        return []
    return [f"batch {pf['slots']}", *(f"{k} " + " ".join(map(str, pf[k])) for k in PREFILL_ENTRIES)]


def prefill_calls(layout: dict[str, Any], prompt: list[int]) -> list[tuple[int, int, int]]:
    """(pc, pos, tok) of the kernel calls that prefill ``prompt`` after init; the last call's
    token is the first generated one. Batched: per chunk (``Prefill.chunks``) each slot's
    embedding entry with its token, the chunk's body at its first position, after the last
    chunk its last slot's LM head (the harness of ``overlay.sim`` runs the same calls)."""
    pf = layout.get("prefill", {})
    if pf.get("mode") != "batched":
        return [(layout["step_pc"], i, t) for i, t in enumerate(prompt)]
    calls, slots, n = [], int(pf["slots"]), 1
    for p0 in range(0, len(prompt), slots):
        n = min(slots, len(prompt) - p0)
        calls += [(pf["embed"][t], p0 + t, prompt[p0 + t]) for t in range(n)]
        calls.append((pf["body"][n - 1], p0, 0))
    calls.append((pf["head"][n - 1], len(prompt) - 1, 0))
    return calls


class XrtRunner:
    """Decode on an Alveo card through XRT (or a module with pyxrt's calls)."""

    def __init__(self, release: Path, xclbin: Path, device: int = 0, xrt: Any = None) -> None:
        if xrt is None:
            import importlib

            xrt = importlib.import_module("pyxrt")  # XRT's own binding, where installed
        self.xrt = xrt
        self.layout = json.loads((release / "layout.json").read_text())
        self.dev = xrt.device(device)
        uuid = self.dev.load_xclbin(str(xclbin))
        self.kernel = xrt.kernel(self.dev, uuid, self.layout["kernel"])
        self.bo: dict[str, Any] = {}
        files = {g: p["file"] for g, p in self.layout["ports"].items()}
        files["prog"] = self.layout["program"]["file"]
        for name, file in files.items():
            data = (release / file).read_bytes()
            self.bo[name] = self._buffer(name, len(data))
            self.bo[name].write(data, 0)
            self.bo[name].sync(xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, len(data), 0)
        self.bo["out"] = self._buffer("out", 4)

    def _buffer(self, arg: str, size: int) -> Any:
        group = self.kernel.group_id(KERNEL_ARGS.index(arg))  # the bank the link chose
        return self.xrt.bo(self.dev, max(size, 4), self.xrt.bo.normal, group)

    def _call(self, pc: int, pos: int, tok: int) -> int:
        b = self.bo
        n = self.layout["program"]["instructions"]
        run = self.kernel(b["prog"], n, pc, pos, tok, b["out"], *(b[g] for g in PORTS))
        run.wait()
        b["out"].sync(self.xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE, 4, 0)
        word = int.from_bytes(bytes(b["out"].read(4, 0)), "little")
        if word & AXI_ERR_BIT:
            raise KernelError(
                f"the kernel's AXI error flag is set after the call at pc {pc}, position "
                f"{pos}: a memory port ({', '.join(PORTS)}) answered SLVERR or DECERR (a "
                "buffer outside its HBM bank or too small for the image); the token is "
                "discarded, and the flag stays set until the xclbin is loaded again"
            )
        return word & 0xFFFF

    def generate(self, prompt: list[int], n: int) -> list[int]:
        """Prefill ``prompt`` (batched or token by token, as the layout says), then ``n``
        greedy tokens."""
        lay = self.layout
        if not prompt or n < 1 or len(prompt) + n - 1 > lay["max_positions"]:
            raise ValueError(
                f"prompt of {len(prompt)} + {n} tokens: 1..{lay['max_positions']} positions"
            )
        if any(not 0 <= t < lay["vocab"] for t in prompt):
            raise ValueError(f"prompt token ids are 0..{lay['vocab'] - 1}")
        self._call(lay["init_pc"], 0, 0)
        for pc, pos, tok in prefill_calls(lay, prompt):
            last = self._call(pc, pos, tok)
        out = [last]
        for i in range(len(prompt), len(prompt) + n - 1):
            out.append(self._call(lay["step_pc"], i, out[-1]))
        return out
