"""LocalExecutor: logs stream to files, timeouts kill the whole process group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from runners import Command, LocalExecutor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a killed parent is reaped by init; until then it is a zombie.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_steps_run_in_order_and_log_to_files(tmp_path: Path) -> None:
    code = (
        "import sys; print('out'); print('err', file=sys.stderr); open('made.txt','w').write('x')"
    )
    steps = [
        Command("one", (sys.executable, "-c", code), "one.log"),
        Command("two", (sys.executable, "-c", "import sys; sys.exit(3)"), "two.log"),
        Command("three", (sys.executable, "-c", "pass"), "three.log"),
    ]
    results = LocalExecutor().run(tmp_path, steps)
    assert [r.name for r in results] == ["one", "two"]  # stops at the first failure
    assert results[0].ok and (tmp_path / "made.txt").is_file()
    log = (tmp_path / "one.log").read_text()
    assert "out" in log and "err" in log
    assert results[1].returncode == 3 and not results[1].ok and results[1].failure_class is None


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    # The step starts a grandchild that would outlive a plain kill of the step's process.
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    step = Command("hang", (sys.executable, "-c", code), "hang.log", timeout_s=2.0)
    start = time.monotonic()
    (result,) = LocalExecutor().run(tmp_path, [step])
    assert time.monotonic() - start < 60
    assert result.failure_class == "timeout" and result.returncode is None
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the grandchild survived the timeout"
    log = (tmp_path / "hang.log").read_text()
    assert "started" in log and "timed out after 2 s" in log


def test_missing_program_is_a_host_error(tmp_path: Path) -> None:
    step = Command("synth", ("no-such-tool-dse-test", "-x"), "synth.log")
    (result,) = LocalExecutor().run(tmp_path, [step])
    assert result.failure_class == "host_error"
    assert result.message is not None and "no-such-tool-dse-test" in result.message
    assert "not found" in (tmp_path / "synth.log").read_text()


def test_a_step_killed_by_a_signal_is_the_hosts_doing() -> None:
    from runners._build import _killed_by

    assert _killed_by(-15) == "SIGTERM" and _killed_by(137) == "SIGKILL"
    assert _killed_by(1) is None and _killed_by(0) is None and _killed_by(None) is None


def test_an_interrupted_step_kills_its_process_group(tmp_path: Path) -> None:
    """Ctrl-C (or a cancelled Ray task) while a tool runs must not orphan the tool."""
    import threading

    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    done: list[BaseException] = []

    def run() -> None:
        try:
            LocalExecutor().run(
                tmp_path, [Command("sh", ("sh", "-c", script), "sh.log", timeout_s=30)]
            )
        except BaseException as exc:  # the interrupt is what this test delivers
            done.append(exc)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pidfile.read_text())
    # Deliver an exception into the executor's thread, as Ray's cancel does in a worker.
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(t.ident or 0), ctypes.py_object(KeyboardInterrupt)
    )
    t.join(timeout=20)
    assert done and isinstance(done[0], KeyboardInterrupt)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists():
        stat = Path(f"/proc/{child}/stat").read_text().split()
        if stat[2] == "Z":  # reaped by init soon; a zombie is dead
            break
        assert time.monotonic() < deadline, "the tool's child outlived the interrupt"
        time.sleep(0.05)
