"""``dse sweep --ray-address`` and the farm's private Ray instance, against real Ray: a head
started by ``ray.init`` in a child process (its own instance: no other test's is touched).

A cluster the builds cannot use must fail before the search starts, in one line that says
what to fix; a sweep that asked for a private instance must never join a cluster it finds.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.runners.farm_fixtures import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "smollm-135m-ecp5.yaml"

_HEAD = """
import logging, sys, ray
ctx = ray.init(address="local", num_cpus=1, include_dashboard=False,
               logging_level=logging.ERROR)
print(ctx.address_info["gcs_address"], flush=True)
sys.stdin.read()  # runs until the test closes our stdin
"""


@pytest.fixture(scope="module")
def head() -> Iterator[str]:
    """The GCS address (host:port) of a running Ray head with no farm resources."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HEAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        address = proc.stdout.readline().strip()
        assert address, "the Ray head did not start"
        yield address
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _study(tmp: Path) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["name"] = "ray-check"
    doc["budget"] = {"trials": 32}
    doc["batch_size"] = 16
    doc["build"] = {"flow": "yosys-ecp5", "every": 16, "top_k": 1, "budget": 1}
    doc["build"]["template"] = "llm_top"  # units: Yosys takes seconds per build
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _sweep(tmp: Path, address: str, **env: str) -> subprocess.CompletedProcess[str]:
    db = f"sqlite:///{tmp / 'study.db'}"
    argv = ["sweep", str(_study(tmp)), "--ray-address", address, "--storage", db]
    return subprocess.run(
        [sys.executable, "-m", "dse.cli", *argv, "--results", str(tmp / "results"), "-q"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def _trials(tmp: Path) -> int:
    db = tmp / "study.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM trials").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_unreachable_cluster_fails_before_the_search(tmp_path: Path) -> None:
    port = free_port()
    line = _one_line(_sweep(tmp_path, f"127.0.0.1:{port}"))
    assert f"--ray-address 127.0.0.1:{port}: cannot reach the Ray head" in line
    assert "ray start --head" in line
    assert _trials(tmp_path) == 0


def test_wrong_token_fails_before_the_search_naming_the_fix(head: str, tmp_path: Path) -> None:
    line = _one_line(_sweep(tmp_path, head, RAY_AUTH_TOKEN="not-the-head-token"))
    assert "authentication token" in line and "~/.ray/auth_token" in line
    assert "RAY_AUTH_MODE=disabled" in line
    assert _trials(tmp_path) == 0


def test_missing_resources_fail_before_the_search_naming_the_fix(head: str, tmp_path: Path) -> None:
    line = _one_line(_sweep(tmp_path, head))
    assert "does not advertise the resources the hosts need: slot:local:yosys-ecp5" in line
    assert f"ray start --address={head} --resources=" in line
    assert _trials(tmp_path) == 0


_PRIVATE = """
import ray
from runners.dispatch import BuildFarm
from runners.hosts import local_inventory
farm = BuildFarm(local_inventory(["yosys-ecp5"]), cache_root=__import__("sys").argv[1])
print(ray.get_runtime_context().gcs_address)
farm.shutdown()
"""


def test_a_private_instance_never_joins_the_cluster_in_RAY_ADDRESS(
    head: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PRIVATE, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        env={**os.environ, "RAY_ADDRESS": head},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    own = done.stdout.strip().splitlines()[-1]
    assert own and own != head
