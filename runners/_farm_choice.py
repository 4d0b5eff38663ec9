"""Which host gets a farm build next, and what one attempt's outcome means for the host and
for the build.

A deterministic failure (over-utilisation, synthesis error, timing not met) is final; a
transient one (licence, timeout, disk, tool crash) is retried after an exponential backoff
on another host offering the flow, up to ``max_attempts``. A host that cannot be reached
(``host_error``) is marked down, for ``host_down_s`` doubling with each failure in a row,
and the build moves at once to a host it has not tried, hosts that are up and have built
before first; those moves do not use up ``max_attempts``. A host whose key does not match
its pinned one (``host_key``) is never used again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from runners._result import BuildResult
from runners._templates import Template
from runners.hosts import Host, Inventory

# Failures that say the host, not the build, is at fault: the build moves to another host.
HOST_FAILURES = frozenset({"host_error", "host_key"})
# A host that keeps failing stays down at most this many times ``host_down_s``.
_DOWN_MAX_FACTOR = 32


@dataclass
class Job:
    """One submitted build and its attempts so far."""

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

    @property
    def template_name(self) -> str:
        return self.template if isinstance(self.template, str) else self.template.name

    def failed(self, failure_class: str, first_error: str, host: str = "") -> BuildResult:
        """A failed result of this build that no tool produced (no host, the task died)."""
        return BuildResult(
            "failed",
            self.flow,
            self.template_name,
            self.part or "",
            params=dict(self.point),
            failure_class=failure_class,
            first_error=first_error,
            host=host,
        )


@dataclass
class Running:
    """An attempt handed to Ray: on which host, holding which licence pool, since when."""

    job: Job
    host: Host
    pool: str | None
    submitted: float


@dataclass
class HostBook:
    """What the farm knows of its hosts: down until when, failures in a row, known good,
    banned (and why). Not thread-safe: the farm calls it under its lock."""

    inventory: Inventory
    host_down_s: float
    max_attempts: int
    backoff_s: float
    down_until: dict[str, float] = field(default_factory=dict)  # host -> monotonic time
    fails: dict[str, int] = field(default_factory=dict)  # host -> host errors in a row
    good: set[str] = field(default_factory=set)  # hosts that ran a build (reached, tools found)
    banned: dict[str, str] = field(default_factory=dict)  # host -> why it is never used

    def all_banned(self, flow: str) -> bool:
        return all(h.name in self.banned for h in self.inventory.hosts_for(flow))

    def choose(self, job: Job, running: list[Running], now: float) -> Host | None:
        """The host for ``job``'s next attempt, or None while every usable one is busy.

        Preference: a host this build has not tried, then one not marked down, then one that
        has built before (known good), then the most free slots, then file order. A down
        host is still chosen when nothing else offers the flow (a build's own backoff spaces
        those tries); a banned host never is.
        """
        busy_slots: dict[tuple[str, str], int] = {}
        busy_pools: dict[str, int] = {}
        for r in running:
            key = (r.host.name, r.job.flow)
            busy_slots[key] = busy_slots.get(key, 0) + 1
            if r.pool is not None:
                busy_pools[r.pool] = busy_pools.get(r.pool, 0) + 1
        best: Host | None = None
        best_rank: tuple[bool, bool, bool, int] | None = None
        for h in self.inventory.hosts_for(job.flow):
            if h.name in self.banned:
                continue
            free = h.slots_for(job.flow) - busy_slots.get((h.name, job.flow), 0)
            pool = h.licences.get(job.flow)
            if pool is not None and busy_pools.get(pool, 0) >= self.inventory.licence_pools[pool]:
                continue
            if free <= 0:
                continue
            rank = (
                h.name not in job.tried,
                self.down_until.get(h.name, 0) <= now,
                h.name in self.good,
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
                if h.name not in self.banned and self.down_until.get(h.name, 0) <= now
            ]
            if up:
                return None
        return best

    def no_host(self, job: Job) -> BuildResult:
        """The final result of a build whose every host is banned."""
        why = "; ".join(self.banned[h.name] for h in self.inventory.hosts_for(job.flow))
        return job.failed("host_key", f"no usable host offers flow '{job.flow}': {why}")

    def outcome(self, host: str, res: BuildResult) -> None:
        """Mark ``host`` down (with backoff), banned or good after one attempt on it."""
        if res.failure_class == "host_key":
            self.banned[host] = res.first_error or f"host '{host}': host key mismatch"
        elif res.failure_class == "host_error":
            n = self.fails[host] = self.fails.get(host, 0) + 1
            factor = min(2 ** (n - 1), _DOWN_MAX_FACTOR)
            self.down_until[host] = time.monotonic() + self.host_down_s * factor
            self.good.discard(host)
        elif not res.cached:
            self.fails.pop(host, None)
            self.down_until.pop(host, None)
            self.good.add(host)

    def retry_delay(self, job: Job, res: BuildResult) -> float | None:
        """Seconds before ``job`` is tried again after ``res``; None: ``res`` is final."""
        if res.deterministic:
            return None
        untried = [
            h
            for h in self.inventory.hosts_for(job.flow)
            if h.name not in job.tried and h.name not in self.banned
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
