"""Search quality and speed of the same configuration, side by side, in one run.

Every row is one configuration run through ``dse.sweep.run_sweep`` on a fresh SQLite file
(exactly what ``dse sweep`` does) and reports its wall time, the model points it evaluated
per second, the trials it stored, and the hypervolume of its stored feasible trials as a %
of a reference front's, against the same reference point (``dse.pareto.reference_point``
of that front).

1. Small space, ``examples/gpt2-medium-u280-spatial.yaml`` (112,896 points): the reference
   is the exact front (``dse.exhaustive.screen``). Rows: the default (``auto``: it
   enumerates the grid), and Optuna's TPE / NSGA-II / random through the trial loop at
   2,000 trials.
2. Large space, ``examples/llama2-7b-u280-temporal-search.yaml`` (≈7.8·10^16 points): the
   reference is the best-known front, ``benchmarks/data/llama2-7b-u280-temporal-search-
   front.csv`` (parameters; re-scored with today's model at start, and merged with every
   front this run finds, so a run never scores above 100 %). Rows: ``auto`` (the
   vectorised search) for 10 and 60 seconds of CPU time of one core (``cpu_s``: the
   machine may be shared, so wall time would measure the other jobs), and NSGA-II through
   the trial loop for 60 s of wall time. ``search_points_per_s`` is the search as a whole
   (asking, dedup, scoring, archive and the final write) per CPU second, 60 s rows.

``--best-known CPU_SECONDS`` instead runs ``auto`` for that long on ``--seeds`` seeds (in
parallel processes), merges their fronts with the stored file and rewrites it (how the
best-known front was made: docs/search.md).

Last lines: ``small_exact_s=…`` (CPU seconds of the default path, whole ``run_sweep``),
``small_hv_pct=…``, ``large_space_points=…``, ``large_hv_pct_10s=…``,
``large_hv_pct_60s=…``, ``search_points_per_s=…``.

``--profile CPU_SECONDS`` instead prints where the search's time goes on the large example
(CPU nanoseconds per evaluated point in ask / score / tell).

Run: ``python benchmarks/search_quality.py [--seeds 3] [--compare tpe,nsga2,random]``
"""

from __future__ import annotations

import argparse
import csv
import heapq
import math
import os
import pickle
import statistics
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import optuna

import cost_models as cm
from dse.config import load_config
from dse.exhaustive import screen
from dse.pareto import hypervolume, pareto_mask, reference_point
from dse.search import Codec, Scorer, VectorSearch
from dse.sweep import TrialStore, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
LARGE = ROOT / "examples" / "llama2-7b-u280-temporal-search.yaml"
BEST = ROOT / "benchmarks" / "data" / "llama2-7b-u280-temporal-search-front.csv"


def run(path: Path, sets: list[str], **budget: Any) -> dict[str, Any]:
    """One sweep on a fresh SQLite file: seconds, stored trials, evaluated, feasible values."""
    cfg = load_config(path, sets)
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/study.db"
        t0, c0 = time.perf_counter(), time.process_time()
        s = run_sweep(cfg, storage=url, progress=False, **budget)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        # The engine's bulk reader (Optuna's ORM takes minutes on 10^5 trials here).
        store = TrialStore(url, create=False)
        try:
            sid = store.study_id(cfg.name)
            trials = store.load(sid).trials if sid is not None else []
        finally:
            store.close()
    ok = [
        t
        for t in trials
        if t.values is not None and all(c <= 0 for c in t.system_attrs.get("constraints", []))
    ]
    values = np.array([t.values for t in ok]).reshape(-1, len(cfg.objectives))
    return {
        "seconds": seconds,
        "cpu": cpu,
        "trials": len(trials),
        "evaluated": s.n_evaluated,
        "values": values,
        "params": [t.params for t in ok],
    }


def pct(values: np.ndarray, dirs: list[str], ref: np.ndarray, hv_ref: float) -> float:
    return 100.0 * hypervolume(values, dirs, ref) / hv_ref if len(values) else 0.0


def row(name: str, runs: list[dict[str, Any]], hv: list[float]) -> None:
    sec = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    ev = statistics.median(r["evaluated"] / r["cpu"] for r in runs)
    tr = statistics.median(r["trials"] for r in runs)
    print(
        f"  {name:30}{len(runs):>4}{sec:>9.2f}{cpu:>9.2f}{ev:>13,.0f}{tr:>9,.0f}"
        f"{statistics.median(hv):>9.3f}{min(hv):>9.3f}",
        flush=True,
    )


