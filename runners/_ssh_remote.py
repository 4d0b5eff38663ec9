"""The remote side of one build step over SSH: the shell line that runs it on the host
and the channel that carries it.

One line does all of a step's remote work, so a step costs one round trip: unpack the
uploaded bundle (first step), run the tool under ``setsid`` + ``timeout`` (the whole remote
process group dies on expiry or when the client goes away), stream its log back on
stderr, and send the folder back as a tar.gz on stdout (last or failing step). Argv words
are ``shlex.quote``d: parameters travel in the bundle's files, never on a command line.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import select
import shlex
import tarfile
import time
from pathlib import Path
from typing import IO

import paramiko
from fabric import Connection

from runners._executor import Command
from runners._ssh_connect import HostUnavailable, reason
from runners.hosts import Host

# Seconds between SIGTERM and SIGKILL for a remote step that overran its timeout.
KILL_GRACE_S = 10
# Exit statuses of GNU timeout: 124 after SIGTERM did it, 128+9 when SIGKILL was needed.
TIMEOUT_STATUSES = (124, 137)
# How often the remote ``tail`` checks whether the tool has ended (its latency at the end).
_TAIL_POLL_S = 0.05
# What the remote line prints on stdout when the bundle could not be unpacked.
UPLOAD_FAILED = "DSE-UPLOAD-FAILED"
_HASH_RE = re.compile(r"[0-9a-f]{64}")


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
            f"{{ rm -rf {root}; echo {UPLOAD_FAILED}; exit 1; }}"
        )
    parts.append(
        "step() { "
        f"cd {cwd} || return 126; "
        + (f"{{ {setup} ; }} >/dev/null 2>&1 </dev/null; " if setup else "")
        + f"if ! command -v {q(command.argv[0])} >/dev/null 2>&1; then "
        f"echo {q('ERROR: ' + missing)} > {log}; cat {log} >&2; return 127; fi; "
        f": > {log}; "
        f"setsid -w timeout -s TERM -k {KILL_GRACE_S} {timeout_s:g} {argv} "
        f"> {log} 2>&1 < /dev/null & pid=$!; exec 3<&0; "
        # Background jobs get /dev/null as stdin unless told otherwise: fd 3 is the channel.
        # After a normal end the tool is reaped before the channel closes: `kill -0` fails.
        f"{{ cat >/dev/null; kill -0 $pid || exit; kill -TERM -- -$pid; n=0; "
        f"while kill -0 -- -$pid && [ $n -lt {KILL_GRACE_S * 5} ]; do sleep 0.2; "
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


class Stale(Exception):
    """No channel could be opened on a connection (a kept one the host has dropped)."""


def pack(workdir: Path) -> bytes:
    """The bundle folder as one tar.gz (fast compression: it crosses a LAN, not the sea)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(workdir.iterdir()):
            tar.add(path, arcname=path.name)
    return buf.getvalue()


def stream_step(
    conn: Connection, line: str, log: IO[bytes], backstop_s: float, stdin: bytes
) -> tuple[int | None, bytes]:
    """Run ``line`` on a new channel: ``stdin`` is sent (and the channel's stdin then kept
    open), stderr is written to ``log`` as it arrives, stdout is collected. Returns the exit
    status (None: none came back before ``backstop_s``) and stdout.

    The remote watchdog (``remote_line``) kills the tool when stdin closes, which happens
    when this process dies or the step is abandoned here (the channel is closed on any
    exception). ``Stale`` when the channel cannot be opened.
    """
    try:
        transport = conn.client.get_transport() if conn.is_connected else None
        if transport is None or not transport.is_active():
            raise Stale("the SSH connection is closed")
        chan = transport.open_session()
        chan.exec_command(line)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise Stale(reason(exc)) from None
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


def bundle_id(workdir: Path) -> str:
    """The bundle hash from the build folder's name, else a digest of its file list."""
    found = _HASH_RE.search(workdir.name)
    if found:
        return found.group(0)
    h = hashlib.sha256()
    for p in sorted(workdir.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(workdir).as_posix().encode() + p.read_bytes())
    return h.hexdigest()
