"""The sweep loop: the one owner of the searcher, the scorer and the build scheduler.

Per batch:

1. pick up trials other workers persisted since the last batch;
2. ask the searcher for ``batch`` trials (:mod:`dse.sweep._searcher`; its sampler is seeded
   from ``(seed, trials already in the study)``, so a run resumed after a crash samples
   exactly what the uninterrupted run would have);
3. score the points not seen under the current calibration in one vectorised call
   (:class:`dse.scoring.Scorer`) and tell the searcher;
4. persist the batch in one transaction (:class:`~dse.sweep._store.TrialStore`);
5. with ``build:``, let the scheduler (:mod:`dse.sweep._scheduler`) collect builds and, when
   a round is due, choose from the searcher's scored candidates; a new calibration goes to
   the scorer and the searcher re-scores its history under it.

A trial is on disk only once its whole batch is, so ``kill -9`` loses at most the batch in
flight, which a resume then samples again identically. SIGINT/SIGTERM finish and persist
the current batch, then stop.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from dse._optuna import PARENT_TAG
from dse.config import StudyConfig
from dse.errors import DseError
from dse.layout import layout
from dse.scoring import KEY_METRICS, Scorer
from dse.sweep._samplers import batch_seed, default_batch_size
from dse.sweep._scheduler import BuildScheduler, BuildSummary
from dse.sweep._searcher import CONSTRAINTS_KEY, Searcher
from dse.sweep._signals import stop_on_signals as _stop_on_signals
from dse.sweep._store import TrialStore
from dse.sweep._study import (
    StudyExists,
    StudyMismatch,
    open_study,
    rescore_stored,
    study_attrs,
)
from dse.sweep._summary import SweepSummary, study_counts

__all__ = [
    "CONSTRAINTS_KEY",
    "KEY_METRICS",
    "StudyExists",
    "StudyMismatch",
    "Sweep",
    "SweepSummary",
    "batch_seed",
    "run_sweep",
]
POLL_S = 0.5  # between looks at the builds while waiting for them


class Sweep:
    """One sweep process on one study (see :func:`run_sweep`)."""

    def __init__(
        self,
        cfg: StudyConfig,
        *,
        trials: int | None,
        timeout_s: float | None,
        storage: str | None,
        resume: bool,
        builds: bool = True,
        hosts: Path | None = None,
        ray_address: str | None = None,
        cache_root: Path | str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not cfg.space:
            raise DseError(
                f"{cfg.source}: space: missing; `dse sweep` needs at least one searched "
                "parameter under space:"
            )
        budget = cfg.budget
        self.target = trials if trials is not None else (budget.trials if budget else None)
        self.timeout = (
            timeout_s if timeout_s is not None else (budget.timeout_s if budget else None)
        )
        if self.target is None and self.timeout is None:
            raise DseError(
                f"{cfg.source}: budget: missing; set budget.trials / budget.timeout_s or pass "
                "--trials / --timeout"
            )
        self.cfg = cfg
        paths = layout()  # the default results root; dse.sweep.run_sweep passes --results
        self.url = paths.storage_url(cfg.name, storage, cfg.storage)
        self.store = TrialStore(self.url)
        self.study_id = open_study(self.store, cfg, self.url, resume, study_attrs(cfg))
        self.scorer = Scorer(cfg)
        self.searcher = Searcher(cfg, default_batch_size(cfg), self.store, self.study_id)
        self.stop = threading.Event()
        self.last_id = -1
        self.own_ids: set[int] = set()
        # Builds (``build:``): the scheduler is created after load(), which it counts from.
        self.want_builds = builds and cfg.build is not None
        self.farm_options: dict[str, Any] = {
            "hosts": hosts,
            "ray_address": ray_address,
            "cache_root": cache_root if cache_root is not None else paths.builds,
            "log": log,
        }
        self.log = log or (lambda msg: None)
        self.builds: BuildScheduler | None = None

    # -- storage -------------------------------------------------------------------------

    def load(self) -> float:
        """Read the stored study into the searcher; seconds it took."""
        t0 = time.perf_counter()
        # A resume creates a few objects per trial and keeps them all: the cyclic collector
        # would rescan them again and again (half of a 100,000-trial load's CPU time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            got = self.store.load_history(self.study_id)
            self._absorb(got.trials, got.trial_ids)
            caches = self.store.study_system_attrs(self.study_id, PARENT_TAG)
            self.searcher.restore_parent_caches(caches)
        finally:
            if collecting:
                gc.enable()
        return time.perf_counter() - t0

    def refresh(self) -> None:
        """Trials other workers persisted since the last look."""
        got = self.store.load(
            self.study_id,
            after_trial_id=self.last_id,
            user_attrs=("duplicate_of",),
            skip_ids=self.own_ids,
        )
        self.own_ids.clear()
        self._absorb(got.trials, got.trial_ids)

    def _absorb(self, trials: Any, ids: list[int]) -> None:
        self.searcher.absorb(trials, ids)
        if ids:
            self.last_id = max(self.last_id, *ids)

    def run_batch(self, size: int) -> tuple[int, int, int, bool]:
        """Ask, score, tell and persist ``size`` trials: (#stored, #evaluated, #duplicates,
        whether the study's budget cut the batch short)."""
        asked = self.searcher.ask(size)
        scores = self.scorer.score([asked.rows[i] for i in asked.new])
        done = self.searcher.tell(asked, scores, self.scorer)
        attrs = self.searcher.new_study_attrs()
        _, ids = self.store.append(self.study_id, done, self.target, attrs)
        self.searcher.stored(done, ids, set(attrs))
        self.own_ids.update(ids)
        if ids:
            self.last_id = max(self.last_id, *ids)
        n_dup = len(asked.trials) - len(asked.new)
        return len(ids), len(asked.new), n_dup, len(ids) < len(done)

    # -- builds --------------------------------------------------------------------------

    def _recalibrate(self) -> None:
        """A new calibration from the builds: the scorer takes it, the history is re-scored."""
        assert self.builds is not None
        if self.builds.calibration.version != self.scorer.calibration.version:
            self.scorer.calibration = self.builds.calibration
            self.searcher.rescore(self.scorer)

    def _poll(self) -> None:
        assert self.builds is not None
        self.builds.poll()
        self._recalibrate()

    def _drain(self) -> None:
        """Run the queued builds to the end (``wait: true``, and at the end of a sweep)."""
        assert self.builds is not None
        while self.builds.pending and not self.stop.is_set():
            self.builds.feed()
            self._poll()
            time.sleep(POLL_S)

    def _start_builds(self) -> None:
        assert self.cfg.build is not None
        opts = self.farm_options
        self.builds = BuildScheduler(
            self.cfg, self.cfg.build, self.store, self.study_id, self.scorer.score, **opts
        )
        self.searcher.track_calibration = True
        self.builds.start_counting(self.searcher.n)
        self._recalibrate()  # a resumed study: its history, calibrated

    def _resume_builds(self) -> None:
        """With ``wait: true``, the builds a killed sweep left queued or running are waited
        for (and calibrate the model) first, as the uninterrupted run waited for them before
        its next trial."""
        assert self.builds is not None and self.cfg.build is not None
        if self.cfg.build.wait and self.builds.pending:
            self.log(
                f"waiting for {len(self.builds.farm.queue)} build(s) left by the interrupted run"
            )
            self._drain()

    def _after_batch(self) -> None:
        """Collect finished builds, start a round when due, keep the farm busy."""
        assert self.builds is not None and self.cfg.build is not None
        self._poll()
        due = self.builds.round_due(self.searcher.n)
        if due and self.builds.pick(*self.searcher.candidates()) and self.cfg.build.wait:
            self._drain()
        self.builds.feed()

    def _finish_builds(self) -> BuildSummary:
        """The last round (``at_end``), then wait for every build unless the sweep was
        stopped (Ctrl-C: the builds still queued or running are re-queued by a resume)."""
        assert self.builds is not None and self.cfg.build is not None
        try:
            self._poll()
            if self.cfg.build.at_end and not self.stop.is_set():
                self.builds.pick(*self.searcher.candidates())
            self._drain()
            self._poll()
        finally:
            summary = self.builds.close()
        if self.scorer.calibration.active:
            n = rescore_stored(self.store, self.study_id, self.cfg, self.scorer)
            self.log(f"calibration: {n:,} trials re-scored with the final model")
        return summary

    # -- the loop ------------------------------------------------------------------------

    def run(self, progress: bool = True) -> SweepSummary:
        load_s = self.load()
        if self.want_builds:
            self._start_builds()
        n_start = self.searcher.n
        t0 = time.perf_counter()
        n_eval = n_dup = n_new = 0
        name = self.cfg.sampler.name
        grid_total = self.cfg.space.size() if name in ("grid", "exhaustive") else None
        with _progress(progress, self) as bar, _stop_on_signals(self.stop):
            if self.builds is not None:
                self._resume_builds()
            while not self.stop.is_set():
                self.refresh()
                size = self._next_size(grid_total, t0)
                if size <= 0:
                    break
                stored, ev, dup, full = self.run_batch(size)
                n_new, n_eval, n_dup = n_new + stored, n_eval + ev, n_dup + dup
                bar(n_new, t0)
                if self.builds is not None:
                    self._after_batch()
                if full:
                    break  # other workers filled the budget
            elapsed = time.perf_counter() - t0
            builds = self._finish_builds() if self.builds is not None else None
        return SweepSummary(
            n_trials=self.store.count(self.study_id),
            n_new=n_new,
            n_feasible=self.searcher.n_feasible(),
            pareto_size=len(np.unique(self.searcher.front, axis=0)),
            elapsed_s=elapsed,
            trials_per_s=n_new / elapsed if elapsed > 0 else 0.0,
            storage_url=self.url,
            study_name=self.cfg.name,
            n_evaluated=n_eval,
            n_duplicates=n_dup,
            load_s=load_s,
            interrupted=self.stop.is_set()
            and (n_start + n_new < (self.target or math.inf) or bool(builds and builds.unfinished)),
            builds=builds,
        )

    def saw_whole_study(self, summary: SweepSummary) -> bool:
        """Whether the searcher's counts are the study's (what ``dse status`` would print),
        so the closing line needs no second read of the study: every stored trial is one
        of its records, every record is stored, and no calibration re-scored them."""
        s = self.searcher
        return (
            self.builds is None and summary.n_trials == s.n and all(r.db_id >= 0 for r in s.records)
        )

    def _next_size(self, grid_total: int | None, t0: float) -> int:
        """The next batch's size: 0 when the budget, the grid or the time is spent."""
        n_done = self.searcher.n
        size = self.searcher.batch
        if self.target is not None:
            size = min(size, self.target - n_done)
        if grid_total is not None:
            size = min(size, grid_total - n_done)
        if self.timeout is not None and time.perf_counter() - t0 >= self.timeout:
            return 0
        return size


def run_sweep(
    cfg: StudyConfig,
    *,
    trials: int | None = None,
    timeout_s: float | None = None,
    storage: str | None = None,
    resume: bool = False,
    progress: bool = True,
    builds: bool = True,
    hosts: Path | None = None,
    ray_address: str | None = None,
    cache_root: Path | str | None = None,
    log: Callable[[str], None] | None = None,
) -> SweepSummary:
    """Run (or continue, with ``resume``) the study of ``cfg`` until its budget is spent.

    ``trials`` is the study's total: a resumed or shared study stops at that many trials.
    With a ``build:`` section (and ``builds``), promising trials are built while the search
    runs (:mod:`dse.sweep._scheduler`) on this machine, the hosts of ``hosts`` (default:
    ``build.hosts``) or a Ray cluster at ``ray_address``; ``log`` receives one line per
    round and per finished build.

    Raises:
        StudyExists: the study has trials and ``resume`` is False.
        StudyMismatch: ``resume`` with a config that scores points differently.
    """
    from dse.search import run_model_search, uses_model_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model_search = uses_model_search(cfg, builds)  # checks its options before any write
    sweep = Sweep(
        cfg,
        trials=trials,
        timeout_s=timeout_s,
        storage=storage,
        resume=resume,
        builds=builds,
        hosts=hosts,
        ray_address=ray_address,
        cache_root=cache_root,
        log=log,
    )
    try:
        # model search: exact or vectorised (see dse/search/); else Optuna ask/tell batches
        summary = run_model_search(sweep, progress) if model_search else sweep.run(progress)
    finally:
        sweep.store.close()
    if not model_search and sweep.saw_whole_study(summary):
        return summary
    return study_counts(summary)


@contextlib.contextmanager
def _progress(enabled: bool, sweep: Sweep) -> Iterator[Callable[[int, float], None]]:
    """``bar(n_new, t0)`` after each batch: a rich line on a terminal, plain lines in a log
    (dse/sweep/_progress.py)."""
    from dse.sweep._progress import Snapshot, progress_display

    s = sweep.searcher
    with progress_display(sweep.cfg.name, sweep.target, s.n, enabled) as show:

        def update(n_new: int, t0: float) -> None:
            dt = time.perf_counter() - t0
            show(
                Snapshot(
                    name=sweep.cfg.name,
                    done=s.n,
                    total=sweep.target,
                    rate=n_new / dt if dt > 0 else 0.0,
                    feasible=s.n_feasible() / max(s.n, 1),
                    pareto=len(s.front),
                    elapsed_s=dt,
                )
            )

        yield update