def row_wall(runs: list[dict[str, Any]]) -> float:
    return statistics.median(r["seconds"] for r in runs)


def header() -> None:
    print(
        f"  {'configuration':30}{'runs':>4}{'wall s':>9}{'cpu s':>9}{'points/cpu-s':>13}"
        f"{'trials':>9}"
        f"{'HV% med':>9}{'HV% min':>9}"
    )


def small(args: argparse.Namespace) -> tuple[float, float]:
    cfg = load_config(SMALL)
    dirs = [o.direction for o in cfg.objectives]
    ex = screen(cfg)
    exact = ex[[o.metric for o in cfg.objectives]].to_numpy(np.float64)
    ref = reference_point(exact, dirs)
    hv_exact = hypervolume(exact, dirs, ref)
    print(
        f"small: {SMALL.name}: {ex.attrs['n_points']:,} points, front "
        f"{int(ex['pareto'].sum())} rows (exact, by enumeration)"
    )
    header()
    runs = [run(SMALL, [f"name=sq-auto-{i}"], trials=2000) for i in range(args.seeds)]
    hv = [pct(r["values"], dirs, ref, hv_exact) for r in runs]
    row("auto (default): exhaustive", runs, hv)
    # CPU seconds of this process: wall time on a shared machine measures the other jobs.
    out = (statistics.median(r["cpu"] for r in runs), statistics.median(hv))
    print(f"  (small_exact_s below is CPU time; wall time here: {row_wall(runs):.2f} s)")
    for name in args.compare:
        seeds = 1 if name == "tpe" else args.seeds  # TPE: ~1-3 min per run here
        rs = [
            run(SMALL, [f"sampler={name}", f"seed={s}", f"name=sq-{name}-{s}"], trials=2000)
            for s in range(seeds)
        ]
        row(f"{name}, 2,000 trials", rs, [pct(r["values"], dirs, ref, hv_exact) for r in rs])
    return out


def load_best(cfg: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The stored best-known front, re-scored with today's model: (values, params)."""
    if not BEST.exists():
        return np.empty((0, len(cfg.objectives))), []
    codec = Codec(cfg.space)
    with BEST.open() as fh:
        rows = [
            {k: _cell(v) for k, v in r.items() if k in cfg.space.names and v != ""}
            for r in csv.DictReader(fh)
        ]
    g = codec.from_params([codec.params_of(r) for r in rows])
    g = g[(g >= -1).all(axis=1)]
    scorer = Scorer(cfg, codec)
    f, cv = scorer(g)
    keep = cv <= 0
    return f[keep] * scorer.signs, [codec.params_of(r) for r in codec.rows(g[keep])]


def _cell(v: str) -> Any:
    try:
        x = float(v)
    except ValueError:
        return v
    return int(x) if x.is_integer() else x


def save_best(cfg: Any, params: list[dict[str, Any]], values: np.ndarray) -> None:
    dirs = [o.direction for o in cfg.objectives]
    keep = pareto_mask(values, dirs)
    if len(dirs) == 2 and keep.sum() > MAX_BEST:
        keep = _thin(values, dirs, keep)
    by_name = cfg.space.by_optuna_name()
    BEST.parent.mkdir(parents=True, exist_ok=True)
    metrics = [o.metric for o in cfg.objectives]
    with BEST.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*cfg.space.names, *metrics])
        seen = set()
        for p, v in zip(
            [p for p, k in zip(params, keep, strict=True) if k], values[keep], strict=True
        ):
            design = {by_name[k].name: by_name[k].decode(x) for k, x in p.items()}
            cells = tuple(design.get(n, "") for n in cfg.space.names)
            if cells not in seen:
                seen.add(cells)
                w.writerow([*cells, *(f"{x:.6g}" for x in v)])
    print(f"wrote {len(seen)} front points to {BEST.relative_to(ROOT)}")


MAX_BEST = 8192  # points kept in the file (the 2-D front's largest HV contributors)


