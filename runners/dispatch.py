"""``BuildFarm``: builds dispatched through Ray to the hosts of a ``hosts.yaml``.

Concurrency is capped twice, by the same numbers: every host's slots per flow become a Ray
custom resource ``slot:<host>:<flow>`` and every licence pool a resource ``licence:<pool>``
that each build task requests, and the farm's dispatcher thread only hands a task to Ray when
its own count says a slot and a licence are free (so a queued build is not pinned to a busy
host while another one idles). A ``slot:<host>:<flow>`` resource exists only on the node
that advertises it, which is how a build for a ``ray_node`` host lands on that node (run
there with ``LocalExecutor``); SSH and ``local`` hosts are driven from the local node.

Outcomes: a deterministic failure (over-utilisation, synthesis error, timing not met) is
final; a transient one (licence, timeout, disk, tool crash) is retried after an exponential
backoff on another host offering the flow, up to ``max_attempts``. A host that cannot be
reached (``host_error``) is marked down, for ``host_down_s`` doubling with each failure in a
row, and the build moves at once to a host it has not tried, hosts that are up and have
built before first; those moves do not use up ``max_attempts``. A host whose key does not
match its pinned one (``host_key``) is never used again by this farm. Each attempt is
appended to ``<cache_root>/journal.jsonl`` the moment it ends (the build cache has already
written ``result.json``/``attempt.json`` atomically).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runners._build import DEFAULT_CACHE_ROOT, build, reap_stale
from runners._errors import RunnerError
from runners._executor import Command, Executor, LocalExecutor, StepResult
from runners._result import BuildResult
from runners._ssh import SSHExecutor
from runners._templates import Template
from runners.hosts import Host, Inventory

JOURNAL = "journal.jsonl"
# Failures that say the host, not the build, is at fault: the build moves to another host.
HOST_FAILURES = frozenset({"host_error", "host_key"})
# A host that keeps failing stays down at most this many times ``host_down_s``.
_DOWN_MAX_FACTOR = 32


class FarmError(RunnerError):
    """The farm cannot run as configured (missing Ray resources, no host for a flow)."""


def slot_resource(host: str, flow: str) -> str:
    """Ray custom resource name for one build slot of ``flow`` on ``host``."""
    return f"slot:{host}:{flow}"


def licence_resource(pool: str) -> str:
    """Ray custom resource name for one seat of licence pool ``pool``."""
    return f"licence:{pool}"


def farm_resources(inventory: Inventory, *, hosts: list[Host] | None = None) -> dict[str, float]:
    """Custom resources a node must advertise for ``hosts`` (default: all) and the pools.

    A local instance started by ``BuildFarm`` advertises all of them; on a cluster, pass each
    ``ray_node`` host's share to ``ray start --resources`` on that node (see docs/farm.md).
    """
    res: dict[str, float] = {}
    for h in inventory.hosts if hosts is None else hosts:
        for flow in h.flows:
            res[slot_resource(h.name, flow)] = float(h.slots_for(flow))
    for pool, seats in inventory.licence_pools.items():
        res[licence_resource(pool)] = float(seats)
    return res


def executor_for(
    host: Host, ssh_config: str | None = None, step_timeout_s: float | None = None
) -> Executor:
    """The executor that runs builds for ``host`` (SSH, or local on this machine/node)."""
    inner: Executor
    if host.ssh is not None:
        inner = SSHExecutor(host, ssh_config=ssh_config)
    else:
        inner = LocalExecutor(env=setup_env(host.setup), host=host.name)
    return _Capped(inner, step_timeout_s) if step_timeout_s is not None else inner


def setup_env(setup: str | None) -> dict[str, str]:
    """Environment variables a local host's ``setup`` line sets or changes (run once, in bash)."""
    if not setup:
        return {}
    import subprocess

    done = subprocess.run(
        ["bash", "-c", f"{setup} >/dev/null 2>&1 </dev/null; env -0"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    env = dict(
        item.split("=", 1)
        for item in done.stdout.decode(errors="replace").split("\0")
        if "=" in item
    )
    return {
        k: v for k, v in env.items() if os.environ.get(k) != v and k not in ("_", "SHLVL", "PWD")
    }


@dataclass
class _Capped:
    """An executor whose every step timeout is at most ``cap`` seconds."""

    inner: Executor
    cap: float
    host: str = field(init=False)

    def __post_init__(self) -> None:
        self.host = self.inner.host

    def run(self, workdir: Path, commands: Sequence[Command]) -> list[StepResult]:
        capped = [replace(c, timeout_s=min(c.timeout_s, self.cap)) for c in commands]
        return self.inner.run(workdir, capped)


def _build_task(
    host_json: dict[str, Any],
    ssh_config: str | None,
    template: Template | str,
    point: dict[str, Any],
    flow: str,
    part: str | None,
    cache_root: str,
    force: bool,
    step_timeout_s: float | None,
) -> dict[str, Any]:
    """Body of the Ray task: one build attempt on one host, with wall-clock bounds."""
    host = Host.model_validate(host_json)
    start = time.time()
    res = build(
        template,
        point,
        flow,
        part=part,
        cache_root=cache_root,
        executor=executor_for(host, ssh_config, step_timeout_s),
        force=force,
    )
    return {"result": res.to_json(), "start": start, "end": time.time()}


@dataclass
class _Job:
    id: int
    template: Template | str
    point: dict[str, Any]
    flow: str
    part: str | None
    force: bool
    future: Future[BuildResult]
    on_start: Callable[[str, int], None] | None = None
    attempt: int = 0
    due: float = 0.0
    tried: list[str] = field(default_factory=list)
    moves: int = 0  # attempts that failed for the host's sake and moved to an untried host


@dataclass
class _Running:
    job: _Job
    host: Host
    pool: str | None
    submitted: float


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
                _start_private(
                    # Builds request no CPU; the count sizes Ray's idle-worker pool, which
                    # must hold one warm worker per slot (see _warm_up).
                    num_cpus or max(os.cpu_count() or 1, _slots(inventory)),
                    farm_resources(inventory),
                )
                self._started_ray = True
            else:
                join_cluster(ray_address, inventory)
        self._check_cluster(ray_address)
        self._remote = ray.remote(num_cpus=0, max_retries=0)(_build_task)
        _warm_up(_slots(inventory))
        self._lock = threading.Condition()
        self._pending: list[_Job] = []
        self._running: dict[Any, _Running] = {}
        self._done: list[Future[BuildResult]] = []
        self._ids = itertools.count()
        self._down_until: dict[str, float] = {}  # host -> monotonic time it is tried again
        self._fails: dict[str, int] = {}  # host -> host errors in a row
        self._good: set[str] = set()  # hosts that have run a build (reached, tools found)
        self._banned: dict[str, str] = {}  # host -> why it is never used (host key mismatch)
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
        job = _Job(next(self._ids), template, dict(point), flow, part, force, fut, on_start)
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

    def _dispatch(self) -> list[tuple[_Job, str]]:
        started: list[tuple[_Job, str]] = []
        now = time.monotonic()
        for job in list(self._pending):
            if job.due > now:
                continue
            if all(h.name in self._banned for h in self.inventory.hosts_for(job.flow)):
                self._pending.remove(job)
                job.future.set_result(self._no_host(job))
                continue
            host = self._choose(job, now)
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
            self._running[ref] = _Running(job, host, pool, time.time())
            started.append((job, host.name))
        return started

    def _choose(self, job: _Job, now: float) -> Host | None:
        """The host for ``job``'s next attempt, or None while every usable one is busy.

        Preference: a host this build has not tried, then one not marked down, then one that
        has built before (known good), then the most free slots, then file order. A down
        host is still chosen when nothing else offers the flow (a build's own backoff spaces
        those tries); a banned host never is.
        """
        busy_slots: dict[tuple[str, str], int] = {}
        busy_pools: dict[str, int] = {}
        for r in self._running.values():
            key = (r.host.name, r.job.flow)
            busy_slots[key] = busy_slots.get(key, 0) + 1
            if r.pool is not None:
                busy_pools[r.pool] = busy_pools.get(r.pool, 0) + 1
        best: Host | None = None
        best_rank: tuple[bool, bool, bool, int] | None = None
        for h in self.inventory.hosts_for(job.flow):
            if h.name in self._banned:
                continue
            free = h.slots_for(job.flow) - busy_slots.get((h.name, job.flow), 0)
            pool = h.licences.get(job.flow)
            if pool is not None and busy_pools.get(pool, 0) >= self.inventory.licence_pools[pool]:
                continue
            if free <= 0:
                continue
            rank = (
                h.name not in job.tried,
                self._down_until.get(h.name, 0) <= now,
                h.name in self._good,
                free,
            )
            if best_rank is None or rank > best_rank:
                best, best_rank = h, rank
        if best is not None and best_rank is not None and not best_rank[1]:
            # Every free host is down: wait for a busy one that is up rather than knock on a
            # dead one, unless no host offering the flow is up at all.
            up = [
                h
                for h in self.inventory.hosts_for(job.flow)
                if h.name not in self._banned and self._down_until.get(h.name, 0) <= now
            ]
            if up:
                return None
        return best

    def _no_host(self, job: _Job) -> BuildResult:
        why = "; ".join(self._banned[h.name] for h in self.inventory.hosts_for(job.flow))
        return BuildResult(
            "failed",
            job.flow,
            job.template if isinstance(job.template, str) else job.template.name,
            job.part or "",
            params=dict(job.point),
            failure_class="host_key",
            first_error=f"no usable host offers flow '{job.flow}': {why}",
        )

    def _host_outcome(self, host: str, res: BuildResult) -> None:
        """Mark ``host`` down (with backoff), banned or good after one attempt on it."""
        if res.failure_class == "host_key":
            self._banned[host] = res.first_error or f"host '{host}': host key mismatch"
        elif res.failure_class == "host_error":
            n = self._fails[host] = self._fails.get(host, 0) + 1
            factor = min(2 ** (n - 1), _DOWN_MAX_FACTOR)
            self._down_until[host] = time.monotonic() + self.host_down_s * factor
            self._good.discard(host)
        elif not res.cached:
            self._fails.pop(host, None)
            self._down_until.pop(host, None)
            self._good.add(host)

    def _retry_delay(self, job: _Job, res: BuildResult) -> float | None:
        """Seconds before ``job`` is tried again after ``res``; None: ``res`` is final."""
        if res.deterministic:
            return None
        untried = [
            h
            for h in self.inventory.hosts_for(job.flow)
            if h.name not in job.tried and h.name not in self._banned
        ]
        if res.failure_class in HOST_FAILURES and untried:
            job.moves += 1
            return 0.0  # the host, not the build, failed: another host takes it now
        if res.failure_class == "host_key":
            return None
        # Moves away from unusable hosts do not count against the build's attempts.
        used = job.attempt - job.moves
        if used >= self.max_attempts:
            return None
        return self.backoff_s * 2 ** (used - 1)

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
                self._journal(job, run.host.name, None, start, end, final=True, error=str(exc))
                job.future.set_exception(_unwrap(exc))
                return
            res = BuildResult(
                "failed",
                job.flow,
                job.template if isinstance(job.template, str) else job.template.name,
                job.part or "",
                params=dict(job.point),
                failure_class="host_error",
                first_error=f"build task on host '{run.host.name}' died: {_unwrap(exc)}",
                host=run.host.name,
            )
        with self._lock:
            self._host_outcome(run.host.name, res)
            delay = self._retry_delay(job, res)
        retry = delay is not None
        self._journal(job, run.host.name, res, start, end, final=not retry)
        if delay is not None:
            with self._lock:
                job.due = time.monotonic() + delay
                self._pending.append(job)
                self._lock.notify_all()
        else:
            job.future.set_result(res)

    def _journal(
        self,
        job: _Job,
        host: str,
        res: BuildResult | None,
        start: float,
        end: float,
        *,
        final: bool,
        error: str | None = None,
    ) -> None:
        record = {
            "job": job.id,
            "attempt": job.attempt,
            "final": final,
            "host": host,
            "flow": job.flow,
            "template": job.template if isinstance(job.template, str) else job.template.name,
            "point": job.point,
            "start": round(start, 6),
            "end": round(end, 6),
            "status": res.status if res else "error",
            "failure_class": res.failure_class if res else "input_error",
            "first_error": res.first_error if res else error,
            "bundle_hash": res.bundle_hash if res else "",
            "result_dir": res.result_dir if res else "",
            "cached": res.cached if res else False,
        }
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        # One write() on an O_APPEND descriptor: a reader never sees half a line from us.
        fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _start_private(num_cpus: int, resources: dict[str, float]) -> None:
    """Start a Ray instance of this process's own: ``address="local"`` and no
    ``RAY_ADDRESS`` while it starts, so neither that variable nor a ``ray start`` cluster on
    this machine is joined instead (Ray's default for ``address=None``)."""
    import ray

    saved = os.environ.pop("RAY_ADDRESS", None)
    try:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            resources=resources,
            include_dashboard=False,
            log_to_driver=False,
            # Ray's INFO/WARNING start-up lines (token auth is on by default) would
            # interleave with the sweep's progress; its errors still show.
            logging_level=logging.ERROR,
        )
    finally:
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved


def join_cluster(address: str, inventory: Inventory, *, timeout_s: float = 5.0) -> None:
    """Connect this process to the Ray cluster at ``address`` and check it can run builds
    for ``inventory``; a ``FarmError`` whose message says what to fix otherwise.

    Checked in order: the head answers on its port; Ray lets us in (token authentication,
    on by default since Ray 2.60, refuses a client without the head's token, which Ray
    itself reports only as "Failed to connect"); the cluster advertises every
    ``slot:<host>:<flow>`` and ``licence:<pool>`` resource the hosts need.
    """
    # A head of Ray >= 2.60 wants a token, but a client sends its token (RAY_AUTH_TOKEN,
    # RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) only in token mode: turn that on when one is
    # there and the user has not chosen a mode (before Ray is imported: it reads it then).
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray/auth_token")
    if "RAY_AUTH_MODE" not in os.environ and (
        os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file()
    ):
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    if ray.is_initialized():
        check_resources(inventory, address)
        return
    where = f"--ray-address {address}"
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if host and port.isdigit():
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
        except OSError as exc:
            raise FarmError(
                f"{where}: cannot reach the Ray head at {hostport}: "
                f"{exc.strerror or exc}; start it there with `ray start --head --port {port}` "
                "or give the address it printed (host:port)"
            ) from None
    # Ray's own reason for a refused connection is logged by its C++ client on stderr:
    # keep that output, to name the cause in one line instead of "Failed to connect".
    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
            failure: Exception | None = None
        except Exception as exc:  # ConnectionError, RuntimeError, AuthenticationError...
            failure = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        said = err.read().decode(errors="replace")
    if failure is not None:
        with contextlib.suppress(Exception):
            ray.shutdown()
        if re.search(r"Unauthenticated|InvalidAuthToken|auth(entication)? ?token", said, re.I):
            raise FarmError(
                f"{where}: the Ray head refused this client's authentication token (Ray "
                "2.60 turns token authentication on by default); copy the head's token "
                "(~/.ray/auth_token there) to ~/.ray/auth_token here, or set RAY_AUTH_TOKEN "
                "or RAY_AUTH_TOKEN_PATH, or start the head with RAY_AUTH_MODE=disabled"
            ) from None
        last = said.strip().splitlines()[-1:] or [""]
        raise FarmError(
            f"{where}: cannot join the Ray cluster: {failure} {last[0][-200:]}".strip()
        ) from None
    check_resources(inventory, address)


def check_resources(inventory: Inventory, address: str | None = None) -> None:
    """``FarmError`` naming the ``ray start --resources`` that gives the connected
    cluster the farm's missing resources (none: it can run every host's builds)."""
    import ray

    have = ray.cluster_resources()
    missing = {k: v for k, v in farm_resources(inventory).items() if have.get(k, 0) < 1}
    if missing:
        head = address or "<head address>"
        raise FarmError(
            "the Ray cluster does not advertise the resources the hosts need: "
            f"{', '.join(sorted(missing))}; start a node with them, e.g. "
            f"`ray start --address={head} --resources='{json.dumps(missing)}'` "
            "(a ray_node host's slots on that node; see docs/farm.md), or leave out "
            "--ray-address to let dse start a private local instance"
        )


def _slots(inventory: Inventory) -> int:
    return sum(h.slots_for(f) for h in inventory.hosts for f in h.flows)


def _idle(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _warm_up(workers: int) -> None:
    """Start ``workers`` Ray worker processes now, so no host's first build waits ~1 s for
    one (overlapping tasks force distinct workers; Ray keeps them idle for reuse)."""
    import ray

    task = ray.remote(num_cpus=0)(_idle)
    ray.get([task.remote(0.3) for _ in range(max(1, workers))])


def _unwrap(exc: BaseException) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _is_bad_input(exc: BaseException) -> bool:
    """A template/toolchain error inside the task: the same on every host, so not retried."""
    return isinstance(_unwrap(exc), RunnerError)


def read_journal(path: Path | str) -> list[dict[str, Any]]:
    """Records of a farm journal (a torn last line from a crash is skipped)."""
    out: list[dict[str, Any]] = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
