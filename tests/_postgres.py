"""A throw-away PostgreSQL server for tests: Debian's binaries, 127.0.0.1, trust auth.

``PostgresServer().start()`` runs ``initdb`` and ``pg_ctl start`` on a data directory in a
fresh temporary folder (socket there too, a free TCP port on 127.0.0.1); ``stop()`` shuts
it down and removes the folder. ``initdb`` refuses to run as root, so as root every server
command runs as the ``postgres`` user (``runuser -u postgres --``) on a folder it owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL installation (the message says how to get one)."""


def find_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<ver>/bin`` with ``initdb`` and ``pg_ctl``."""

    def version(p: str) -> tuple[int, ...]:
        ver = Path(p).parent.parent.name
        return tuple(int(x) for x in ver.split(".") if x.isdigit())

    found = [
        p
        for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if (Path(p).parent / "pg_ctl").exists()
    ]
    return Path(max(found, key=version)).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster for the test session."""

    def __init__(self, bindir: Path | None = None) -> None:
        bindir = bindir or find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                "(install the Debian package: apt-get install postgresql, or run `make sysdeps` "
                "as root)"
            )
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        if self.as_root and shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root but `runuser` is missing (util-linux)")
        self.root = Path(tempfile.mkdtemp(prefix="dse-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}"
            )
        return proc

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.root, user=PG_USER, group=PG_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            PG_USER,
            "-E",
            "UTF8",
            "--no-sync",
        )
        # Durability settings off: the cluster is thrown away, and fsyncs would dominate.
        options = (
            f"-h 127.0.0.1 -p {{port}} -k {self.root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        for _ in range(5):  # a port picked as free can be taken before the server binds it
            self.port = _free_port()
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options.format(port=self.port),
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                break
            except PostgresUnavailable:
                if "could not bind" not in (self.log.read_text() if self.log.exists() else ""):
                    raise
        else:
            raise PostgresUnavailable(f"could not bind a port on 127.0.0.1; see {self.log}")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