def _thin(values: np.ndarray, dirs: list[str], keep: np.ndarray) -> np.ndarray:
    """Drop the 2-D front's smallest exclusive hypervolume contributor, one at a time
    (neighbours' contributions updated), until MAX_BEST points remain."""
    idx = np.flatnonzero(keep)
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in dirs])
    ref_v = reference_point(values[idx], dirs)
    u, ref = values[idx] * signs, ref_v * signs
    order = np.lexsort((u[:, 1], u[:, 0]))
    s = u[order].tolist()
    n = len(s)
    left, right = list(range(-1, n - 1)), list(range(1, n + 1))

    def gain(i: int) -> float:
        x1 = s[right[i]][0] if right[i] < n else ref[0]
        y0 = s[left[i]][1] if left[i] >= 0 else ref[1]
        return (x1 - s[i][0]) * (y0 - s[i][1])

    heap = [(gain(i), i) for i in range(n)]
    heapq.heapify(heap)
    alive, count = [True] * n, n
    while count > MAX_BEST and heap:
        g, i = heapq.heappop(heap)
        if not alive[i] or g != gain(i):
            continue  # removed, or its neighbours changed since it was pushed
        alive[i], count = False, count - 1
        lft, rgt = left[i], right[i]
        if lft >= 0:
            right[lft] = rgt
            heapq.heappush(heap, (gain(lft), lft))
        if rgt < n:
            left[rgt] = lft
            heapq.heappush(heap, (gain(rgt), rgt))
    out = np.zeros(len(values), dtype=bool)
    out[idx[order[np.flatnonzero(alive)]]] = True
    full = hypervolume(values[idx], dirs, ref_v)
    thin = hypervolume(values[out], dirs, ref_v)
    print(f"kept {count} of {n} front points: {100 * thin / full:.4f} % of its HV")
    return out


def _large_run(secs: float, seed: int) -> dict[str, Any]:
    sets = [*_cpu(secs), f"seed={seed}", f"name=sq-l{secs}-{seed}"]
    return run(LARGE, sets, trials=10**15, timeout_s=1e9)  # only cpu_s limits it


def large(args: argparse.Namespace) -> tuple[float, float, float]:
    cfg = load_config(LARGE)
    dirs = [o.direction for o in cfg.objectives]
    print(f"\nlarge: {LARGE.name}: {cfg.space.size():,} points")
    results: dict[str, list[dict[str, Any]]] = {}
    if args.runs_file and args.runs_file.exists():  # the runs of an earlier invocation
        results = pickle.loads(args.runs_file.read_bytes())
        print(f"  runs read from {args.runs_file} (scored against today's reference)")
    # CPU seconds of one process each (the machine may be shared; seeds run in parallel).
    for secs in args.budgets if not results else []:
        with ProcessPoolExecutor(max_workers=args.seeds) as pool:
            results[f"auto (default): moea, {secs} cpu-s"] = list(
                pool.map(_large_run, [secs] * args.seeds, range(args.seeds))
            )
    for name in args.compare_large if args.budgets else []:  # the trial loop: wall budgets
        results[f"{name}, 60 s wall"] = [
            run(LARGE, [f"sampler={name}", f"name=sq-l-{name}"], timeout_s=60.0, trials=10**9)
        ]
    if args.runs_file and not args.runs_file.exists():
        args.runs_file.write_bytes(pickle.dumps(results))
    # The reference: best-known front (read now, after the runs) merged with their fronts.
    best_v, _ = load_best(cfg)
    print(f"  best-known front: {len(best_v)} points ({BEST.name}, re-scored)")
    allv = np.vstack([best_v, *(r["values"] for rs in results.values() for r in rs)])
    front = allv[pareto_mask(allv, dirs)]
    ref = reference_point(front, dirs)
    hv_best = hypervolume(front, dirs, ref)
    if len(best_v):
        print(f"  stored best-known front = {pct(best_v, dirs, ref, hv_best):.3f} % of the merged")
    header()
    hv: dict[str, list[float]] = {}
    for name, rs in results.items():
        hv[name] = [pct(r["values"], dirs, ref, hv_best) for r in rs]
        row(name, rs, hv[name])

    def med(secs: int) -> float:
        key = f"auto (default): moea, {secs} cpu-s"
        return statistics.median(hv[key]) if key in hv else math.nan

    top = results[f"auto (default): moea, {max(args.budgets)} cpu-s"]
    speed = statistics.median(r["evaluated"] / r["cpu"] for r in top)
    return med(10), med(60), speed


def _cpu(secs: float) -> list[str]:
    return [f"sampler={{name: auto, cpu_s: {secs}}}"]


def _best_run(seed: int, cpu_s: float) -> dict[str, Any]:
    sets = [*_cpu(cpu_s), f"seed={seed}", f"name=best-{seed}"]
    return run(LARGE, sets, trials=10**15, timeout_s=1e9)  # only cpu_s limits it


