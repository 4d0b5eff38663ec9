"""SSH connections to build hosts: open one with the host's key policy, keep it for the
next build of this process, and say why a host cannot be reached.

Unknown host keys are refused unless the host entry opts in
(``accept_unknown_host_keys``), which pins the key into its known_hosts file; a key that
does not match the pinned one is ``HostKeyRefused`` (never retried).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection

from runners.hosts import Host


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
            f"host '{host.name}' ({where(conn)}): host key does not match the pinned key in "
            f"{known_hosts_path(conn, host)} (possible man-in-the-middle; fix known_hosts)"
        ) from None
    except paramiko.SSHException as exc:
        text = str(exc)
        if "not found in known_hosts" in text:
            raise HostKeyRefused(
                f"host '{host.name}': unknown host key for {where(conn)}, refused (pin it in "
                f"{known_hosts_path(conn, host)} with ssh-keyscan, or set "
                "ssh.accept_unknown_host_keys: true in hosts.yaml)"
            ) from None
        raise HostUnavailable(f"host '{host.name}' ({where(conn)}): {text}") from None
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise HostUnavailable(
            f"host '{host.name}' ({where(conn)}): cannot connect: {reason}"
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


POOL = _Pool()


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


def where(conn: Connection) -> str:
    return f"{conn.user}@{conn.host}:{conn.port}"


def reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def local_identity() -> str:
    """This machine's hostname (used for ``local: true`` hosts)."""
    return socket.gethostname()
