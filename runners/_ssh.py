"""``SSHExecutor``: run a bundle's commands on a build host reached over SSH (fabric).

One ``run`` = connect, stream the bundle folder as one tar.gz into a remote ``tar -x`` in
``<workdir>/<bundle hash>/``, run each command there, stream the folder back the same way
and unpack it over the local folder, so ``build(..., executor=SSHExecutor(host))`` leaves the
same result folder as a local build.

Safety: argv words are ``shlex.quote``d (parameters travel in the bundle's files, never on a
command line); each step runs under ``setsid`` + ``timeout -s TERM -k 10``, so on timeout the
whole remote process group is killed; unknown host keys are refused unless the host entry
opts in (``accept_unknown_host_keys``), which pins the key into its known_hosts file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import re
import select
import shlex
import socket
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import paramiko
from fabric import Config, Connection

from runners._executor import Command, StepResult
from runners.hosts import Host

# Seconds between SIGTERM and SIGKILL for a remote step that overran its timeout.
_KILL_GRACE_S = 10
# Exit statuses of GNU timeout: 124 after SIGTERM did it, 128+9 when SIGKILL was needed.
_TIMEOUT_STATUSES = (124, 137)
# How often the remote ``tail`` checks whether the tool has ended (its latency at the end).
_TAIL_POLL_S = 0.05
# What the remote line prints on stdout when the bundle could not be unpacked.
_UPLOAD_FAILED = "DSE-UPLOAD-FAILED"
_HASH_RE = re.compile(r"[0-9a-f]{64}")


class HostUnavailable(Exception):
    """The host could not be reached or the connection broke (a transient failure)."""


class HostKeyRefused(HostUnavailable):
    """The host's key is unknown or does not match the pinned one: retrying cannot help
    (and must not: it may be a man in the middle). Builds report it as ``host_key``."""


class _PinOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Accept an unknown host key and append it to the pinned known_hosts file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def connect(host: Host, ssh_config: str | None = None) -> Connection:
    """An open fabric ``Connection`` to ``host`` with its host-key policy applied.

    Raises ``HostUnavailable`` with the reason (refused, timed out, unknown host key, ...).
    """
    if host.ssh is None:
        raise ValueError(f"host '{host.name}' is not an SSH host")
    target = host.ssh
    config = Config(runtime_ssh_path=ssh_config) if ssh_config else Config()
    kwargs: dict[str, Any] = {"allow_agent": False}
    if target.key:
        kwargs |= {"key_filename": [target.key], "look_for_keys": False}
    gateway = None
    if target.jump:
        gateway = Connection(
            target.jump, config=config, connect_timeout=int(target.connect_timeout_s)
        )
        _apply_host_key_policy(gateway, host)
    conn = Connection(
        target.host,
        user=target.user,
        port=target.port,
        config=config,
        connect_kwargs=kwargs,
        connect_timeout=max(1, int(target.connect_timeout_s)),
        gateway=gateway,
    )
    _apply_host_key_policy(conn, host)
    try:
        conn.open()
    except paramiko.BadHostKeyException:
        raise HostKeyRefused(
            f"host '{host.name}' ({_where(conn)}): host key does not match the pinned key in "
            f"{known_hosts_path(conn, host)} (possible man-in-the-middle; fix known_hosts)"
        ) from None
    except paramiko.SSHException as exc:
        text = str(exc)
        if "not found in known_hosts" in text:
            raise HostKeyRefused(
                f"host '{host.name}': unknown host key for {_where(conn)}, refused (pin it in "
                f"{known_hosts_path(conn, host)} with ssh-keyscan, or set "
                "ssh.accept_unknown_host_keys: true in hosts.yaml)"
            ) from None
        raise HostUnavailable(f"host '{host.name}' ({_where(conn)}): {text}") from None
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise HostUnavailable(
            f"host '{host.name}' ({_where(conn)}): cannot connect: {reason}"
        ) from None
    return conn


class _Pool:
    """Open connections kept per host between builds in this process (a Ray worker runs
    build after build): the SSH handshake and key exchange are paid once, not per build.
    A connection that saw a host error is closed, never reused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[tuple[str, str | None], list[Connection]] = {}

    def take(self, host: Host, ssh_config: str | None) -> tuple[Connection, bool]:
        """A kept connection (True) or a new one (False)."""
        key = (host.model_dump_json(), ssh_config)
        while True:
            with self.lock:
                conn = self.idle.get(key, []).pop() if self.idle.get(key) else None
            if conn is None:
                return connect(host, ssh_config), False
            transport = conn.client.get_transport() if conn.is_connected else None
            if transport is not None and transport.is_active():
                return conn, True
            with contextlib.suppress(Exception):
                conn.close()

    def give(self, host: Host, ssh_config: str | None, conn: Connection, healthy: bool) -> None:
        if not healthy:
            with contextlib.suppress(Exception):
                conn.close()
            return
        with self.lock:
            self.idle.setdefault((host.model_dump_json(), ssh_config), []).append(conn)


