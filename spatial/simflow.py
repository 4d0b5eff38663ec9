"""The ``sim`` rung of the spatial RTL (flow ``sim-verilator``): its two halves.

``write_bundle`` (deterministic, no tools) builds the point's plan for a tiny model of the
study's family (``sim_model``; by default tiny-gpt2 for a GPT-2-style study, tiny-llama
otherwise), writes ``sp_top.v``, the kernel library, the harness and the ROMs of seeded
random weights (and, for streamed weights, the image the memory ports read and the memory
the harness serves them with: spatial/rtl_stream.py), the run file, and ``expected.json``:
the bit-exact reference's LM-head accumulators of every call and the spatial cost
model's cycles for the same run (prefill of the prompt, each decode step at its KV
length). It returns the Verilator build and run argv. ``read_result`` turns the harness
output into the rung's metrics (the overlay's names, so calibration pairs
``decode_cycles_per_token`` with ``model_decode_cycles_per_token`` alike).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cost_models as cm
from cost_models import ModelShape, Workload
from overlay.flow import TINY_SHAPES, default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model, run_reference
from overlay.sim import verilator_argv
from spatial import rtl_stream
from spatial.plan import SpatialError, build_plan
from spatial.plan import _int as knob  # an integer knob in range, else SpatialError
from spatial.rtl import HARNESS, TOP, render, write_roms

EXPECTED = "expected.json"
RESULT = "result.txt"
SIM_MAX_POS = 32
# quant_group of a point that names none: 64 divides every tiny model's reductions.
SIM_GROUP = 64


def sim_shape(point: Mapping[str, Any]) -> ModelShape:
    """The tiny model the rung runs: ``sim_model``, else one of the study model's family."""
    name = point.get("sim_model")
    if name is None:
        study = point.get("model_shape")
        if isinstance(study, Mapping) and study.get("causal") is False:
            raise SpatialError(
                "model_shape",
                "an encoder: the sim rung runs decoders (a prompt, then greedy decode) only",
            )
        # overlay.model.is_gpt's rule: a GELU FFN is GPT-2-style (LayerNorm, learned
        # positions), anything else LLaMA-style (RMSNorm, RoPE, SwiGLU)
        gpt = isinstance(study, Mapping) and study.get("ffn") == "gelu"
        name = "tiny-gpt2" if gpt else "tiny-llama"
    if name not in TINY_SHAPES:
        raise SpatialError("sim_model", f"expected one of {', '.join(TINY_SHAPES)}, got {name!r}")
    return TINY_SHAPES[str(name)]


def _on_tiny(exc: SpatialError, shape: ModelShape) -> SpatialError:
    """A group the tiny model cannot take: say which model the rung runs."""
    why = str(exc).removeprefix(f"{exc.key}: ")
    sizes = f"d_model {shape.d_model}, d_ffn {shape.d_ffn}"
    return SpatialError(
        exc.key, f"{why}; the rung simulates {shape.name} ({sizes}): try {SIM_GROUP}"
    )


def design_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """The point's cost-model keys (what ``cost_models.evaluate`` reads), no host time."""
    plat = cm.load_platform(str(point.get("platform", "u280")))
    specs = cm.param_specs("spatial", plat)
    out = {k: v for k, v in point.items() if k in specs}
    return {**out, "host_overhead_us": 0.0}


def model_cycles(
    shape: ModelShape, point: Mapping[str, Any], n_prompt: int, positions: list[int]
) -> tuple[float, list[float], bool]:
    """The spatial cost model's cycles of this run: the prompt's call (LM head of its last
    token included) and a decode step at each of ``positions``; and whether it keeps the
    weights on chip (how it resolves ``weight_storage: auto`` for the tiny model)."""
    platform = str(point.get("platform", "u280"))
    design = design_point(point)
    freq = float(design.setdefault("freq_mhz", 200.0))
    gen = max(positions, default=n_prompt) + 1 - n_prompt

    def row(kv: int | None) -> Any:
        wl = Workload(shape, 1, n_prompt, max(gen, 1), True, kv)
        return cm.evaluate(wl, platform, design, arch="spatial", baseline=None, detail=True).iloc[0]

    first = row(None)
    pre = float(first["prefill_latency_s"]) * freq * 1e6
    dec = [float(row(kv)["decode_latency_s"]) * freq * 1e6 for kv in positions]
    return pre, dec, bool(first["weights_onchip"])


