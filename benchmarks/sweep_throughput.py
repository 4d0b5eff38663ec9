"""Sweep throughput: persisted trials per second of the engine vs a plain Optuna loop.

Side by side in one run, each on a fresh SQLite file (the default storage kind), with the
same sampler (NSGA-II, the choice for long sweeps) and config
(``examples/gpt2-medium-u280-spatial.yaml``):

- ``dse sweep`` = ``dse.sweep.run_sweep`` (batched ask/tell, vectorised scoring, one
  transaction per batch), timed from call to return;
- ``study.optimize`` = the textbook loop: one trial at a time, each point scored by
  ``cost_models.evaluate``, constraints set on the trial, the point stored as a user
  attribute, every step persisted by Optuna's RDB storage.

Medians of ``--runs`` runs (default 3). Then the resume figure: a 100,000-trial study is
created with the engine, and ``run_sweep(..., resume=True)`` is timed until the first new
batch is persisted.

Last lines: ``sweep_trials_per_s=…``, ``optimize_trials_per_s=…``, ``resume_100k_s=…``.

Run: ``python benchmarks/sweep_throughput.py [--runs 3] [--resume-trials 100000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import optuna

import cost_models as cm
from dse.config import load_config
from dse.samplers import make_sampler
from dse.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"


def sweep_rate(cfg: Any, n: int, workdir: Path) -> float:
    url = f"sqlite:///{workdir}/sweep.db"
    t0 = time.perf_counter()
    s = run_sweep(cfg, trials=n, storage=url, progress=False)
    elapsed = time.perf_counter() - t0
    assert s.n_new == n, s
    return n / elapsed


def optimize_rate(cfg: Any, n: int, workdir: Path) -> float:
    url = f"sqlite:///{workdir}/optimize.db"
    metrics = [o.metric for o in cfg.objectives]
    sampler = make_sampler(cfg.sampler, cfg.space, cfg.seed, len(metrics))

    def objective(trial: optuna.Trial) -> list[float]:
        point = {**cfg.design, **cfg.space.suggest(trial)}
        df = cm.evaluate(cfg.workload, cfg.platform, [point], arch=cfg.arch, baseline=cfg.baseline)
        for name, value in zip(
            cfg.constraints.names(), cfg.constraints.evaluate(df)[0], strict=True
        ):
            trial.set_constraint(name, float(value))
        trial.set_user_attr("point", {k: _plain(v) for k, v in point.items()})
        return [float(df[m].iloc[0]) for m in metrics]

    t0 = time.perf_counter()
    study = optuna.create_study(
        storage=url,
        study_name=cfg.name,
        directions=[o.direction for o in cfg.objectives],
        sampler=sampler,
    )
    study.optimize(objective, n_trials=n)
    return n / (time.perf_counter() - t0)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def resume_time(cfg: Any, n: int, workdir: Path) -> tuple[float, float, float]:
    """(seconds to create, seconds to resume up to the first new batch, load part)."""
    url = f"sqlite:///{workdir}/big.db"
    t0 = time.perf_counter()
    s = run_sweep(cfg, trials=n, storage=url, progress=False)
    create = time.perf_counter() - t0
    assert s.n_trials == n, s
    t0 = time.perf_counter()
    r = run_sweep(cfg, trials=n + 1, storage=url, resume=True, progress=False)
    resume = time.perf_counter() - t0
    assert r.n_trials == n + 1 and r.n_new == 1, r
    return create, resume, r.load_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sweep-trials", type=int, default=5000)
    ap.add_argument("--optimize-trials", type=int, default=300)
    ap.add_argument("--resume-trials", type=int, default=100_000)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    # NSGA-II pinned: O(1) per ask, the sampler for long sweeps, so the figure is the
    # engine's and not TPE's model fitting (whatever the example's sampler: says).
    cfg = load_config(EXAMPLE, ["sampler=nsga2"])
    print(f"config: {EXAMPLE.relative_to(ROOT)}  sampler: {cfg.sampler.name}  storage: SQLite")
    sweep, opt = [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            sweep.append(sweep_rate(cfg, args.sweep_trials, Path(d)))
        with tempfile.TemporaryDirectory() as d:
            opt.append(optimize_rate(cfg, args.optimize_trials, Path(d)))
        print(
            f"run {i + 1}: dse sweep {sweep[-1]:8.0f} trials/s   "
            f"study.optimize {opt[-1]:6.1f} trials/s"
        )
    s_med, o_med = statistics.median(sweep), statistics.median(opt)
    print(
        f"\n{'':24}{'trials':>8}{'median trials/s':>18}\n"
        f"{'dse sweep (run_sweep)':24}{args.sweep_trials:>8}{s_med:>18,.0f}\n"
        f"{'study.optimize loop':24}{args.optimize_trials:>8}{o_med:>18,.1f}\n"
        f"ratio sweep/optimize: {s_med / o_med:,.0f}x   (target: sweep >= 500 trials/s)"
    )
    with tempfile.TemporaryDirectory() as d:
        create, resume, load = resume_time(cfg, args.resume_trials, Path(d))
    print(
        f"\n{args.resume_trials:,}-trial study: created in {create:.1f} s "
        f"({args.resume_trials / create:,.0f} trials/s); resume to the first new batch "
        f"{resume:.2f} s (of which loading {load:.2f} s)   (target: < 10 s)"
    )
    print(f"sweep_trials_per_s={s_med:.0f}")
    print(f"optimize_trials_per_s={o_med:.1f}")
    print(f"resume_100k_s={resume:.2f}")


if __name__ == "__main__":
    main()
