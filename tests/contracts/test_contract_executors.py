"""The contract of an executor, checked for every kind ``runners.dispatch.executor_for``
hands out: on this machine (``local``) and on a real OpenSSH host on 127.0.0.1 (``ssh``).

An executor runs a flow's commands in order in the bundle folder and stops at the first
failure; each step's stdout and stderr land in its log; what a step wrote is in the
folder afterwards (fetched back from a remote host); a missing program is the host's
fault (``host_error``, naming it); a step past its timeout is killed (``timeout``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runners import Command
from runners._executor import Executor
from runners.dispatch import executor_for
from runners.hosts import local_inventory, parse_hosts
from tests.runners.farm_fixtures import SSHD, SshFarm

KINDS = ["local", "ssh"]


@pytest.fixture(scope="module")
def ssh_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFarm]:
    if not Path(SSHD).exists():
        pytest.fail(f"{SSHD} is missing: apt-get install openssh-server (make sysdeps)")
    farm = SshFarm.start(tmp_path_factory.mktemp("sshd"), 1)
    try:
        yield farm
    finally:
        farm.stop()


@pytest.fixture(params=KINDS)
def executor(request: pytest.FixtureRequest) -> Executor:
    if request.param == "local":
        host = local_inventory(["yosys-xilinx"], slots=1).hosts[0]
    else:
        farm: SshFarm = request.getfixturevalue("ssh_farm")
        host = parse_hosts(farm.inventory()).hosts[0]
    return executor_for(host)


def _py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_steps_run_in_order_and_stop_at_the_first_failure(
    executor: Executor, tmp_path: Path
) -> None:
    (tmp_path / "input.txt").write_text("from the bundle")
    write = "import sys; print('out'); print('err', file=sys.stderr); "
    write += "open('made.txt','w').write(open('input.txt').read())"
    steps = [
        Command("one", _py(write), "one.log"),
        Command("two", _py("import sys; sys.exit(3)"), "two.log"),
        Command("three", _py("open('three.txt','w')"), "three.log"),
    ]
    results = executor.run(tmp_path, steps)
    assert [r.name for r in results] == ["one", "two"]
    assert results[0].ok and (tmp_path / "made.txt").read_text() == "from the bundle"
    log = (tmp_path / "one.log").read_text()
    assert "out" in log and "err" in log
    assert results[1].returncode == 3 and not results[1].ok
    assert results[1].failure_class is None  # the tool's own failure, not the host's
    assert not (tmp_path / "three.txt").exists()


def test_a_missing_program_is_the_hosts_fault(executor: Executor, tmp_path: Path) -> None:
    (result,) = executor.run(tmp_path, [Command("synth", ("no-such-tool-dse",), "synth.log")])
    assert result.failure_class == "host_error"
    assert result.message is not None and "no-such-tool-dse" in result.message


def test_a_step_past_its_timeout_is_killed(executor: Executor, tmp_path: Path) -> None:
    step = Command("hang", _py("import time; time.sleep(120)"), "hang.log", timeout_s=2.0)
    start = time.monotonic()
    (result,) = executor.run(tmp_path, [step])
    assert time.monotonic() - start < 60
    assert result.failure_class == "timeout" and not result.ok
