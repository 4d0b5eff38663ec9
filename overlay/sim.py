"""Cycle-accurate simulation of the overlay RTL with Verilator (cached builds).

``verilator_params`` sizes the hardware from the config and the compiled program;
``build`` compiles the core + harness once per parameter set (cached under
``$DSE_SIM_CACHE`` or ``~/.cache/dse/overlay-sim``); ``simulate`` runs prefill plus decode
and returns tokens, the residual stream of every token and cycles per step.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from overlay.compiler import Compiled
from overlay.config import OverlayConfig
from overlay.isa import F_DYN_K, PORTS

RTL_DIR = Path(__file__).resolve().parent.parent / "templates" / "overlay"
# the last, the separate MM engine, is elaborated only where SEP = 1 (unified_engine false)
SOURCES = (
    "overlay_core.v", "ov_tile_dec.v", "ov_mm_lanes.v", "ov_rdstream.v", "ov_bankram.v",
    "ov_mm_engine.v",
)  # fmt: skip
HARNESS = "sim_main.cpp"
HEADERS = ("ov_axi_mem.h",)  # included by every overlay harness: part of each build's hash
DEFAULT_LATENCY = 40  # cycles from AR to first R beat (≈200 ns of HBM at 200 MHz)
MUTATIONS = {
    "rope_sign": 1,
    "drop_scale": 2,
    "drop_beta": 3,
    "softmax_no_max": 4,
    "requant_floor": 5,
    "mm_same_x": 6,  # batched MV: every token reads the first token's x
    "mm_engine_scale": 7,  # the separate MM engine drops its group scales (MV engine intact)
}


class SimError(RuntimeError):
    """Verilator is missing, the build failed or the simulation did not finish."""


def _pow2(n: int, floor: int) -> int:
    return max(floor, 1 << max(0, (n - 1).bit_length()))


def verilator_params(
    cfg: OverlayConfig, comp: Compiled | None = None, latency: int = DEFAULT_LATENCY
) -> dict[str, int]:
    """Module parameters of ``overlay_core`` for this point (and program, if given), with
    stream buffers sized for a memory of ``latency`` cycles."""
    beat = cfg.beat
    tile = cfg.mv_n * 2 + cfg.mv_n * cfg.mv_k * (cfg.w_bits + 4) // 8
    if cfg.separate:  # the MM engine pops its own tiles from the same streams
        tile = max(tile, cfg.mm_n * 2 + cfg.mm_n * cfg.mm_k * (cfg.w_bits + 4) // 8)
    popmax = max(tile, cfg.mv_k * cfg.mv_n, cfg.sfu_lanes * 2)
    # Two tiles (double buffering) plus the bytes a full-rate port has in flight over the
    # memory latency and one 256-byte burst: without them a deep memory starves the engine.
    cap = 2 * popmax + beat * (latency + 16) + 256
    return {
        "MV_K": cfg.mv_k,
        "MV_N": cfg.mv_n,
        "WBITS": cfg.w_bits,
        "SFU_LANES": cfg.sfu_lanes,
        "BEAT": beat,
        "LOGBEAT": beat.bit_length() - 1,
        "CAP": cap,
        # the program's need (a power of two, at least the template's 64); 4096 without one
        "SPAD": _pow2(comp.scratch_words, 64) if comp else 4096,
        "IMEM": _pow2(len(comp.program) if comp else 0, 256),
        "OVERLAP": int(cfg.overlap),
        "IDXB": index_bits(cfg),
        # at least 256 so the tiny test models of a hardware point share one build; every
        # prefill token slot holds its own x vector
        "XBUF": _pow2(
            (max_reduction(comp) if comp else 0) * cfg.prefill_tokens, 256 * cfg.prefill_tokens
        ),
        # named only where built, so the tops without batched prefill keep their parameters
        **({"TT": cfg.prefill_tokens} if cfg.prefill_tokens > 1 else {}),
        **({"MT": cfg.mm_t} if cfg.mm_t > 1 else {}),
        **({"SEP": 1, "MM_K": cfg.mm_k, "MM_N": cfg.mm_n} if cfg.separate else {}),
    }


def index_bits(cfg: OverlayConfig) -> int:
    """N:M index bits the weight-stream decoder must handle (0: every class stored dense)."""
    ms = [nm[1] for c, nm in cfg.prune.items() if nm and cfg.stored_sparse.get(c)]
    return max([0, *((m - 1).bit_length() for m in ms)])


def max_reduction(comp: Compiled) -> int:
    """Longest reduction of an MV in the program: the x buffer's words."""
    ks = [comp.max_pos if i.flags & F_DYN_K else i.k for i in comp.program if i.op == "MV"]
    return max(ks, default=1)