_POOL = _Pool()


def known_hosts_path(conn: Connection, host: Host) -> Path:
    """The known_hosts file used for ``host``: its entry, the SSH config's, or ~/.ssh's."""
    assert host.ssh is not None
    if host.ssh.known_hosts:
        return Path(host.ssh.known_hosts)
    configured = conn.ssh_config.get("userknownhostsfile")
    first = str(configured).split()[0] if configured else "~/.ssh/known_hosts"
    return Path(first).expanduser()


def _apply_host_key_policy(conn: Connection, host: Host) -> None:
    assert host.ssh is not None
    path = known_hosts_path(conn, host)
    if path.is_file():
        conn.client.load_host_keys(str(path))
    if host.ssh.accept_unknown_host_keys:
        conn.client.set_missing_host_key_policy(_PinOnFirstUse(path))
    else:
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())


def _where(conn: Connection) -> str:
    return f"{conn.user}@{conn.host}:{conn.port}"


def remote_line(
    host: Host,
    command: Command,
    workdir: str,
    timeout_s: float,
    *,
    upload_bytes: int | None = None,
    fetch: str = "never",
    reap: bool = True,
) -> str:
    """The shell line that runs ``command`` on ``host`` in the build folder ``workdir``.

    Every argv word is quoted. One line does all of a step's remote work, so a step costs
    one round trip: with ``upload_bytes``, the bundle's tar.gz (that many bytes on stdin) is
    unpacked first; the tool runs in a new session (``setsid``) under ``timeout``, which
    signals the whole process group on expiry; its log streams back on stderr (``tail``);
    with ``fetch`` ``always`` (or ``on_failure`` and the step failed) the folder comes back
    as a tar.gz on stdout and is removed (``reap``). The exit status is the tool's.

    A watchdog reads the channel's stdin, which the client keeps open while it waits: when
    it ends (the client was killed, or its connection died) the watchdog kills the tool's
    process group and (``reap``) removes the build folder, so a remote tool never outlives
    its client. A missing program exits 127 with a message naming the host.
    """
    q = shlex.quote
    root = q(workdir)
    cwd = q(posixpath.normpath(posixpath.join(workdir, command.cwd)))
    log = q(command.log)
    argv = " ".join(q(a) for a in command.argv)
    setup = _setup_line(host.setup)
    missing = (
        f"program {command.argv[0]} not found on host {host.name} after setup "
        "(install it there or fix setup: in hosts.yaml)"
    )
    rm = f"rm -rf {root}" if reap else ":"
    parts = []
    if upload_bytes is not None:
        # head stops after the archive: the rest of stdin stays for the watchdog.
        parts.append(
            f"rm -rf {root} && mkdir -p {root} && "
            f"head -c {upload_bytes} | tar -xzf - -C {root} 2>/dev/null || "
            f"{{ rm -rf {root}; echo {_UPLOAD_FAILED}; exit 1; }}"
        )
    parts.append(
        "step() { "
        f"cd {cwd} || return 126; "
        + (f"{{ {setup} ; }} >/dev/null 2>&1 </dev/null; " if setup else "")
        + f"if ! command -v {q(command.argv[0])} >/dev/null 2>&1; then "
        f"echo {q('ERROR: ' + missing)} > {log}; cat {log} >&2; return 127; fi; "
        f": > {log}; "
        f"setsid -w timeout -s TERM -k {_KILL_GRACE_S} {timeout_s:g} {argv} "
        f"> {log} 2>&1 < /dev/null & pid=$!; exec 3<&0; "
        # Background jobs get /dev/null as stdin unless told otherwise: fd 3 is the channel.
        # After a normal end the tool is reaped before the channel closes: `kill -0` fails.
        f"{{ cat >/dev/null; kill -0 $pid || exit; kill -TERM -- -$pid; n=0; "
        f"while kill -0 -- -$pid && [ $n -lt {_KILL_GRACE_S * 5} ]; do sleep 0.2; "
        f"n=$((n+1)); done; kill -KILL -- -$pid; {rm}; }} <&3 >/dev/null 2>&1 & exec 3<&-; "
        f"tail -n +1 -s {_TAIL_POLL_S} --pid=$pid -f {log} >&2; wait $pid; }}"
    )
    parts.append("step; rc=$?; cd /")
    if fetch != "never":
        send = f"tar -czf - -C {root} . 2>/dev/null; {rm}"
        parts.append(send if fetch == "always" else f"if [ $rc -ne 0 ]; then {send}; fi")
    parts.append("exit $rc")
    return "; ".join(parts)


