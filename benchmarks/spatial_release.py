"""The released ECP5 spatial accelerator (sp_top, ROMs, UART) of an example, in simulation.

Runs the exact released top (``sp_uart_top``, the files ``dse promote`` builds) in
Verilator over its UART on a prompt, checks the tokens against the bit-exact reference and
compares the cycles the board reports with the spatial cost model's for the same run (the
prompt's call; each decode step at its KV length).

    .venv/bin/python benchmarks/spatial_release.py [CONFIG] [--prompt 1,2,3] [--tokens N]

Last lines: ``spatial_release_bit_exact``, ``spatial_release_prefill_cycles`` (and
``_model_``), ``spatial_release_decode_cycles_per_token`` (and ``_model_``),
``spatial_release_decode_err_pct``, ``spatial_release_tokens_per_s``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.buildspec import resolve_build  # noqa: E402
from dse.config import load_config  # noqa: E402
from dse.spatial_release import plan, simulate  # noqa: E402
from spatial.release import write_files  # noqa: E402

EXAMPLE = ROOT / "examples" / "micro-gpt2-ecp5-spatial.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default=str(EXAMPLE))
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--prompt", default="1,2,3")
    args = ap.parse_args()
    path = Path(args.config)
    cfg = load_config(path)
    p = plan(path, cfg.point, resolve_build(cfg, {}, flow="ecp5"))
    if p is None:
        sys.exit(f"{path}: not a spatial ECP5 study")
    prompt = [int(t) for t in args.prompt.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        write_files(p.rel, Path(tmp))
        run = simulate(p, Path(tmp), prompt, args.tokens)
    sim, model = run["simulated"], run["model_cycles"]
    decode = run["decode_cycles_per_token"]
    print(f"config {path.name}: {p.rel.plan.shape.name}, point {dict(cfg.point)}")
    print(f"fit estimate {p.need} of {p.available}")
    print(f"prompt {prompt}, {args.tokens} tokens: {sim['tokens']}")
    print(f"reference tokens equal: {sim['bit_exact']}")
    print(f"calls {sim['call_cycles']} cycles ({run['cycles_per_token']:.0f} per position)")
    print(f"spatial_release_bit_exact={int(sim['bit_exact'])}")
    print(f"spatial_release_prefill_cycles={sim['prefill_cycles']}")
    print(f"spatial_release_model_prefill_cycles={model['prefill_cycles']}")
    print(f"spatial_release_prefill_err_pct={model['prefill_err_pct']}")
    print(f"spatial_release_decode_cycles_per_token={decode:.0f}")
    print(f"spatial_release_model_decode_cycles_per_token={model['decode_cycles_per_token']:.0f}")
    print(f"spatial_release_decode_err_pct={model['decode_err_pct']}")
    print(f"spatial_release_tokens_per_s={p.freq_mhz * 1e6 / decode:.1f}")


if __name__ == "__main__":
    main()
