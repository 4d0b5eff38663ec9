"""Model-level search inside ``dse sweep``: exact when the grid is small, vectorised when not.

``sampler: auto`` (the default) measures the cost model's speed on the study's own space
and, when enumerating the whole grid would take at most ``exact_s`` seconds (default 60),
enumerates it (:func:`~dse.search._score.enumerate_exact`) and persists the exact Pareto
front plus a stratified sample of the grid as ordinary Optuna trials. Otherwise (and with
``sampler: moea``) it runs :class:`~dse.search._moea.VectorSearch` and persists its
non-dominated archive (each member once, when it enters the archive, every ``persist_s``
seconds and at the end), not every evaluated point.

The budget counts model evaluations: ``--trials N`` stops after N evaluated points (the
study's total, across resumes), ``--timeout`` after that many seconds. The evaluated count
and the mode are kept in the study system attribute ``dse:search``; ``--resume`` seeds the
archive from the stored trials and continues. Trials carry the same params, values,
``constraints`` and ``point``/``metrics`` attributes as the engine's (scored by the
engine's own scorer), plus ``search``: ``front``, ``sample`` or ``archive``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from cost_models import did_you_mean
from dse.errors import ConfigError, DseError
from dse.search._codec import Codec, grid_seconds
from dse.search._moea import VectorSearch
from dse.search._score import Scorer, enumerate_exact, measure_speed
from dse.search._trials import persist, stored
from dse.sweep._progress import Snapshot, progress_display

SEARCH_ATTR = "dse:search"
MODEL_SAMPLERS = ("auto", "moea")
OPTIONS: dict[str, Any] = {
    "exact_s": 60.0,  # auto: enumerate when the grid takes at most this long to score
    "sample": 1000,  # exact: stratified sample of the grid stored beside the front
    "batch": 32768,  # moea: offspring per generation (two model chunks)
    "immigrants": 0.05,
    "crossover": 0.5,
    "pool": 1024,
    "archive_cap": 4096,
    "persist_s": 60.0,  # moea: write new archive members every this many CPU seconds
    "cpu_s": 0.0,  # moea: stop after this much CPU time of this process (0: no limit)
}


def uses_model_search(cfg: Any, builds: bool) -> bool:
    """True when the sweep runs the model-level search instead of trial-by-trial Optuna.

    ``auto`` with a ``build:`` section (and builds on) keeps the trial loop: the build loop
    calibrates the model between batches, which the model-level search does not do.
    """
    name = cfg.sampler.name
    building = builds and cfg.build is not None
    if name == "moea" and building:
        raise DseError(
            f"{cfg.source}: sampler: moea searches the model without building; run with "
            "--no-builds, or use sampler: auto (TPE while it builds)"
        )
    model = name == "moea" or (name == "auto" and not building)
    if model:
        options(cfg)  # a bad option is a config error before the study is touched
    return model


def options(cfg: Any) -> dict[str, Any]:
    # "study.yaml:12" (where sampler: is written) when the config knows it, else the file
    where = getattr(cfg.sampler, "source", "") or str(cfg.source)
    opts = dict(OPTIONS)
    for key, value in dict(cfg.sampler.options or {}).items():
        if key not in OPTIONS:
            raise ConfigError(
                where,
                f"sampler.{key}",
                f"unknown option for {cfg.sampler.name}; expected one of {', '.join(OPTIONS)}",
                hint=did_you_mean(key, list(OPTIONS)),
            )
        kind = type(OPTIONS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(where, f"sampler.{key}", f"expected a number >= 0, got {value!r}")
        opts[key] = kind(value)
    if opts["batch"] < 1:
        raise ConfigError(where, "sampler.batch", "expected an integer >= 1")
    return opts


def run_model_search(sweep: Any, progress: bool = False) -> Any:
    """Run the model-level search for an opened :class:`~dse.sweep._engine.Sweep`
    (``progress``: a live line on a terminal, plain lines in a log; dse/sweep/_progress.py)."""
    from dse.sweep._engine import SweepSummary, _stop_on_signals

    cfg, store = sweep.cfg, sweep.store
    opts = options(cfg)
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    state = dict(store.study_system_attrs(sweep.study_id, SEARCH_ATTR).get(SEARCH_ATTR) or {})
    t0 = time.perf_counter()
    speed = measure_speed(scorer, seed=cfg.seed)
    est = grid_seconds(codec.size(), speed)
    exact = cfg.sampler.name == "auto" and est <= opts["exact_s"]
    with _stop_on_signals(sweep.stop):
        if exact and state.get("mode") == "exact" and state.get("complete"):
            n_new, n_eval, n_dup, front, load_s = 0, 0, 0, int(state.get("front", 0)), 0.0
            note = f"exhaustive: the exact front ({front} points) is already stored; nothing to do"
        elif exact:
            n_new, n_eval, front, note, state = _exact(sweep, codec, scorer, opts, est)
            n_dup, load_s = 0, 0.0
        else:
            n_new, n_eval, n_dup, front, note, state, load_s = _moea(
                sweep, codec, scorer, opts, progress
            )
    store.rdb.set_study_system_attr(sweep.study_id, SEARCH_ATTR, state)
    elapsed = time.perf_counter() - t0
    target = sweep.target
    return SweepSummary(
        n_trials=store.count(sweep.study_id),
        n_new=n_new,
        n_feasible=int(state.get("feasible_trials", 0)),
        pareto_size=front,
        elapsed_s=elapsed,
        trials_per_s=n_new / elapsed if elapsed > 0 else 0.0,
        storage_url=sweep.url,
        study_name=cfg.name,
        n_evaluated=n_eval,
        n_duplicates=n_dup,
        load_s=load_s,
        interrupted=sweep.stop.is_set()
        and not state.get("complete")
        and (target is None or int(state.get("evaluated", 0)) < target),
        search=note,
    )


def _exact(sweep: Any, codec: Codec, scorer: Scorer, opts: dict[str, Any], est: float) -> Any:
    ex = enumerate_exact(
        codec, scorer, sample=int(opts["sample"]), seed=sweep.cfg.seed, stop=sweep.stop
    )
    keys = codec.keys(ex.front)
    extra = ex.sample[~np.isin(codec.keys(ex.sample), keys)]
    g = np.vstack([ex.front, extra])
    kinds = ["front"] * len(ex.front) + ["sample"] * len(extra)
    n_new, n_feasible = persist(sweep, codec, g, kinds)
    rate = ex.n_points / max(ex.elapsed_s, 1e-9)
    note = (
        f"exhaustive: all {ex.n_points:,} points of the grid enumerated in {ex.elapsed_s:.2f} s "
        f"({rate:,.0f} points/s; estimated {est:.1f} s <= exact_s {opts['exact_s']:g}); "
        f"{ex.n_feasible:,} feasible; stored the exact front ({len(ex.front)} points) and a "
        f"stratified sample of {len(extra):,}"
    )
    if not ex.complete:
        note = f"interrupted after {ex.n_points:,} points: partial front stored"
    state = {
        "mode": "exact",
        "complete": ex.complete,
        "points": ex.n_points,
        "evaluated": ex.n_points,
        "feasible_points": ex.n_feasible,
        "front": len(ex.front),
        "feasible_trials": n_feasible,
        "seconds": round(ex.elapsed_s, 3),
    }
    return n_new, ex.n_points, len(ex.front), note, state


def _moea(
    sweep: Any, codec: Codec, scorer: Scorer, opts: dict[str, Any], progress: bool = False
) -> Any:
    from dse.sweep._engine import batch_seed

    cfg, store = sweep.cfg, sweep.store
    t_load = time.perf_counter()
    state = dict(store.study_system_attrs(sweep.study_id, SEARCH_ATTR).get(SEARCH_ATTR) or {})
    got = store.load(sweep.study_id)
    known_g, known_f, known_cv = stored(codec, scorer, got.trials)
    load_s = time.perf_counter() - t_load
    done0 = int(state.get("evaluated", 0)) if state.get("mode") == "moea" else len(got.trials)
    search = VectorSearch(
        codec,
        len(cfg.objectives),
        batch_seed(cfg.seed, done0),
        batch=int(opts["batch"]),
        immigrants=float(opts["immigrants"]),
        crossover=float(opts["crossover"]),
        pool=int(opts["pool"]),
        archive_cap=int(opts["archive_cap"]),
    )
    search.seed(known_g, known_f, known_cv)
    saved = set(codec.keys(known_g).tolist())
    n_feasible = int(state.get("feasible_trials", int((known_cv <= 0).sum())))
    n_new = idle = 0
    t0 = time.perf_counter()
    # Writes and the CPU budget go by this process's CPU time: on a loaded machine a
    # wall-clock interval would write the archive far more often for the same work.
    c0 = last = time.process_time()
    cpu = float(opts["cpu_s"]) or math.inf
    target, timeout = sweep.target, sweep.timeout
    with progress_display(sweep.cfg.name, target, done0, progress) as show:
        while not sweep.stop.is_set():
            left = None if target is None else target - done0 - search.evaluated
            if (
                (left is not None and left <= 0)
                or (timeout is not None and time.perf_counter() - t0 >= timeout)
                or time.process_time() - c0 >= cpu
            ):
                break
            g = search.ask()
            if left is not None:
                g = g[:left]
            idle = idle + 1 if len(g) == 0 else 0
            if idle >= 20:  # twenty generations without a new point: the space is exhausted
                break
            f, cv = scorer(g)
            search.tell(g, f, cv)
            if time.process_time() - last >= opts["persist_s"]:
                n, nf = _persist_archive(sweep, codec, search, saved)
                n_new, n_feasible, last = n_new + n, n_feasible + nf, time.process_time()
            spent = time.perf_counter() - t0
            show(
                Snapshot(
                    name=sweep.cfg.name,
                    done=done0 + search.evaluated,
                    total=target,
                    rate=search.evaluated / spent if spent > 0 else 0.0,
                    feasible=n_feasible / max(done0 + n_new, 1),
                    pareto=len(search.archive_g),
                    elapsed_s=spent,
                )
            )
    n, nf = _persist_archive(sweep, codec, search, saved)
    n_new, n_feasible = n_new + n, n_feasible + nf
    elapsed = time.perf_counter() - t0
    evaluated = done0 + search.evaluated
    state = {
        "mode": "moea",
        "complete": False,
        "evaluated": evaluated,
        "proposed": int(state.get("proposed", 0)) + search.proposed,
        "duplicates_skipped": int(state.get("duplicates_skipped", 0)) + search.duplicates,
        "generations": int(state.get("generations", 0)) + search.generations,
        "archive": len(search.archive_g),
        "feasible_trials": n_feasible,
        "seconds": round(float(state.get("seconds", 0.0)) + elapsed, 3),
    }
    rate = search.evaluated / max(elapsed, 1e-9)
    note = (
        f"model-level search (moea): {search.evaluated:,} points evaluated in {elapsed:.1f} s "
        f"({rate:,.0f} points/s, {search.generations} generations, {search.duplicates:,} "
        f"repeats skipped; {evaluated:,} in the study); archive of {len(search.archive_g)} "
        "non-dominated feasible points stored as trials"
    )
    return n_new, search.evaluated, search.duplicates, len(search.archive_g), note, state, load_s


def _persist_archive(sweep: Any, codec: Codec, search: VectorSearch, saved: set[int]) -> Any:
    keys = codec.keys(search.archive_g)
    new = np.array([int(k) not in saved for k in keys], dtype=bool)
    if not new.any():
        return 0, 0
    saved.update(int(k) for k in keys[new])
    return persist(sweep, codec, search.archive_g[new], ["archive"] * int(new.sum()))
