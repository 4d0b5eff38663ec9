"""``BuildFarm``: builds dispatched through Ray to the hosts of a ``hosts.yaml``.

Concurrency is capped twice, by the same numbers: every host's slots per flow and every
licence pool are Ray custom resources that each build task requests (``_farm_hosts``), and
the farm's dispatcher thread only hands a task to Ray when its own count says a slot and a
licence are free (so a queued build is not pinned to a busy host while another one idles).
Which host gets a build and what a failure means for it is ``_farm_choice``; the Ray
instance itself (private, or a joined cluster) is ``_ray_cluster``. Each attempt is
appended to ``<cache_root>/journal.jsonl`` the moment it ends (``_farm_journal``; the build
cache has already written ``result.json``/``attempt.json`` atomically).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

from runners._build import DEFAULT_CACHE_ROOT, reap_stale
from runners._errors import RunnerError
from runners._farm_choice import HOST_FAILURES, HostBook, Job, Running
from runners._farm_hosts import (
    FarmError,
    build_task,
    executor_for,
    farm_resources,
    licence_resource,
    setup_env,
    slot_resource,
)
from runners._farm_journal import JOURNAL, append_attempt, read_journal
from runners._ray_cluster import check_resources, join_cluster, slot_count, start_private, warm_up
from runners._result import BuildResult
from runners._templates import Template
from runners.hosts import Inventory


class BuildFarm:
    """Dispatch builds to the hosts of ``inventory`` through Ray.

    ``ray_address=None`` starts a local Ray instance (or uses the one this process already
    has) advertising ``farm_resources(inventory)``; an address joins a cluster, which must
    already advertise them. ``step_timeout_s`` caps every tool step (tests, quick sweeps).
    ``backoff_s`` spaces a build's retries; ``host_down_s`` is how long an unreachable host
    is avoided after its first failure (doubled for each further one in a row).

    Example::

        with BuildFarm(load_hosts("hosts.yaml")) as farm:
            futures = [farm.submit("gemv_int", {"lanes": n}, "yosys-xilinx") for n in (2, 4)]
            for res in farm.results():
                print(res.host, res.status, res.metrics.get("lut"))
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        ray_address: str | None = None,
        cache_root: Path | str = DEFAULT_CACHE_ROOT,
        journal: Path | str | None = None,
        max_attempts: int = 3,
        backoff_s: float = 2.0,
        host_down_s: float = 30.0,
        step_timeout_s: float | None = None,
        num_cpus: int | None = None,
    ) -> None:
        import ray

        self.inventory = inventory
        self.cache_root = Path(cache_root).resolve()
        self.cache_root.mkdir(parents=True, exist_ok=True)
        # Work folders a killed farm (kill -9 of a sweep) left behind.
        reap_stale(self.cache_root)
        self.journal = Path(journal) if journal is not None else self.cache_root / JOURNAL
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.host_down_s = host_down_s
        self.step_timeout_s = step_timeout_s
        self._started_ray = False
        if not ray.is_initialized():
            if ray_address is None:
                start_private(
                    # Builds request no CPU; the count sizes Ray's idle-worker pool, which
                    # must hold one warm worker per slot (see warm_up).
                    num_cpus or max(os.cpu_count() or 1, slot_count(inventory)),
                    farm_resources(inventory),
                )
                self._started_ray = True
            else:
                join_cluster(ray_address, inventory)
        self._check_cluster(ray_address)
        self._remote = ray.remote(num_cpus=0, max_retries=0)(build_task)
        warm_up(slot_count(inventory))
        self._lock = threading.Condition()
        self._pending: list[Job] = []
        self._running: dict[Any, Running] = {}
        self._done: list[Future[BuildResult]] = []
        self._ids = itertools.count()
        self._hosts = HostBook(inventory, host_down_s, self.max_attempts, backoff_s)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="build-farm", daemon=True)
        self._thread.start()

    # -- public API ------------------------------------------------------------------------

    def submit(
        self,
        template: Template | str,
        point: Mapping[str, Any],
        flow: str,
        *,
        part: str | None = None,
        force: bool = False,
        on_start: Callable[[str, int], None] | None = None,
    ) -> Future[BuildResult]:
        """Queue one build; the future resolves to its final ``BuildResult`` (after retries).

        ``on_start(host, attempt)`` is called (from the dispatcher thread, outside its lock)
        each time an attempt is handed to a host.
        """
        if not self.inventory.hosts_for(flow):
            offered = sorted({f for h in self.inventory.hosts for f in h.flows})
            raise FarmError(
                f"{self.inventory.source or 'hosts'}: no host offers flow '{flow}' "
                f"(flows offered: {', '.join(offered)})"
            )
        fut: Future[BuildResult] = Future()
        job = Job(next(self._ids), template, dict(point), flow, part, force, fut, on_start)
        with self._lock:
            self._pending.append(job)
            self._lock.notify_all()
        return fut

    def results(self, timeout: float | None = None) -> Iterator[BuildResult]:
        """Final results of every build submitted so far, in the order they complete."""
        with self._lock:
            futures = [j.future for j in self._pending] + [
                r.job.future for r in self._running.values()
            ]
            futures += self._done
            self._done = []
        for fut in as_completed(set(futures), timeout=timeout):
            yield fut.result()

    def shutdown(self) -> None:
        """Stop dispatching, interrupt builds still running (their futures stay unresolved;
        a sweep re-queues them on resume), and stop Ray if this farm started it."""
        with self._lock:
            self._stop = True
            self._lock.notify_all()
            running = list(self._running)
        self._thread.join(timeout=10)
        if running:
            import ray

            # Interrupt builds still running so their tools' process groups are killed
            # (LocalExecutor does that on an interrupt) rather than orphaned by the shutdown.
            for ref in running:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            with contextlib.suppress(Exception):
                ray.wait(running, num_returns=len(running), timeout=15)
        if self._started_ray:
            import ray

            ray.shutdown()

    def __enter__(self) -> BuildFarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- dispatcher ------------------------------------------------------------------------

    def _check_cluster(self, address: str | None) -> None:
        check_resources(self.inventory, address)

    def _loop(self) -> None:
        import ray

        while True:
            with self._lock:
                if self._stop:
                    return
                started = self._dispatch()
                refs = list(self._running)
            for job, host in started:
                if job.on_start is not None:
                    # A listener's failure (say, its database is busy) must not stop the farm.
                    with contextlib.suppress(Exception):
                        job.on_start(host, job.attempt)
            if not refs:
                with self._lock:
                    if self._stop:
                        return
                    # Re-checked under the lock, so a submit since the dispatch is not missed.
                    wait_s = self._next_due() - time.monotonic() if self._pending else None
                    self._lock.wait(timeout=None if wait_s is None else max(0.05, wait_s))
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=0.2)
            for ref in ready:
                self._finish(ref)

    def _next_due(self) -> float:
        return min((j.due for j in self._pending), default=time.monotonic() + 1.0)

    def _dispatch(self) -> list[tuple[Job, str]]:
        started: list[tuple[Job, str]] = []
        now = time.monotonic()
        for job in list(self._pending):
            if job.due > now:
                continue
            if self._hosts.all_banned(job.flow):
                self._pending.remove(job)
                job.future.set_result(self._hosts.no_host(job))
                continue
            host = self._hosts.choose(job, list(self._running.values()), now)
            if host is None:
                continue
            pool = host.licences.get(job.flow)
            resources = {slot_resource(host.name, job.flow): 1.0}
            if pool is not None:
                resources[licence_resource(pool)] = 1.0
            ref = self._remote.options(resources=resources).remote(
                host.model_dump(),
                self.inventory.ssh_config,
                job.template,
                job.point,
                job.flow,
                job.part,
                str(self.cache_root),
                job.force,
                self.step_timeout_s,
            )
            job.attempt += 1
            job.tried.append(host.name)
            self._pending.remove(job)
            self._running[ref] = Running(job, host, pool, time.time())
            started.append((job, host.name))
        return started

    def _finish(self, ref: Any) -> None:
        import ray

        with self._lock:
            run = self._running.pop(ref)
        job = run.job
        try:
            out = ray.get(ref)
            res = BuildResult.from_json(out["result"])
            start, end = float(out["start"]), float(out["end"])
        except Exception as exc:  # the task itself died (worker crash, lost node, bad input)
            start, end = run.submitted, time.time()
            if _is_bad_input(exc):
                host = run.host.name
                append_attempt(
                    self.journal, job, host, None, start, end, final=True, error=str(exc)
                )
                job.future.set_exception(_unwrap(exc))
                return
            why = f"build task on host '{run.host.name}' died: {_unwrap(exc)}"
            res = job.failed("host_error", why, host=run.host.name)
        with self._lock:
            self._hosts.outcome(run.host.name, res)
            delay = self._hosts.retry_delay(job, res)
        append_attempt(self.journal, job, run.host.name, res, start, end, final=delay is None)
        if delay is not None:
            with self._lock:
                job.due = time.monotonic() + delay
                self._pending.append(job)
                self._lock.notify_all()
        else:
            job.future.set_result(res)


def _unwrap(exc: BaseException) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _is_bad_input(exc: BaseException) -> bool:
    """A template/toolchain error inside the task: the same on every host, so not retried."""
    return isinstance(_unwrap(exc), RunnerError)


__all__ = [
    "HOST_FAILURES",
    "JOURNAL",
    "BuildFarm",
    "FarmError",
    "check_resources",
    "executor_for",
    "farm_resources",
    "join_cluster",
    "licence_resource",
    "read_journal",
    "setup_env",
    "slot_resource",
]
