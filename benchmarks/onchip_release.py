"""The released ECP5 overlay (on-chip image, UART) of an example, measured in simulation.

Runs the exact released top (``overlay_uart_top``) in Verilator over its UART on a prompt,
checks the tokens against the bit-exact reference, and compares the step program's cycles
the board reports with the overlay cycle model's prediction for the same run (same model,
point, prompt and tokens; memory: the on-chip ports' latency, one beat per cycle).

    .venv/bin/python benchmarks/onchip_release.py [CONFIG] [--tokens N]

Last lines: ``onchip_bit_exact``, ``onchip_cycles_per_token``,
``onchip_model_cycles_per_token``, ``onchip_err_pct``, ``onchip_tokens_per_s``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cost_models._overlay_cycles import OverlayMemory, run_cycles  # noqa: E402
from dse.config import load_config  # noqa: E402
from dse.onchip_release import plan  # noqa: E402
from overlay.isa import PORTS  # noqa: E402
from overlay.onchip import ONCHIP_LATENCY, run_uart, write_files  # noqa: E402
from overlay.onchip_sim import SimPort, build  # noqa: E402
from overlay.reference import run_reference  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default=str(ROOT / "examples" / "tiny-llama-ecp5.yaml"))
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--prompt", default="1,2,3")
    args = ap.parse_args()
    path = Path(args.config)
    point = load_config(path).point
    p = plan(path, point, "overlay")
    if p is None:
        sys.exit(f"{path}: not a temporal ECP5 study")
    rel = p.rel
    prompt = [int(t) for t in args.prompt.split(",")]
    want, _ = run_reference(rel.prep.qm, prompt, args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        write_files(rel, Path(tmp))
        with SimPort(build(rel.params), Path(tmp), rel.params["CPB"], timeout=900) as port:
            got, cycles = run_uart(port, prompt, args.tokens)
    cfg = rel.prep.cfg
    mem = OverlayMemory(ONCHIP_LATENCY, {g: float(cfg.beat) for g in PORTS}, cfg.beat)
    pre, dec = run_cycles(p.shape, point, len(prompt), args.tokens, mem, rel.max_pos)
    steps = len(prompt) + args.tokens - 1
    measured, predicted = cycles / steps, (pre + sum(dec)) / steps
    err = 100.0 * (predicted - measured) / measured
    print(f"config {path.name}: {p.shape.name}, point {dict(point)}")
    print(f"block RAM (EBR) need {p.blocks} of {p.blocks_available}")
    print(f"prompt {prompt}, {args.tokens} tokens: {got}")
    print(f"reference tokens equal: {got == want}")
    print(f"step cycles {cycles} measured, {pre + sum(dec):.0f} predicted over {steps} steps")
    print(f"onchip_bit_exact={int(got == want)}")
    print(f"onchip_cycles_per_token={measured:.0f}")
    print(f"onchip_model_cycles_per_token={predicted:.0f}")
    print(f"onchip_err_pct={err:.1f}")
    print(f"onchip_tokens_per_s={p.freq_mhz * 1e6 / measured:.1f}")


if __name__ == "__main__":
    main()
