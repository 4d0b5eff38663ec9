"""Search quality: hypervolume reached by each sampler as a % of the exact model front.

On an example whose space is small enough to enumerate (default
``examples/gpt2-medium-u280-spatial.yaml``, 112,896 points), ``dse.exhaustive.screen``
gives the exact Pareto front of the cost model; its hypervolume is 100 %. Each sampler then
runs through the real engine (``dse.sweep.run_sweep`` on a temporary SQLite file, exactly
what ``dse sweep`` does) for several seeds, and the hypervolume of the feasible trials
among the first 500 / 1000 / 2000 is reported against the same reference point
(``dse.pareto.reference_point`` of the exhaustive feasible set).

Printed: a table of median and minimum % over seeds per sampler and budget; last lines
``default_sampler=…``, ``default_median_pct_2000=…``, ``default_over_random_2000=…``.

GP fits one Gaussian process per objective and constraint at every ask (1–3 s per trial
here), so by default it runs only up to ``--gp-max-trials`` (500) on ``--gp-seeds`` (1)
seed; larger budgets show as "-".

Run: ``python benchmarks/search_quality.py [--samplers nsga2,tpe,gp,random] [--seeds 5]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # GP's torch: one thread per core is faster

import numpy as np
import optuna

from dse.config import load_config
from dse.exhaustive import screen
from dse.pareto import hypervolume, reference_point
from dse.samplers import DEFAULT_SAMPLER
from dse.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"


def run_one(
    path: Path,
    sampler: str,
    seed: int,
    trials: int,
    budgets: list[int],
    ref: np.ndarray,
    hv_exact: float,
) -> tuple[list[float | None], float]:
    """% of the exact hypervolume after each budget, and the run's wall time."""
    cfg = load_config(path, [f"sampler={sampler}", f"seed={seed}", f"name=sq-{sampler}-{seed}"])
    directions = [o.direction for o in cfg.objectives]
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/study.db"
        t0 = time.perf_counter()
        run_sweep(cfg, trials=trials, storage=url, progress=False)
        elapsed = time.perf_counter() - t0
        study = optuna.load_study(study_name=cfg.name, storage=url)
        trials_ = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        del study
    values = np.array(
        [t.values if t.values is not None else [np.nan] * len(directions) for t in trials_]
    )
    feasible = np.array(
        [
            t.values is not None and all(c <= 0 for c in t.system_attrs.get("constraints", []))
            for t in trials_
        ]
    )
    out: list[float | None] = []
    for b in budgets:
        if b > len(trials_):
            out.append(None)
            continue
        v = values[:b][feasible[:b]]
        out.append(100.0 * hypervolume(v, directions, ref) / hv_exact if len(v) else 0.0)
    return out, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=EXAMPLE)
    ap.add_argument("--samplers", default="nsga2,tpe,gp,random")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budgets", default="500,1000,2000")
    ap.add_argument("--gp-max-trials", type=int, default=500)
    ap.add_argument("--gp-seeds", type=int, default=1)
    args = ap.parse_args()
    # GP logs a warning for every ill-conditioned kernel fit; the table is what matters.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    if "gp" in samplers and any(importlib.util.find_spec(m) is None for m in ("torch", "scipy")):
        print("gp skipped: needs torch and scipy (pip install 'dse[gp]')")
        samplers.remove("gp")

    cfg = load_config(args.config)
    directions = [o.direction for o in cfg.objectives]
    metrics = [o.metric for o in cfg.objectives]
    ex = screen(cfg)
    values = ex[metrics].to_numpy(np.float64)
    ref = reference_point(values, directions)
    hv_exact = hypervolume(values, directions, ref)
    print(
        f"config: {args.config.name}: {ex.attrs['n_points']:,} points, "
        f"{ex.attrs['n_feasible']:,} feasible, front {int(ex['pareto'].sum())} rows, "
        f"screened in {ex.attrs['elapsed_s']:.2f} s"
    )
    print(
        f"objectives: {', '.join(f'{m} ({d})' for m, d in zip(metrics, directions, strict=True))}"
    )
    print(f"reference point: {np.array2string(ref, precision=4)}; exact hypervolume {hv_exact:.6g}")
    print()

    results: dict[str, list[list[float | None]]] = {}
    times: dict[str, list[float]] = {}
    for name in samplers:
        seeds = args.gp_seeds if name == "gp" else args.seeds
        trials = min(budgets[-1], args.gp_max_trials) if name == "gp" else budgets[-1]
        for seed in range(seeds):
            pct, el = run_one(args.config, name, seed, trials, budgets, ref, hv_exact)
            results.setdefault(name, []).append(pct)
            times.setdefault(name, []).append(el)
            shown = "  ".join("-" if p is None else f"{p:6.2f}" for p in pct)
            print(f"  {name:7} seed {seed}: {shown}   ({el:.1f} s)", flush=True)

    print()
    head = "".join(f"{f'{b} trials':>18}" for b in budgets)
    print(f"{'sampler':10}{'seeds':>6}{head}{'s/run':>8}")
    print(f"{'':16}" + "".join(f"{'median':>10}{'min':>8}" for _ in budgets))
    medians: dict[str, list[float | None]] = {}
    for name, runs in results.items():
        cells: list[str] = []
        meds: list[float | None] = []
        for j in range(len(budgets)):
            col = [x for r in runs if (x := r[j]) is not None]
            if col:
                meds.append(statistics.median(col))
                cells.append(f"{statistics.median(col):>10.2f}{min(col):>8.2f}")
            else:
                meds.append(None)
                cells.append(f"{'-':>10}{'-':>8}")
        medians[name] = meds
        print(f"{name:10}{len(runs):>6}{''.join(cells)}{statistics.median(times[name]):>8.1f}")
    print(
        f"(% of the exhaustive front's hypervolume; target >= 99.5 % at {budgets[-1]} for the "
        f"default sampler, {DEFAULT_SAMPLER})"
    )
    default = medians.get(DEFAULT_SAMPLER, [None])[-1]
    rand = medians.get("random", [None])[-1]
    print(f"default_sampler={DEFAULT_SAMPLER}")
    print(f"default_median_pct_{budgets[-1]}=" + ("n/a" if default is None else f"{default:.2f}"))
    ratio = "n/a" if default is None or not rand else f"{default / rand:.3f}"
    print(f"default_over_random_{budgets[-1]}={ratio}")


if __name__ == "__main__":
    main()
