"""Sweep throughput and quality of the same configurations, side by side in one run.

Each row is one configuration on ``examples/gpt2-medium-u280-spatial.yaml`` (112,896
points), on a fresh SQLite file (the default storage kind), and reports its speed —
persisted trials/s and model points evaluated/s — next to its quality, the hypervolume of
its stored feasible trials as a % of the exact front's (``dse.exhaustive.screen``, same
reference point):

- ``dse sweep`` default (``sampler: auto``): enumerates the grid, stores the exact front and
  a stratified sample (``dse.search``);
- ``dse sweep`` with NSGA-II through the trial loop (batched ask/tell, vectorised scoring,
  one transaction per batch), ``--sweep-trials`` trials;
- ``study.optimize`` = the textbook loop with the same NSGA-II: one trial at a time, each
  point scored by ``cost_models.evaluate``, constraints set on the trial, the point stored
  as a user attribute, every step persisted by Optuna's RDB storage.

Medians of ``--runs`` runs (default 3; 0 skips these rows). Then the persistence and resume
figures: a 100,000-trial NSGA-II study is created with the engine (its persisted trials/s:
every trial of it is written), and ``run_sweep(..., resume=True)`` is timed until the first
new batch is persisted.

Every figure is given in wall seconds and in CPU seconds of this process
(``time.process_time``): the development machine is shared, so wall time also measures the
other jobs, while CPU time is the work the configuration itself did (SQLite's writes happen
in this process; the kernel's fsync waits are in neither).

Last lines: ``auto_exact_s=…``, ``sweep_trials_per_s=…``, ``sweep_trials_per_cpu_s=…``,
``optimize_trials_per_s=…`` (not with ``--runs 0``), then ``persist_trials_per_s=…``,
``persist_trials_per_cpu_s=…`` (the 100,000-trial study's creation), ``resume_100k_s=…``,
``resume_100k_cpu_s=…``.

Run: ``python benchmarks/sweep_throughput.py [--runs 3] [--resume-trials 100000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import optuna

import cost_models as cm
from dse.config import load_config
from dse.exhaustive import screen
from dse.pareto import hypervolume, reference_point
from dse.samplers import make_sampler
from dse.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"


class Quality:
    """% of the exact front's hypervolume reached by a study's stored feasible trials."""

    def __init__(self, cfg: Any) -> None:
        self.dirs = [o.direction for o in cfg.objectives]
        ex = screen(cfg)
        exact = ex[[o.metric for o in cfg.objectives]].to_numpy(np.float64)
        self.ref = reference_point(exact, self.dirs)
        self.hv = hypervolume(exact, self.dirs, self.ref)

    def of(self, url: str, name: str) -> float:
        study = optuna.load_study(study_name=name, storage=url)
        vals = [
            t.values
            for t in study.get_trials(deepcopy=False)
            if t.values is not None and all(c <= 0 for c in t.system_attrs.get("constraints", []))
        ]
        v = np.asarray(vals, dtype=np.float64).reshape(-1, len(self.dirs))
        return 100.0 * hypervolume(v, self.dirs, self.ref) / self.hv if len(v) else 0.0


def sweep_rate(cfg: Any, n: int, workdir: Path, q: Quality) -> tuple[float, ...]:
    """(wall s, CPU s, persisted trials, evaluated points, HV %) of one run_sweep."""
    url = f"sqlite:///{workdir}/sweep.db"
    t0, c0 = time.perf_counter(), time.process_time()
    s = run_sweep(cfg, trials=n, storage=url, progress=False)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert cfg.sampler.name == "auto" or s.n_new == n, s
    return elapsed, cpu, s.n_new, s.n_evaluated, q.of(url, cfg.name)


def optimize_rate(cfg: Any, n: int, workdir: Path, q: Quality) -> tuple[float, ...]:
    """(wall s, CPU s, persisted trials, evaluated points, HV %) of study.optimize."""
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

    t0, c0 = time.perf_counter(), time.process_time()
    study = optuna.create_study(
        storage=url,
        study_name=cfg.name,
        directions=[o.direction for o in cfg.objectives],
        sampler=sampler,
    )
    study.optimize(objective, n_trials=n)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed, cpu, n, n, q.of(url, cfg.name)


def _rate(r: tuple[float, ...]) -> float:
    """Persisted trials per wall second of a (wall, cpu, trials, points, hv) row."""
    return r[2] / r[0]


def _cpu_rate(r: tuple[float, ...]) -> float:
    return r[2] / r[1]


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def resume_time(cfg: Any, n: int, workdir: Path) -> dict[str, float]:
    """Wall and CPU seconds to create the study and to resume it up to the first new batch
    (and the loading part of the resume, wall)."""
    url = f"sqlite:///{workdir}/big.db"
    t0, c0 = time.perf_counter(), time.process_time()
    s = run_sweep(cfg, trials=n, storage=url, progress=False)
    create, create_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert s.n_trials == n, s
    t0, c0 = time.perf_counter(), time.process_time()
    r = run_sweep(cfg, trials=n + 1, storage=url, resume=True, progress=False)
    resume, resume_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert r.n_trials == n + 1 and r.n_new == 1, r
    return {
        "create": create,
        "create_cpu": create_cpu,
        "resume": resume,
        "resume_cpu": resume_cpu,
        "load": r.load_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sweep-trials", type=int, default=5000)
    ap.add_argument("--optimize-trials", type=int, default=300)
    ap.add_argument("--resume-trials", type=int, default=100_000)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    # NSGA-II for the trial-loop rows: O(1) per ask, the Optuna sampler for long sweeps, so
    # the figure is the engine's and not TPE's model fitting.
    cfg = load_config(EXAMPLE, ["sampler=nsga2"])
    auto = load_config(EXAMPLE, ["sampler=auto"])
    q = Quality(cfg)
    print(
        f"config: {EXAMPLE.relative_to(ROOT)}  storage: SQLite  "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)"
    )
    ex, sweep, opt = [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            ex.append(sweep_rate(auto, args.sweep_trials, Path(d), q))
        with tempfile.TemporaryDirectory() as d:
            sweep.append(sweep_rate(cfg, args.sweep_trials, Path(d), q))
        with tempfile.TemporaryDirectory() as d:
            opt.append(optimize_rate(cfg, args.optimize_trials, Path(d), q))
        print(
            f"run {i + 1}: auto {ex[-1][0]:.2f} s   dse sweep nsga2 "
            f"{_rate(sweep[-1]):8.0f} trials/s   study.optimize {_rate(opt[-1]):6.1f} trials/s",
            flush=True,
        )

    last = _table(args, ex, sweep, opt) if args.runs else []
    with tempfile.TemporaryDirectory() as d:
        r = resume_time(cfg, args.resume_trials, Path(d))
    print(
        f"\n{args.resume_trials:,}-trial nsga2 study: created in {r['create']:.1f} s wall / "
        f"{r['create_cpu']:.1f} s CPU ({args.resume_trials / r['create']:,.0f} trials/s wall, "
        f"{args.resume_trials / r['create_cpu']:,.0f} per CPU s); resume to the first new batch "
        f"{r['resume']:.2f} s wall / {r['resume_cpu']:.2f} s CPU (loading {r['load']:.2f} s)   "
        "(targets: >= 697 persisted trials/s, resume <= 6.2 s)"
    )
    print("\n".join(last))
    print(f"persist_trials_per_s={args.resume_trials / r['create']:.0f}")
    print(f"persist_trials_per_cpu_s={args.resume_trials / r['create_cpu']:.0f}")
    print(f"resume_100k_s={r['resume']:.2f}")
    print(f"resume_100k_cpu_s={r['resume_cpu']:.2f}")


def _med(rows: Sequence[tuple[float, ...]], f: Callable[[tuple[float, ...]], float]) -> float:
    return float(statistics.median(f(r) for r in rows))


def _table(args: argparse.Namespace, ex: list[Any], sweep: list[Any], opt: list[Any]) -> list[str]:
    """Print the side-by-side table of the configurations; return their summary lines."""
    med = _med
    print(
        f"\n{'configuration':34}{'wall s':>8}{'cpu s':>8}{'trials':>8}{'trials/s':>10}"
        f"{'trials/cpu-s':>13}{'points/cpu-s':>13}{'HV % exact':>11}"
    )
    rows = [
        ("dse sweep, auto (exhaustive)", ex),
        (f"dse sweep, nsga2, {args.sweep_trials} trials", sweep),
        (f"study.optimize, nsga2, {args.optimize_trials}", opt),
    ]
    for label, rs in rows:
        print(
            f"{label:34}{med(rs, lambda r: r[0]):>8.2f}{med(rs, lambda r: r[1]):>8.2f}"
            f"{med(rs, lambda r: r[2]):>8,.0f}{med(rs, _rate):>10,.1f}"
            f"{med(rs, _cpu_rate):>13,.1f}{med(rs, lambda r: r[3] / r[1]):>13,.0f}"
            f"{med(rs, lambda r: r[4]):>11.2f}"
        )
    s_med, s_cpu, o_med = med(sweep, _rate), med(sweep, _cpu_rate), med(opt, _rate)
    print(
        f"ratio sweep/optimize (nsga2): {s_med / o_med:,.0f}x wall, "
        f"{s_cpu / med(opt, _cpu_rate):,.0f}x CPU   (target: sweep >= 500 trials/s)"
    )
    return [
        f"auto_exact_s={med(ex, lambda r: r[0]):.2f}",
        f"sweep_trials_per_s={s_med:.0f}",
        f"sweep_trials_per_cpu_s={s_cpu:.0f}",
        f"optimize_trials_per_s={o_med:.1f}",
    ]


if __name__ == "__main__":
    main()
