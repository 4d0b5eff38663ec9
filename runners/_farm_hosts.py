"""Where a farm build runs: the Ray resources that stand for a host's build slots and
licence seats, the executor that reaches a host, and the Ray task that runs one attempt.

Every host's slots per flow are a Ray custom resource ``slot:<host>:<flow>`` and every
licence pool a resource ``licence:<pool>``; a build task requests one of each it needs. A
``slot:<host>:<flow>`` resource exists only on the node that advertises it, which is how a
build for a ``ray_node`` host lands on that node (run there with ``LocalExecutor``); SSH
and ``local`` hosts are driven from the local node.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runners._build import build
from runners._errors import RunnerError
from runners._executor import Command, Executor, LocalExecutor, StepResult
from runners._ssh import SSHExecutor
from runners._templates import Template
from runners.hosts import Host, Inventory


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


def build_task(
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