def _setup_line(setup: str | None) -> str:
    if not setup or not setup.strip():
        return ""
    text = setup.strip()
    # A bare path to a script is sourced (Vivado's settings64.sh); anything else is a shell
    # line written by whoever owns hosts.yaml (never by a design point).
    if " " not in text and text.endswith(".sh"):
        return f". {shlex.quote(text)}"
    return text


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
        remote = f"{self.target.workdir.rstrip('/')}/{_bundle_id(workdir)}"
        t0 = time.monotonic()
        try:
            conn, _ = _POOL.take(self.target, self.ssh_config)
        except HostUnavailable as exc:
            return [_host_error(workdir, commands[0], exc, time.monotonic() - t0)]
        healthy = False
        try:
            archive = _pack(workdir)
            for i, command in enumerate(commands):
                last = i == len(commands) - 1
                upload = archive if i == 0 else None
                try:
                    result = self._run_one(conn, workdir, remote, command, upload, last)
                except _Stale:
                    # A kept connection the host has since dropped: one fresh try.
                    with contextlib.suppress(Exception):
                        conn.close()
                    try:
                        conn = connect(self.target, self.ssh_config)
                        result = self._run_one(conn, workdir, remote, command, upload, last)
                    except (HostUnavailable, _Stale) as exc:
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
            _POOL.give(self.target, self.ssh_config, conn, healthy)
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
        """One step on one channel (see ``remote_line``). Raises ``_Stale`` when the
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
                code, out = _stream_step(
                    conn,
                    f"bash --norc -c {shlex.quote(line)}",
                    log,
                    timeout_s + _KILL_GRACE_S + 60,
                    upload or b"",
                )
            except _Stale:
                raise
            except Exception as exc:  # paramiko raises many types when a link dies
                elapsed = time.monotonic() - start
                msg = (
                    f"host '{self.host}': connection lost during step '{command.name}': "
                    + _reason(exc)
                )
                log.write(f"\nERROR: {msg}\n".encode())
                return fail("host_error", msg)
        elapsed = time.monotonic() - start
        if out.startswith(_UPLOAD_FAILED.encode()):
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
                msg = f"host '{self.host}': fetching results from {remote} failed: {_reason(exc)}"
                return fail("host_error", msg)
        if code in _TIMEOUT_STATUSES and elapsed >= timeout_s * 0.95:
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


class _Stale(Exception):
    """No channel could be opened on a connection (a kept one the host has dropped)."""


def _pack(workdir: Path) -> bytes:
    """The bundle folder as one tar.gz (fast compression: it crosses a LAN, not the sea)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(workdir.iterdir()):
            tar.add(path, arcname=path.name)
    return buf.getvalue()


def _stream_step(
    conn: Connection, line: str, log: IO[bytes], backstop_s: float, stdin: bytes
) -> tuple[int | None, bytes]:
    """Run ``line`` on a new channel: ``stdin`` is sent (and the channel's stdin then kept
    open), stderr is written to ``log`` as it arrives, stdout is collected. Returns the exit
    status (None: none came back before ``backstop_s``) and stdout.

    The remote watchdog (``remote_line``) kills the tool when stdin closes, which happens
    when this process dies or the step is abandoned here (the channel is closed on any
    exception). ``_Stale`` when the channel cannot be opened.
    """
    try:
        transport = conn.client.get_transport() if conn.is_connected else None
        if transport is None or not transport.is_active():
            raise _Stale("the SSH connection is closed")
        chan = transport.open_session()
        chan.exec_command(line)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise _Stale(_reason(exc)) from None
    out = io.BytesIO()
    try:
        if stdin:
            chan.sendall(stdin)
        deadline = time.monotonic() + backstop_s
        while True:
            if chan.recv_stderr_ready():
                log.write(chan.recv_stderr(1 << 16))
                log.flush()
            elif chan.recv_ready():
                out.write(chan.recv(1 << 16))
            elif chan.exit_status_ready():
                break
            elif chan.closed or not transport.is_active():
                raise HostUnavailable("the connection was closed")
            elif time.monotonic() > deadline:
                return None, out.getvalue()
            elif chan.eof_received:
                chan.status_event.wait(0.5)  # the output is complete: only the status is due
            else:
                # Woken by the next packet of either stream (or the exit status).
                select.select([chan], [], [], 0.5)
        # Data that arrived with the exit status.
        while chan.recv_ready() or chan.recv_stderr_ready() or not chan.eof_received:
            if chan.closed:
                break
            if chan.recv_stderr_ready():
                log.write(chan.recv_stderr(1 << 16))
            elif chan.recv_ready():
                out.write(chan.recv(1 << 16))
            elif not select.select([chan], [], [], 1.0)[0]:
                break
        log.flush()
        return chan.recv_exit_status(), out.getvalue()
    finally:
        chan.close()


def _bundle_id(workdir: Path) -> str:
    """The bundle hash from the build folder's name, else a digest of its file list."""
    found = _HASH_RE.search(workdir.name)
    if found:
        return found.group(0)
    h = hashlib.sha256()
    for p in sorted(workdir.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(workdir).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


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


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def local_identity() -> str:
    """This machine's hostname (used for ``local: true`` hosts)."""
    return socket.gethostname()


__all__ = ["HostKeyRefused", "HostUnavailable", "SSHExecutor", "connect", "remote_line"]
