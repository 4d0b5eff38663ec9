"""The Ray instance a farm runs on: a private local one, or a cluster joined at an address
and checked (reachable, token accepted, the hosts' resources advertised), each problem a
``FarmError`` that says what to fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from runners._farm_hosts import FarmError, farm_resources
from runners.hosts import Inventory


def start_private(num_cpus: int, resources: dict[str, float]) -> None:
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


def slot_count(inventory: Inventory) -> int:
    return sum(h.slots_for(f) for h in inventory.hosts for f in h.flows)


def _idle(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def warm_up(workers: int) -> None:
    """Start ``workers`` Ray worker processes now, so no host's first build waits ~1 s for
    one (overlapping tasks force distinct workers; Ray keeps them idle for reuse)."""
    import ray

    task = ray.remote(num_cpus=0)(_idle)
    ray.get([task.remote(0.3) for _ in range(max(1, workers))])