def best_known(args: argparse.Namespace) -> None:
    """Long runs on seeds seed_base, +1, ... (in parallel processes), merged with the file."""
    cfg = load_config(LARGE)
    values, params = load_best(cfg)
    vals, ps = [values], list(params)
    seeds = [args.seed_base + s for s in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=len(seeds)) as pool:
        done = pool.map(_best_run, seeds, [args.best_known] * len(seeds))
        for seed, r in zip(seeds, done, strict=True):
            print(f"seed {seed}: {r['evaluated']:,} points in {r['cpu']:.0f} cpu-s", flush=True)
            vals.append(r["values"])
            ps += r["params"]
    save_best(cfg, ps, np.vstack(vals))


def profile(cpu_s: float) -> None:
    """Where the search's time goes on the large example: CPU nanoseconds per evaluated
    point in ask (variation, duplicate removal), score (the model) and tell (archive and
    pool), over ``cpu_s`` CPU seconds of the loop ``dse sweep`` runs (after 10 warm-up
    generations); then the model alone through ``cost_models.evaluate`` on the same batch."""
    cfg = load_config(LARGE)
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    search = VectorSearch(codec, len(cfg.objectives), cfg.seed)
    for _ in range(10):
        g = search.ask()
        search.tell(g, *scorer(g))
    spent = {"ask": 0.0, "score": 0.0, "tell": 0.0}
    n, c0 = 0, time.process_time()
    while time.process_time() - c0 < cpu_s:
        t = time.process_time()
        g = search.ask()
        t, spent["ask"] = time.process_time(), spent["ask"] + time.process_time() - t
        f, cv = scorer(g)
        t, spent["score"] = time.process_time(), spent["score"] + time.process_time() - t
        search.tell(g, f, cv)
        spent["tell"] += time.process_time() - t
        n += len(g)
    total = sum(spent.values())
    parts = "  ".join(f"{k} {v / n * 1e9:,.0f}" for k, v in spent.items())
    print(
        f"profile, {LARGE.name}: CPU ns per evaluated point: {parts}  "
        f"(total {total / n * 1e9:,.0f})"
    )
    print(f"  search as a whole: {n / total:,.0f} points per CPU second ({n:,} points)")
    point = dict(cfg.design)
    point.update(codec.point_columns(g))
    t = time.process_time()
    cm.evaluate(cfg.workload, cfg.platform, point, arch=cfg.arch, baseline=cfg.baseline)
    dt = time.process_time() - t
    print(
        f"  cost_models.evaluate on the last batch (decoded points, DataFrame out): "
        f"{dt / len(g) * 1e9:,.0f} ns per point"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--compare", default="tpe,nsga2,random", help="small space, Optuna rows")
    ap.add_argument("--compare-large", default="nsga2", help="large space, Optuna rows")
    ap.add_argument("--best-known", type=float, default=0.0, metavar="CPU_SECONDS")
    ap.add_argument("--parts", default="small,large", help="which spaces to run")
    ap.add_argument("--seed-base", type=int, default=100, help="--best-known: first seed")
    ap.add_argument("--budgets", default="10,60", help="large space: CPU seconds per run")
    ap.add_argument("--profile", type=float, default=0.0, metavar="CPU_SECONDS")
    ap.add_argument(
        "--runs-file",
        type=Path,
        default=None,
        help="large space: keep the runs' fronts here; if it exists, score those instead of "
        "running again (e.g. after the best-known front changed)",
    )
    args = ap.parse_args()
    args.compare = [s for s in args.compare.split(",") if s]
    args.budgets = [int(b) for b in args.budgets.split(",") if b]
    args.compare_large = [s for s in args.compare_large.split(",") if s]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    if args.best_known:
        best_known(args)
        return
    if args.profile:
        profile(args.profile)
        return
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores (shared machine)")
    parts = args.parts.split(",")
    small_s, small_hv = small(args) if "small" in parts else (math.nan, math.nan)
    hv10, hv60, speed = large(args) if "large" in parts else (math.nan,) * 3
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"small_exact_s={small_s:.2f}")
    print(f"small_hv_pct={small_hv:.2f}")
    print(f"large_space_points={load_config(LARGE).space.size()}")
    print(f"large_hv_pct_10s={hv10:.3f}")
    print(f"large_hv_pct_60s={hv60:.3f}")
    print(f"search_points_per_s={speed:.0f}")


if __name__ == "__main__":
    main()