def write_bundle(folder: Path, point: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Write the run's inputs into ``folder``; return (verilator argv, run argv)."""
    shape = sim_shape(point)
    seed = knob(point, "sim_seed", 0, 0, 1 << 30)
    n_prompt = knob(point, "sim_prompt", 4, 1, 16)
    n_new = knob(point, "sim_tokens", 8, 1, 16)
    point = {"quant_group": SIM_GROUP, **point}
    positions = [n_prompt + i for i in range(n_new - 1)]  # each decode call's position
    try:
        pre, dec, onchip = model_cycles(shape, point, n_prompt, positions)
    except cm.InputError as exc:
        raise SpatialError(exc.key, exc.expected) from None
    if point.get("weight_storage", "onchip") == "auto":  # as the model resolves it
        point = {**point, "weight_storage": "onchip" if onchip else "stream"}
    try:
        plan = build_plan(point, shape, SIM_MAX_POS)
    except SpatialError as exc:
        raise (_on_tiny(exc, shape) if exc.key == "quant_group" else exc) from None
    files = render(plan, folder)
    prompt = default_prompt(shape, n_prompt, seed + 7)
    qm = quantise_model(make_float_model(shape, seed, SIM_MAX_POS), plan.quant_spec(), prompt)
    write_roms(plan, qm, folder)
    tokens, accs = run_reference(qm, prompt, n_new)
    run = f"vocab {shape.vocab}\ntokens {n_prompt} {n_new} " + " ".join(map(str, prompt))
    run += f"\nout {RESULT}\n"
    if not plan.weights_onchip:
        if point.get("weight_prefetch", "rows") != "rows":
            raise SpatialError(
                "weight_prefetch",
                "the spatial RTL buffers two rows of streamed weights (rows only), "
                f"got {point['weight_prefetch']!r}",
            )
        try:
            mem = rtl_stream.memory(point, str(point.get("platform", "u280")))
        except ValueError as exc:
            raise SpatialError("hbm_ch_wqkv", str(exc)) from None
        (folder / "weights.bin").write_bytes(rtl_stream.image(plan, qm))
        run += rtl_stream.run_lines(plan, mem, "weights.bin")
    (folder / "run.txt").write_text(run)
    expected = {
        "model": shape.name,
        "prompt": prompt,
        "tokens": tokens,
        "logits": [[int(v) for v in a] for a in accs],
        "model_prefill_cycles": pre,
        "model_decode_cycles": dec,
    }
    (folder / EXPECTED).write_text(json.dumps(expected) + "\n")
    verilog = [f.name for f in files if f.suffix == ".v"]
    build = verilator_argv("verilator", TOP, "obj", {}, [*verilog, HARNESS])
    return build, ["env", f"obj/V{TOP}", "run.txt"]


def read_result(folder: Path) -> dict[str, Any]:
    """Metrics of a finished run: bit-exactness, cycles measured and predicted."""
    exp = json.loads((folder / EXPECTED).read_text())
    calls: list[tuple[int, int]] = []  # (position, cycles)
    logits: list[list[int]] = []
    for line in (folder / RESULT).read_text().splitlines():
        f = line.split()
        if f and f[0] == "call":
            calls.append((int(f[3]), int(f[4])))
        elif f and f[0] == "logits":
            logits.append([int(v) for v in f[1:]])
    tokens = [max(range(len(row)), key=row.__getitem__) for row in logits]  # lowest on ties
    exact = logits == exp["logits"] and tokens == exp["tokens"]
    pre = calls[0][1]
    dec = calls[1:]
    m: dict[str, Any] = {
        "bit_exact": exact,
        "tokens": ",".join(map(str, tokens)),
        "prefill_cycles": pre,
        "model_prefill_cycles": round(exp["model_prefill_cycles"]),
        "model_prefill_err_pct": 100.0 * (exp["model_prefill_cycles"] - pre) / pre,
    }
    for pos, c in dec:
        m[f"decode_cycles_kv{pos + 1}"] = c
    if dec:
        mean = sum(c for _, c in dec) / len(dec)
        pred = sum(exp["model_decode_cycles"]) / len(exp["model_decode_cycles"])
        m["decode_cycles_per_token"] = mean
        m["model_decode_cycles_per_token"] = pred
        m["model_decode_err_pct"] = 100.0 * (pred - mean) / mean
    return m
