"""Health check of build hosts: reachability, tool versions per flow, free disk, licences.

``check_hosts`` contacts every host in parallel and never raises for a host problem: an
unreachable host, a missing tool or too little disk is a ``HostStatus`` with ``ok=False``
and the reason.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runners._ssh import HostUnavailable, connect
from runners.hosts import Host, Inventory
from runners.toolchains import get_toolchain

_VERSION_RE = re.compile(r"\d+\.\d+")
_TOOL_TIMEOUT_S = 180  # the first yowasp call compiles WebAssembly (about a minute)


@dataclass
class HostStatus:
    """What ``check_hosts`` found on one host."""

    name: str
    kind: str
    target: str
    ok: bool = False
    reachable: bool = False
    reason: str = ""
    tools: dict[str, str] = field(default_factory=dict)  # program -> version or "not found"
    flows: dict[str, bool] = field(default_factory=dict)  # flow -> all its programs found
    free_disk_gb: float | None = None
    licences: dict[str, str] = field(default_factory=dict)  # flow -> pool
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def check_hosts(inventory: Inventory, max_workers: int = 8) -> list[HostStatus]:
    """Check every host of ``inventory`` in parallel; results in inventory order."""
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(inventory.hosts)))) as pool:
        return list(pool.map(lambda h: check_host(h, inventory.ssh_config), inventory.hosts))


def check_host(host: Host, ssh_config: str | None = None) -> HostStatus:
    """Check one host (see the module docstring)."""
    t0 = time.monotonic()
    status = HostStatus(host.name, host.kind, _target(host), licences=dict(host.licences))
    if host.kind == "ray_node":
        status.reason = "Ray node: checked by the farm when it joins the cluster"
        status.ok = True
        status.seconds = time.monotonic() - t0
        return status
    try:
        runner = _ssh_runner(host, ssh_config) if host.ssh is not None else _local_runner()
    except HostUnavailable as exc:
        status.reason = f"unreachable: {exc}"
        status.seconds = time.monotonic() - t0
        return status
    try:
        status.reachable = True
        _probe(host, status, runner)
    except Exception as exc:  # a link that dies half-way through the probe
        status.reason = f"check failed: {exc}"
    finally:
        runner.close()
    status.seconds = round(time.monotonic() - t0, 2)
    return status


def _probe(host: Host, status: HostStatus, runner: _Runner) -> None:
    setup = f"{{ {host.setup} ; }} >/dev/null 2>&1 </dev/null; " if host.setup else ""
    problems: list[str] = []
    for flow in host.flows:
        found = True
        for prog, args in get_toolchain(flow).programs.items():
            if prog not in status.tools:
                q = shlex.quote(prog)
                line = (
                    f"{setup}if command -v {q} >/dev/null; then "
                    f"{q} {' '.join(shlex.quote(a) for a in args)} 2>&1 </dev/null; "
                    "else echo __missing__; fi"
                )
                out = runner.run(line)
                status.tools[prog] = _version(out)
            found = found and status.tools[prog] != "not found"
        status.flows[flow] = found
        if not found:
            problems.append(f"flow {flow}: tool missing")
    q = shlex.quote(host.workdir)
    # df needs an existing path: fall back to the nearest existing parent of the workdir.
    out = runner.run(
        f'd={q}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -1'
    )
    parts = out.split()
    if len(parts) >= 4 and parts[3].isdigit():
        status.free_disk_gb = round(int(parts[3]) / 1024**2, 1)
        if host.min_free_disk_gb is not None and status.free_disk_gb < host.min_free_disk_gb:
            problems.append(
                f"free disk {status.free_disk_gb} GB < min_free_disk_gb {host.min_free_disk_gb}"
            )
    else:
        problems.append(f"cannot read free disk of {host.workdir}")
    status.ok = not problems
    status.reason = "; ".join(problems)


def _version(out: str) -> str:
    if "__missing__" in out:
        return "not found"
    lines = [ln.strip() for ln in out.splitlines() if _VERSION_RE.search(ln)]
    return lines[0] if lines else "unknown"


def _target(host: Host) -> str:
    if host.ssh is not None:
        s = host.ssh
        return f"{s.user + '@' if s.user else ''}{s.host}{':' + str(s.port) if s.port else ''}"
    return "local" if host.local else f"ray node {host.ray_node}"


class _Runner:
    def run(self, line: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _LocalRunner(_Runner):
    def run(self, line: str) -> str:
        # Like LocalExecutor.find_program: the running venv's bin counts as on PATH.
        env = {**os.environ, "PATH": f"{os.environ.get('PATH', '')}:{Path(sys.executable).parent}"}
        done = subprocess.run(
            ["bash", "-c", line],
            env=env,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
        )
        return done.stdout + done.stderr


class _SSHRunner(_Runner):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, line: str) -> str:
        res = self.conn.run(
            f"bash -c {shlex.quote(line)}",
            hide=True,
            warn=True,
            in_stream=False,
            timeout=_TOOL_TIMEOUT_S,
        )
        return str(res.stdout) + str(res.stderr)

    def close(self) -> None:
        self.conn.close()


def _local_runner() -> _Runner:
    return _LocalRunner()


def _ssh_runner(host: Host, ssh_config: str | None) -> _Runner:
    return _SSHRunner(connect(host, ssh_config))
