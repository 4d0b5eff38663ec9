"""``SSHExecutor``: run a bundle's commands on a build host reached over SSH (fabric).

One ``run`` = take a connection (``_ssh_connect``), stream the bundle folder as one tar.gz
into ``<workdir>/<bundle hash>/`` on the host with the first step, run each command there
(``_ssh_remote.remote_line``) and bring the folder back with the last (or failing) step,
unpacked over the local folder, so ``build(..., executor=SSHExecutor(host))`` leaves the
same result folder as a local build.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fabric import Connection

from runners._executor import Command, StepResult
from runners._ssh_connect import (
    POOL,
    HostKeyRefused,
    HostUnavailable,
    connect,
    reason,
)
from runners._ssh_remote import (
    KILL_GRACE_S,
    TIMEOUT_STATUSES,
    UPLOAD_FAILED,
    Stale,
    bundle_id,
    pack,
    remote_line,
    stream_step,
)
from runners.hosts import Host


@dataclass
class SSHExecutor:
    """Run commands on an SSH build host (see the module docstring for the sequence).

    ``keep_remote`` leaves ``<workdir>/<hash>/`` on the host after fetching (for debugging);
    ``step_timeout_s`` caps every command's own timeout.
    """

    target: Host
    ssh_config: str | None = None
    keep_remote: bool = False
    step_timeout_s: float | None = None
    host: str = field(init=False)

    def __post_init__(self) -> None:
        if self.target.ssh is None:
            raise ValueError(f"host '{self.target.name}' has no ssh: entry")
        self.host = self.target.name

    def run(self, workdir: Path, commands: Sequence[Command]) -> list[StepResult]:
        """Upload, run ``commands`` in order (stop at the first failure), fetch back.

        One channel per step: the first also carries the upload, the last (or a failing
        one) also brings the folder back, so a one-step flow is one round trip.
        """
        workdir = Path(workdir)
        results: list[StepResult] = []
        if not commands:
            return results
        remote = f"{self.target.workdir.rstrip('/')}/{bundle_id(workdir)}"
        t0 = time.monotonic()
        try:
            conn, _ = POOL.take(self.target, self.ssh_config)
        except HostUnavailable as exc:
            return [_host_error(workdir, commands[0], exc, time.monotonic() - t0)]
        healthy = False
        try:
            archive = pack(workdir)
            for i, command in enumerate(commands):
                last = i == len(commands) - 1
                upload = archive if i == 0 else None
                try:
                    result = self._run_one(conn, workdir, remote, command, upload, last)
                except Stale:
                    # A kept connection the host has since dropped: one fresh try.
                    with contextlib.suppress(Exception):
                        conn.close()
                    try:
                        conn = connect(self.target, self.ssh_config)
                        result = self._run_one(conn, workdir, remote, command, upload, last)
                    except (HostUnavailable, Stale) as exc:
                        if isinstance(exc, HostKeyRefused):
                            results.append(_host_error(workdir, command, exc, 0.0))
                            return results
                        msg = f"host '{self.host}': cannot run step '{command.name}': {exc}"
                        results.append(_host_error(workdir, command, msg, 0.0))
                        return results
                results.append(result)
                if not result.ok:
                    break
            healthy = not any(r.failure_class == "host_error" for r in results)
        finally:
            POOL.give(self.target, self.ssh_config, conn, healthy)
        return results

    def _run_one(
        self,
        conn: Connection,
        workdir: Path,
        remote: str,
        command: Command,
        upload: bytes | None,
        last: bool,
    ) -> StepResult:
        """One step on one channel (see ``remote_line``). Raises ``Stale`` when the
        channel could not even be opened (nothing ran)."""
        timeout_s = command.timeout_s
        if self.step_timeout_s is not None:
            timeout_s = min(timeout_s, self.step_timeout_s)
        log_rel = (Path(command.cwd) / command.log).as_posix()
        log_path = workdir / log_rel
        log_path.parent.mkdir(parents=True, exist_ok=True)
        line = remote_line(
            self.target,
            command,
            remote,
            timeout_s,
            upload_bytes=None if upload is None else len(upload),
            fetch="always" if last else "on_failure",
            reap=not self.keep_remote,
        )

        def fail(cls: str, msg: str, code: int | None = None) -> StepResult:
            return StepResult(command.name, command.argv, log_rel, code, elapsed, cls, msg)

        start = time.monotonic()
        with log_path.open("wb") as log:
            try:
                # The deadline is a backstop only: the remote `timeout` ends the step first.
                code, out = stream_step(
                    conn,
                    f"bash --norc -c {shlex.quote(line)}",
                    log,
                    timeout_s + KILL_GRACE_S + 60,
                    upload or b"",
                )
            except Stale:
                raise
            except Exception as exc:  # paramiko raises many types when a link dies
                elapsed = time.monotonic() - start
                msg = (
                    f"host '{self.host}': connection lost during step '{command.name}': "
                    + reason(exc)
                )
                log.write(f"\nERROR: {msg}\n".encode())
                return fail("host_error", msg)
        elapsed = time.monotonic() - start
        if out.startswith(UPLOAD_FAILED.encode()):
            return fail("host_error", f"host '{self.host}': upload to {remote} failed")
        if code is None or code < 0 or not conn.is_connected:
            return fail(
                "host_error", f"host '{self.host}': connection lost during step '{command.name}'"
            )
        if out or last or code != 0:
            try:
                with tarfile.open(fileobj=io.BytesIO(out), mode="r:gz") as tar:
                    # The "data" filter refuses absolute paths, .. and device files.
                    tar.extractall(workdir, filter="data")
            except (tarfile.TarError, OSError, EOFError) as exc:
                msg = f"host '{self.host}': fetching results from {remote} failed: {reason(exc)}"
                return fail("host_error", msg)
        if code in TIMEOUT_STATUSES and elapsed >= timeout_s * 0.95:
            msg = (
                f"step '{command.name}' timed out after {timeout_s:g} s on host '{self.host}'; "
                "its remote process group was killed"
            )
            return fail("timeout", msg)
        if code == 127:
            msg = (
                f"step '{command.name}': program '{command.argv[0]}' not found on host "
                f"'{self.host}' after setup (install it there, or fix setup: in hosts.yaml)"
            )
            return fail("host_error", msg)
        if code == 126:
            return fail(
                "host_error",
                f"host '{self.host}': cannot enter the build folder {remote}/{command.cwd}",
            )
        return StepResult(command.name, command.argv, log_rel, code, elapsed)


def _host_error(
    workdir: Path, command: Command, error: str | HostUnavailable, elapsed: float
) -> StepResult:
    """A step that failed for the host's sake: ``host_key`` for a refused host key (not
    transient), else ``host_error``; the message also goes into the step's log."""
    message = str(error)
    failure = "host_key" if isinstance(error, HostKeyRefused) else "host_error"
    log_rel = (Path(command.cwd) / command.log).as_posix()
    path = workdir / log_rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"ERROR: {message}\n")
    return StepResult(command.name, command.argv, log_rel, None, elapsed, failure, message)


__all__ = [
    "HostKeyRefused",
    "HostUnavailable",
    "SSHExecutor",
    "connect",
    "remote_line",
]
