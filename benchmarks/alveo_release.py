"""The Alveo release of an example (the overlay as a Vitis RTL kernel), measured in simulation.

Renders the release's kernel sources as ``dse promote`` builds them (template ``overlay``,
flow ``vitis-link``, kernel memories sized for the compiled program; no vendor tool runs),
writes the port images and program as the release holds them, then runs what promote runs
before publishing (``dse.alveo_release.simulate_release``): the kernel in Verilator driven
as XRT drives it (tokens against the bit-exact reference) and the sim rung's simulator on
the same program with HBM's latency and the point's port rates, whose cycles per token are
compared with the overlay cycle model's prediction of the same run.

    .venv/bin/python benchmarks/alveo_release.py [CONFIG] [--tokens N] [--prompt 1,2,3]

Last lines: ``alveo_bit_exact``, ``alveo_cycles_per_token``,
``alveo_model_cycles_per_token``, ``alveo_err_pct``, ``alveo_tokens_per_s``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.alveo_release import FLOW, build_spec, plan, simulate_release  # noqa: E402
from dse.buildspec import resolve_build  # noqa: E402
from dse.config import load_config  # noqa: E402
from overlay.xrt_host import write_layout  # noqa: E402
from runners import make_bundle  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default=str(ROOT / "examples" / "tiny-llama-u280.yaml"))
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--prompt", default="1,2,3")
    args = ap.parse_args()
    path = Path(args.config)
    cfg = load_config(path)
    p = plan(path, cfg.point, "overlay")
    if p is None:
        sys.exit(f"{path}: not a temporal study on a board with HBM")
    prompt = [int(t) for t in args.prompt.split(",")]
    spec = build_spec(p, resolve_build(cfg, {}, flow=FLOW))
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_bundle(spec.template, spec.point, spec.flow, spec.part, Path(tmp) / "b")
        images = Path(tmp) / "alveo"
        images.mkdir()
        write_layout(p.prep.comp, images, p.shape.vocab, channels=p.channels)
        sim = simulate_release(p, images, bundle.folder, prompt, args.tokens, print)
    measured, predicted = sim["cycles_per_token"], sim["model_cycles_per_token"]
    err = 100.0 * (predicted - measured) / measured
    print(f"config {path.name}: {p.shape.name}, point {dict(cfg.point)}")
    print(f"kernel parameters {p.params}")
    print(f"prompt {prompt}, {args.tokens} tokens: {sim['tokens']}")
    print(f"memory: {sim['hbm_latency_cycles']}-cycle latency, port rates of {p.point['platform']}")
    print(f"alveo_bit_exact={int(sim['bit_exact'])}")
    print(f"alveo_cycles_per_token={measured:.0f}")
    print(f"alveo_model_cycles_per_token={predicted:.0f}")
    print(f"alveo_err_pct={err:.1f}")
    print(f"alveo_tokens_per_s={p.freq_mhz * 1e6 / measured:.1f}")


if __name__ == "__main__":
    main()
