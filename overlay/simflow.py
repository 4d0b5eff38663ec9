"""The ``sim`` rung's two halves, for ``runners.toolchains.sim-verilator``.

``write_bundle`` (deterministic, no tools) compiles the point's tiny model into the bundle
folder — memory images, program, harness run file, and the expected tokens and residual
streams from the bit-exact reference plus the cost model's predicted cycles — and returns
the Verilator build and run argv. ``read_result`` turns the harness output into metrics.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cost_models import Platform, load_platform
from cost_models._overlay_cycles import OverlayMemory, run_cycles
from overlay.config import OverlayError
from overlay.flow import TINY_SHAPES, default_prompt, prepare
from overlay.isa import PORTS
from overlay.reference import run_reference
from overlay.sim import (
    DEFAULT_LATENCY,
    HARNESS,
    SOURCES,
    port_rates,
    prefill_lines,
    verilator_argv,
    verilator_params,
)

EXPECTED = "expected.json"
RESULT = "result.txt"
# quant_group of a point that names none: the cost model's 128 divides no tiny model's
# d_model (64); 64 divides all their reductions (d_model, d_q, d_ffn) and is a multiple of
# every mv_k up to 64.
SIM_GROUP = 64


def _int(point: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = point.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise OverlayError(key, f"expected an integer in [{lo}, {hi}], got {v!r}")
    return v


def memory_of(point: Mapping[str, Any], cfg: Any, latency: int) -> OverlayMemory:
    plat = load_platform(str(point.get("platform", "u280")))
    if not isinstance(plat, Platform):
        raise OverlayError("platform", f"{plat.name!r} is a GPU; the overlay needs an FPGA board")
    eff = (
        plat.memory.eff_local
        if point.get("hbm_placement", "local") == "local"
        else (plat.memory.eff_global)
    )
    return OverlayMemory(latency, port_rates(cfg, plat.memory.channel_gbps, eff), cfg.beat)


def write_bundle(folder: Path, point: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Write the run's inputs into ``folder``; return (verilator argv, run argv)."""
    name = point.get("sim_model", "tiny-llama")
    if name not in TINY_SHAPES:
        raise OverlayError("sim_model", f"expected one of {', '.join(TINY_SHAPES)}, got {name!r}")
    shape = TINY_SHAPES[str(name)]
    seed = _int(point, "sim_seed", 0, 0, 1 << 30)
    n_prompt = _int(point, "sim_prompt", 4, 1, 16)
    n_new = _int(point, "sim_tokens", 8, 1, 16)
    latency = _int(point, "sim_latency", DEFAULT_LATENCY, 1, 1000)
    point = {"quant_group": SIM_GROUP, **point}
    try:
        prep = prepare(shape, point, seed, 32, default_prompt(shape, n_prompt, seed + 7))
    except OverlayError as exc:
        if exc.key != "quant_group":
            raise
        what = str(exc).removeprefix("quant_group: ")
        raise OverlayError(
            "quant_group",
            f"{what}; the sim rung runs sim_model {shape.name} (d_model {shape.d_model}, "
            f"d_ffn {shape.d_ffn}), where e.g. {SIM_GROUP} fits",
        ) from None
    comp, cfg = prep.comp, prep.cfg
    traces: list[dict] = []
    ref, _ = run_reference(prep.qm, prep.prompt, n_new, traces)
    mem = memory_of(point, cfg, latency)
    lines = [f"beat {cfg.beat}"]
    for i, g in enumerate(PORTS):
        (folder / f"{g}.bin").write_bytes(bytes(comp.mem[g]))
        lines.append(f"port {i} {latency} {mem.rates[g]!r} {g}.bin")
    (folder / "prog.hex").write_text(
        "".join("".join(f"{w:08x}" for w in reversed(i.encode())) + "\n" for i in comp.program)
    )
    lines += [
        f"wlat {latency}",
        "prog prog.hex",
        f"init {comp.init_pc}",
        f"step {comp.step_pc}",
        f"xaddr {comp.scratch_x} {comp.d_model}",
        *prefill_lines(comp),
        "mut 0",
        f"tokens {len(prep.prompt)} {n_new} " + " ".join(map(str, prep.prompt)),
        f"out {RESULT}",
    ]
    (folder / "run.txt").write_text("\n".join(lines) + "\n")
    pre, dec = run_cycles(shape, point, len(prep.prompt), n_new, mem)
    last = f"l{shape.n_layers - 1}.x"
    expected = {
        "model": shape.name,
        "prompt": prep.prompt,
        "tokens": ref,
        "residual": [[int(v) for v in t[last]] for t in traces],
        "model_prefill_cycles": pre,
        "model_decode_cycles": dec,
    }
    (folder / EXPECTED).write_text(json.dumps(expected, indent=1) + "\n")
    params = verilator_params(cfg, comp, latency)
    build = verilator_argv("verilator", "overlay_core", "obj", params, [*SOURCES, HARNESS])
    return build, ["env", "obj/Voverlay_core", "run.txt"]


def read_result(folder: Path) -> dict[str, Any]:
    """Metrics of a finished run: bit-exactness, cycles measured and predicted."""
    exp = json.loads((folder / EXPECTED).read_text())
    n_prompt = len(exp["prompt"])
    tokens, cycles, xs = [], [], []
    for line in (folder / RESULT).read_text().splitlines():
        f = line.split()
        if f[0] == "step":
            cycles.append(int(f[5]))
            if int(f[1]) >= n_prompt - 1:
                tokens.append(int(f[4]))
        elif f[0] == "x":
            xs.append([int(v) for v in f[2:]])
    exact = tokens == exp["tokens"] and xs == exp["residual"]
    pre, dec = sum(cycles[:n_prompt]), cycles[n_prompt:]
    m: dict[str, Any] = {
        "bit_exact": exact,
        "tokens": ",".join(map(str, tokens)),
        "prefill_cycles": pre,
        "model_prefill_cycles": round(exp["model_prefill_cycles"]),
    }
    for i, c in enumerate(dec):
        m[f"decode_cycles_kv{n_prompt + i + 1}"] = c
    if dec:
        mean = sum(dec) / len(dec)
        pred = sum(exp["model_decode_cycles"]) / len(exp["model_decode_cycles"])
        m["decode_cycles_per_token"] = mean
        m["model_decode_cycles_per_token"] = pred
        m["model_decode_err_pct"] = 100.0 * (pred - mean) / mean
    return m
