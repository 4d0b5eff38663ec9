"""The builds between the scheduler and the farm: queued, running, finished.

A :class:`runners.dispatch.BuildFarm` (this machine, or the hosts of a ``hosts.yaml``,
through Ray) is started on the first submit; at most ``max_concurrent`` builds run at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from dse.calibration import flow_fidelity
from dse.config import BuildPolicy
from dse.errors import DseError
from dse.sweep._buildloop import MEASURED_KEYS
from dse.sweep._builds import BuildRow, BuildsTable


class BuildLoopError(DseError):
    """The builds cannot run as configured (no Ray, unknown flow on the hosts, ...)."""


class FarmQueue:
    """Build ids waiting for the farm (``queue``) and running on it (``flying``)."""

    def __init__(
        self,
        flows: Sequence[str],
        policy: BuildPolicy,
        table: BuildsTable,
        hosts: Path | None,
        ray_address: str | None,
        cache_root: Path,
    ) -> None:
        self.flows, self.policy, self.table = list(flows), policy, table
        self.hosts, self.ray_address, self.cache_root = hosts, ray_address, cache_root
        self.farm: Any = None
        self.queue: list[int] = []  # build ids not yet handed to the farm
        self.flying: dict[int, Future[Any]] = {}

    @property
    def pending(self) -> bool:
        return bool(self.queue or self.flying)

    def _get_farm(self) -> Any:
        if self.farm is None:
            from runners.dispatch import BuildFarm
            from runners.hosts import load_hosts, local_inventory

            if self.hosts is not None:
                inventory = load_hosts(self.hosts)
            else:
                inventory = local_inventory(self.flows, slots=self.policy.max_concurrent)
            try:
                self.farm = BuildFarm(
                    inventory,
                    ray_address=self.ray_address,
                    cache_root=self.cache_root,
                    step_timeout_s=self.policy.step_timeout_s,
                )
            except Exception as exc:
                raise BuildLoopError(f"cannot start the build farm: {exc}") from exc
        return self.farm

    def feed(self, rows: Mapping[int, BuildRow]) -> None:
        """Submit queued builds while fewer than ``max_concurrent`` are running."""
        while self.queue and len(self.flying) < self.policy.max_concurrent:
            bid = self.queue.pop(0)
            row = rows[bid]

            def started(host: str, attempt: int, bid: int = bid, table: Any = self.table) -> None:
                table.started(bid, host, attempt)

            self.flying[bid] = self._get_farm().submit(
                row.template, row.point, row.flow, part=row.part, on_start=started
            )

    def finished(self, rows: Mapping[int, BuildRow]) -> Iterator[tuple[int, Any]]:
        """(build id, ``runners.BuildResult``) of each build that has finished since."""
        for bid, fut in list(self.flying.items()):
            if not fut.done():
                continue
            del self.flying[bid]
            try:
                res = fut.result()
            except Exception as exc:  # bad input for the template: the same on every host
                res = _input_failure(rows[bid], exc)
            yield bid, res

    def shutdown(self) -> None:
        if self.farm is not None:
            self.farm.shutdown()
            self.farm = None


# LUT sites a carry cell takes after packing (an ECP5 CCU2C spans the two LUT4s of a slice).
CARRY_LUTS = {"yosys-ecp5": 2.0}


def measured_values(metrics: Mapping[str, Any], flow: str = "") -> dict[str, float]:
    """What a build measured, of ``MEASURED_KEYS``.

    A synthesis netlist lists LUT RAM and carry cells apart from logic LUTs; the device
    (place and route's count, the model's LUT and its utilisation) counts them as LUTs, so
    a synthesis rung's ``lut`` is logic + LUT RAM + carry sites (as the resource benchmark
    counts the builds the model is fitted to, benchmarks/resource_model_vs_synth.py).
    """

    def num(k: str) -> float | None:
        v = metrics.get(k)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    out = {k: v for k in MEASURED_KEYS if (v := num(k)) is not None}
    if "lut" in out and flow_fidelity(flow) == "synth":
        out["lut"] += (num("lutram") or 0.0) + CARRY_LUTS.get(flow, 0.0) * (num("carry") or 0.0)
    if "fmax_mhz" in out:  # place and route: its synthesis estimate is redundant
        out.pop("estimated_clock_mhz", None)
    return out


def _input_failure(row: BuildRow, exc: BaseException) -> Any:
    from runners import BuildResult

    return BuildResult(
        "failed",
        row.flow,
        row.template,
        row.part,
        params=row.params,
        failure_class="tool_error",
        first_error=f"cannot build this point: {exc}",
    )