def cache_root() -> Path:
    env = os.environ.get("DSE_SIM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "dse" / "overlay-sim"


def verilator_argv(
    exe: str, top: str, mdir: str, params: dict[str, int], files: Sequence[str]
) -> list[str]:
    """The one Verilator command line of every overlay simulator (``files``: RTL, harness).

    The C++ compile is nearly all of a build (verilating takes a second or two), so the
    flags favour compile time: one file per module (``--output-split 0``; each file pays
    ~0.7 s of header parsing and the default split made 38), -O1 for the per-cycle code,
    -O0 for the run-once setup code, and all cores. For tiny GPT-2 at the log-w4-p256
    point that took the compile from 70 to 47 CPU seconds; a decode run costs about a
    second more (1.3 → 2.3 CPU s). With ``OBJCACHE=ccache`` in the environment builds share
    the Verilator runtime's objects (the tests set it where ccache is installed).
    """
    return [
        exe, "--cc", "--exe", "--build", "-O1", "-Wno-fatal", "-Wno-lint", "-Wno-style",
        "--top-module", top, "--Mdir", mdir, "--output-split", "0",
        "-CFLAGS", "-std=c++17", "-MAKEFLAGS", "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1",
        "-j", str(os.cpu_count() or 1),
        *(f"-G{k}={v}" for k, v in params.items()),
        *files,
    ]  # fmt: skip


def verilate(top: str, files: Sequence[Path], params: dict[str, int], tag: str = "") -> Path:
    """Path of the simulator of ``top`` built from ``files`` with ``params``, built once.

    Cached under ``cache_root()`` by the content of the files, the parameters and the
    Verilator version (``tag`` keeps different tops apart); a lock lets concurrent
    processes share one build.
    """
    exe = shutil.which("verilator")
    if exe is None:
        raise SimError("verilator not found on PATH (Debian package 'verilator'; make sysdeps)")
    h = hashlib.sha256(tag.encode())
    for f in [*files, *(RTL_DIR / n for n in HEADERS)]:
        h.update(f.read_bytes())
    h.update(repr(sorted(params.items())).encode())
    h.update(subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.encode())
    folder = cache_root() / ((f"{tag}-" if tag else "") + h.hexdigest()[:16])
    binary = folder / "obj" / f"V{top}"
    if binary.is_file():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same one
        if binary.is_file():
            return binary
        argv = verilator_argv(exe, top, str(folder / "obj"), params, [str(f) for f in files])
        done = subprocess.run(argv, capture_output=True, text=True, cwd=folder)
        if done.returncode != 0 or not binary.is_file():
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise SimError("verilator build failed: " + " | ".join(tail))
    return binary


def build(params: dict[str, int]) -> Path:
    """Path of the simulator binary of the core for ``params``, building it if needed."""
    return verilate("overlay_core", [RTL_DIR / n for n in (*SOURCES, HARNESS)], params)


@dataclass
class SimRun:
    tokens: list[int]
    xs: list[np.ndarray]
    step_cycles: list[int]
    init_cycles: int
    port_bytes: dict[str, int]


def port_rates(cfg: OverlayConfig, channel_gbps: float, efficiency: float) -> dict[str, float]:
    """Bytes per kernel cycle each port's channels deliver (never above one beat)."""
    out = {}
    for g in PORTS:
        bw = cfg.hbm_ch[g] * channel_gbps * 1e9 * efficiency
        out[g] = min(float(cfg.beat), bw / (cfg.freq_mhz * 1e6))
    return out


def simulate(
    comp: Compiled,
    prompt: list[int],
    n_new: int,
    rates: dict[str, float] | None = None,
    latency: int = DEFAULT_LATENCY,
    mutation: str | None = None,
    workdir: Path | None = None,
) -> SimRun:
    """Run prefill + ``n_new - 1`` decode steps (``n_new`` tokens out) in RTL simulation."""
    cfg = comp.cfg
    binary = build(verilator_params(cfg, comp, latency))
    rates = rates or {g: float(cfg.beat) for g in PORTS}
    tmp = tempfile.TemporaryDirectory(prefix="overlay-sim-") if workdir is None else None
    wd = Path(tmp.name) if tmp else Path(workdir)  # type: ignore[arg-type]
    try:
        lines = [f"beat {cfg.beat}"]
        for i, g in enumerate(PORTS):
            (wd / f"{g}.bin").write_bytes(bytes(comp.mem[g]))
            lines.append(f"port {i} {latency} {rates[g]!r} {wd / f'{g}.bin'}")
        (wd / "prog.hex").write_text(
            "".join(
                "".join(f"{w:08x}" for w in reversed(ins.encode())) + "\n" for ins in comp.program
            )
        )
        lines += [
            f"wlat {latency}",
            f"prog {wd / 'prog.hex'}",
            f"init {comp.init_pc}",
            f"step {comp.step_pc}",
            f"xaddr {comp.scratch_x} {comp.d_model}",
            *prefill_lines(comp),
            f"mut {MUTATIONS[mutation] if mutation else 0}",
            f"tokens {len(prompt)} {n_new} " + " ".join(map(str, prompt)),
            f"out {wd / 'result.txt'}",
        ]
        (wd / "run.txt").write_text("\n".join(lines) + "\n")
        done = subprocess.run([str(binary), str(wd / "run.txt")], capture_output=True, text=True)
        if done.returncode != 0:
            raise SimError(f"simulation failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        return _parse(wd / "result.txt", len(prompt))
    finally:
        if tmp:
            tmp.cleanup()


def prefill_lines(comp: Compiled) -> list[str]:
    """The harness's batched-prefill entries (none: the prompt runs through ``step``)."""
    pf = comp.prefill
    if pf.slots <= 1:
        return []
    return [
        f"batch {pf.slots} {pf.x}",
        "embed " + " ".join(map(str, pf.embed)),
        "body " + " ".join(map(str, pf.body)),
        "head " + " ".join(map(str, pf.head)),
    ]


def _parse(path: Path, n_prompt: int) -> SimRun:
    tokens, xs, cycles, init, pb = [], [], [], 0, {}
    for line in path.read_text().splitlines():
        f = line.split()
        if f[0] == "init_cycles":
            init = int(f[1])
        elif f[0] == "step":
            cycles.append(int(f[5]))
            if int(f[1]) >= n_prompt - 1:
                tokens.append(int(f[4]))
        elif f[0] == "x":
            xs.append(np.array([int(v) for v in f[2:]], dtype=np.int64))
        elif f[0] == "bytes":
            pb[PORTS[int(f[1])]] = int(f[2])
    return SimRun(tokens, xs, cycles, init, pb)
