"""Render the HLS C++ top of a spatial plan, build its C simulation with g++, run it.

``render`` writes the sources (templates/hls_spatial); ``build_csim`` compiles them with
the testbench, caching the binary by a hash of the sources and flags (the memory image is
read at run time, so one binary serves every model of a shape); ``run_csim`` runs a prompt
and greedy decode and returns the LM-head accumulators of each generated token.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from overlay.model import layer_mats
from overlay.reference import MAT_CLASS, QuantModel
from spatial.image import build_image
from spatial.plan import SpatialPlan

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "hls_spatial"
COMMON_DIR = TEMPLATE_DIR.parent / "hls_common"
STATIC = ("spatial_ops.h", "hls_stream_shim.h", "tb_spatial.cpp")
FLAGS = ("-std=c++17", "-O1", "-Wall", "-Wno-unknown-pragmas", "-Wno-unused-label")


@dataclass(frozen=True)
class Csim:
    binary: Path
    offsets: dict[str, int]
    cached: bool


def _cname(key: str) -> str:
    return "OFF_" + key.upper().replace(".", "_")


def _gemv_params(plan: SpatialPlan) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name in layer_mats(plan.shape):
        k = plan.kernel(name)
        nm = plan.prune[MAT_CLASS[name]] if k.sparse else None
        out[name] = {
            "rows": k.rows,
            "k": k.k,
            "group": plan.group or k.k,
            "sparse": k.sparse,
            "nn": nm[0] if nm else 1,
            "mm": nm[1] if nm else 1,
            "unroll": k.unroll,
            "block_in": k.block_in,
            "up": name.upper(),
        }
    out["attn"] = {"unroll": plan.kernel("attn").unroll}
    return out


def jinja_env(folder: Path) -> jinja2.Environment:
    """The Jinja2 settings of every generated spatial source (HLS C++ and RTL)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(plan: SpatialPlan, offsets: dict[str, int], layer_words: int, out: Path) -> list[Path]:
    """Write the generated top, its header and the static sources into ``out``."""
    m = plan.shape
    env = jinja_env(TEMPLATE_DIR)
    ctx = {
        "D": m.d_model,
        "DQ": m.d_q,
        "DKV": m.d_kv,
        "DFF": m.d_ffn,
        "NH": m.n_heads,
        "NKV": m.n_kv_heads,
        "HD": m.head_dim,
        "VOCAB": m.vocab,
        "N_LAYERS": m.n_layers,
        "C": plan.layers_built,
        "PASSES": plan.passes,
        "TILE": min(plan.tile_tokens, plan.max_pos),
        "MAXPOS": plan.max_pos,
        "LW": layer_words,
        "LM_GROUP": plan.group or m.d_model,
        "LM_UNROLL": plan.kernel("lm_head").unroll,
        "GPT": plan.gpt,
        "ENC": plan.encoder,
        "ONCHIP": plan.weights_onchip,
        "FIFO_DEPTH": plan.fifo_depth,
        "FIFOS": plan.fifos,
        "K": _gemv_params(plan),
        "OFFSETS": sorted((_cname(k), v) for k, v in offsets.items()),
    }
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name in ("spatial_top.h", "spatial_top.cpp"):
        text = env.get_template(name + ".j2").render(**ctx)
        (out / name).write_text(text, encoding="utf-8")
        files.append(out / name)
    for src in [*(TEMPLATE_DIR / s for s in STATIC), COMMON_DIR / "dse_types.h"]:
        shutil.copyfile(src, out / src.name)
        files.append(out / src.name)
    return files


def cache_dir() -> Path:
    return Path(os.environ.get("DSE_SPATIAL_CACHE", Path(tempfile.gettempdir()) / "dse-spatial"))


def build_csim(
    plan: SpatialPlan, qm: QuantModel, defines: tuple[str, ...] = ()
) -> tuple[Csim, np.ndarray]:
    """Render, compile (or reuse) the C simulation; returns it and the memory image."""
    words, offsets, lw = build_image(qm, plan)
    with tempfile.TemporaryDirectory() as tmp:
        files = render(plan, offsets, lw, Path(tmp))
        h = hashlib.sha256(" ".join([*FLAGS, *defines]).encode())
        for f in sorted(files):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        target = cache_dir() / h.hexdigest()[:20]
        binary = target / "tb"
        if binary.exists():
            return Csim(binary, offsets, True), words
        gxx = shutil.which("g++")
        if gxx is None:
            raise FileNotFoundError("g++ not found: install the Debian package g++")
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, target / f.name)
        tmp_bin = target / f"tb.{os.getpid()}"
        cmd = [gxx, *FLAGS, *(f"-D{d}" for d in defines), "-I", str(target)]
        cmd += ["-o", str(tmp_bin), str(target / "spatial_top.cpp"), str(target / "tb_spatial.cpp")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f"g++ failed on {target}:\n{proc.stderr[-4000:]}")
        tmp_bin.replace(binary)  # atomic: a concurrent builder sees all or nothing
    return Csim(binary, offsets, False), words


def run_csim(csim: Csim, words: np.ndarray, prompt: list[int], n_new: int) -> list[np.ndarray]:
    """LM-head accumulators after the prefill and after each of ``n_new - 1`` decode steps."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        np.savetxt(t / "image.txt", words.reshape(-1, 1), fmt="%d")
        (t / "prompt.txt").write_text(" ".join(map(str, [n_new, *prompt])) + "\n")
        proc = subprocess.run(
            [str(csim.binary), "image.txt", "prompt.txt", "out.txt"],
            cwd=t,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise RuntimeError(f"C simulation failed ({proc.returncode}): {proc.stderr[-2000:]}")
        acc = np.loadtxt(t / "out.txt", dtype=np.int64, ndmin=2)
    return list(acc)
