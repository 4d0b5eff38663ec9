"""Measure batch-1 decode on a real GPU and compare it with the GPU baseline model.

Issue 16 item 10 asks for the GPU baseline's constants to come from measurements where a
GPU is at hand. This script is that measurement, for a user with an NVIDIA GPU (none was
available where the model was written, so no figure in the repository comes from it):

    pip install transformers          # PyPI; torch with CUDA is assumed
    python benchmarks/gpu_decode.py --models gpt2-medium,tinyllama-1.1b,llama-2-7b \
        --out gpu_decode_h100.json

Each model is built from our stored ``config.json`` (``cost_models/workloads``) with random
FP16 weights — decode time does not depend on the values, and nothing is downloaded — and
run with Hugging Face ``generate`` (greedy, batch 1, exactly ``--gen`` new tokens):

- ``eager``: PyTorch eager, what the FPGA papers compared against;
- ``graphs``: a static KV cache and ``torch.compile(mode="reduce-overhead")``, which replays
  CUDA graphs (the model's ``graphs`` stack was set on vLLM, whose per-step scheduler this
  stack does not have: expect the model to be slower by about that step cost).

Decode ms/token is ``(T(gen) - T(1)) / (gen - 1)``: the prefill and the first token cancel.
Board power is the mean of ``nvidia-smi`` samples (every 100 ms) taken while the eager
long run decodes. The record (JSON) holds the figures, the command, the GPU, driver and
package versions, and the model's prediction of the same object (``cm.gpu_baseline`` on
``--platform``, same model, lengths and stack); ``docs/models.md`` says how a record
replaces the in-sample constants of ``cost_models/platforms/*.yaml``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cost_models as cm  # noqa: E402

PRESETS = ROOT / "cost_models" / "workloads"
STACKS = ("eager", "graphs")


def parse_power(text: str) -> list[float]:
    """Watts from ``nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits``
    output, one sample a line; lines that are not a number ("[N/A]", blank) are skipped."""
    out = []
    for line in text.splitlines():
        try:
            out.append(float(line.strip()))
        except ValueError:
            continue
    return out


def fail(message: str) -> None:
    print(f"gpu_decode: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_args(args: argparse.Namespace) -> list[str]:
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if not (PRESETS / f"{m}.json").is_file():
            known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.json")))
            fail(f"--models: no preset {m!r} in {PRESETS} (known: {known})")
    for s in args.stacks.split(","):
        if s not in STACKS:
            fail(f"--stacks: {s!r} is not one of {', '.join(STACKS)}")
    if args.gen < 2 or args.prompt < 1:
        fail("--gen must be at least 2 and --prompt at least 1 (decode = T(gen) - T(1))")
    try:
        plat = cm.load_platform(args.platform)
    except cm.InputError as e:
        fail(str(e))
    if not isinstance(plat, cm.Gpu):
        fail(f"--platform: {args.platform!r} is not a GPU platform file")
    return models


def build(name: str, stack: str) -> Any:
    import torch
    import transformers

    config = json.loads((PRESETS / f"{name}.json").read_text())
    cfg = transformers.AutoConfig.for_model(**config)
    model = transformers.AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float16)
    model = model.to("cuda").eval()
    if stack == "graphs":
        model.generation_config.cache_implementation = "static"
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    return model


def timed_generate(model: Any, ids: Any, new: int) -> float:
    import torch

    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def measure(model: Any, prompt: int, gen: int, reps: int, power: bool) -> tuple[float, float]:
    """Decode seconds per token (median over reps) and mean board watts (nan if not asked)."""
    import torch

    ids = torch.randint(0, model.config.vocab_size, (1, prompt), device="cuda")
    for _ in range(2):  # warm-up: cuBLAS heuristics, allocator, compile and graph capture
        timed_generate(model, ids, gen)  # for both lengths: a static cache of another
        timed_generate(model, ids, 1)  # size is another compiled graph
    smi = None
    if power:
        cmd = ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits"]
        cmd += [f"-i={torch.cuda.current_device()}", "-lms=100"]
        smi = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    per_token = []
    for _ in range(reps):
        long = timed_generate(model, ids, gen)
        short = timed_generate(model, ids, 1)
        per_token.append((long - short) / (gen - 1))
    watts = float("nan")
    if smi is not None:
        smi.terminate()
        samples = parse_power(smi.communicate()[0])
        watts = statistics.fmean(samples) if samples else float("nan")
    return statistics.median(per_token), watts


def predicted(name: str, platform: str, stack: str, prompt: int, gen: int) -> tuple[float, float]:
    """The model's decode ms/token and board power (W) for the same model, lengths, stack."""
    wl = cm.load_workload({"model": name, "prompt_len": prompt, "gen_len": gen}, "gpu_decode")
    gpu = cm.load_platform(platform)
    assert isinstance(gpu, cm.Gpu)
    g = cm.gpu_baseline(wl, gpu, stack)
    return 1e3 * g.decode_latency_s_per_token, g.power_w


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Batch-1 decode on a real GPU vs the model.")
    ap.add_argument("--models", default="gpt2-medium,tinyllama-1.1b,llama-2-7b")
    ap.add_argument("--stacks", default="eager,graphs")
    ap.add_argument("--platform", default="h100", help="GPU platform file the model predicts")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, help="JSON record to write")
    args = ap.parse_args(argv)
    models = check_args(args)
    try:
        import torch
    except ImportError:
        fail("needs torch with CUDA (pip install torch)")
    if not torch.cuda.is_available():
        fail("no CUDA GPU visible to torch: run this on a machine with an NVIDIA GPU")
    try:
        import transformers
    except ImportError:
        fail("needs transformers (pip install transformers)")
    record: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "platform_predicted": args.platform,
        "prompt": args.prompt,
        "gen": args.gen,
        "rows": [],
    }
    print(f"{record['gpu']}, torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"{'model':16} {'stack':7} {'measured_ms':>11} {'model_ms':>9} {'err_%':>7} "
          f"{'W':>6} {'model_W':>7}")  # fmt: skip
    for name in models:
        for stack in args.stacks.split(","):
            try:
                model = build(name, stack)
            except (ValueError, KeyError) as e:  # a model_type transformers does not ship
                fail(f"--models: transformers cannot build {name!r}: {e}")
            sec, watts = measure(model, args.prompt, args.gen, args.reps, stack == "eager")
            del model
            torch.cuda.empty_cache()
            ms = 1e3 * sec
            pred, pred_w = predicted(name, args.platform, stack, args.prompt, args.gen)
            err = 100 * (pred / ms - 1)
            record["rows"].append(
                {"model": name, "stack": stack, "decode_ms_per_token": ms,
                 "board_power_w": watts, "model_ms_per_token": pred, "error_pct": err,
                 "model_power_w": pred_w}
            )  # fmt: skip
            print(f"{name:16} {stack:7} {ms:11.3f} {pred:9.3f} {err:+7.1f} {watts:6.0f} "
                  f"{pred_w:7.0f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"record written to {args.out}")


if __name__ == "__main__":
    main()
