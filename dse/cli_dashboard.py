"""``dse dashboard``: start the Streamlit dashboard (``app/``) on the results store.

The app is served by ``python -m app.serve app/main.py`` (``streamlit run`` with its imports
warmed up) in a child process; where to
read studies from travels in the environment (``DSE_DASHBOARD_RESULTS``,
``DSE_DASHBOARD_STORAGE``), so the app needs no command-line parsing of its own. ``dse``
never imports ``app`` (the arrow is ``app -> dse``): it only locates the script.

The dashboard is read-only unless started with ``--allow-actions``; actions (promote) then
need a token that a browser session must type first. The child gets only the token's
sha256 (``DSE_DASHBOARD_TOKEN_SHA256``). The child dies with this process: SIGTERM, SIGINT
and SIGHUP are forwarded, and Linux sends it SIGTERM if this process is killed outright.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from dse.errors import ConfigError
from dse.layout import DEFAULT_RESULTS

ENV_RESULTS = "DSE_DASHBOARD_RESULTS"
ENV_STORAGE = "DSE_DASHBOARD_STORAGE"
ENV_ACTIONS = "DSE_DASHBOARD_ACTIONS"  # "1": the app offers actions (to token holders)
ENV_TOKEN_SHA256 = "DSE_DASHBOARD_TOKEN_SHA256"  # what the app compares a typed token with
ENV_TOKEN = "DSE_DASHBOARD_TOKEN"  # the user's own token for --allow-actions (else generated)
MIN_TOKEN_CHARS = 16
LOOPBACK = "127.0.0.1"
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the ``dse`` app."""
    app.command("dashboard")(dashboard)


def app_script() -> Path:
    """``app/main.py``: beside the ``dse`` package (a checkout), else the installed ``app``."""
    here = Path(__file__).resolve().parent.parent / "app" / "main.py"
    if here.is_file():
        return here
    spec = importlib.util.find_spec("app")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent / "main.py"
        if installed.is_file():
            return installed
    raise ConfigError(
        "dse dashboard",
        "app/main.py",
        "the dashboard app next to the dse package (reinstall with `pip install -e .`)",
    )


def streamlit_argv(script: Path, host: str, port: int) -> list[str]:
    """The command that serves ``script`` on ``host:port`` without opening a browser."""
    return [
        sys.executable,
        "-m",
        "app.serve",  # streamlit run, with the pages' imports warmed in the background
        str(script),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # Visitors get Streamlit's generic message; types, messages and tracebacks (with
        # server paths) go to this process's stderr only.
        "--client.showErrorDetails",
        "none",
    ]


def dashboard(
    results: Annotated[
        Path, typer.Option("--results", help="results folder holding <study>/optuna.db")
    ] = DEFAULT_RESULTS,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="one storage URL (e.g. postgresql+psycopg://…)"),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8501,
    host: Annotated[
        str,
        typer.Option("--host", help="address to bind; anything but 127.0.0.1 is your choice"),
    ] = LOOPBACK,
    allow_actions: Annotated[
        bool,
        typer.Option(
            "--allow-actions",
            help=f"offer promote to sessions that type the token (${ENV_TOKEN}, else a "
            "random one printed here); without it the dashboard is read-only",
        ),
    ] = False,
) -> None:
    """Serve the dashboard (studies, Pareto fronts, designs, builds, calibration, releases).

    Read-only unless --allow-actions (docs/dashboard.md).
    """
    if not 1 <= port <= 65535:
        raise ConfigError("--port", str(port), "a TCP port between 1 and 65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ConfigError("--host", host, "an IP address to bind (default 127.0.0.1)") from None
    if storage is None and not results.is_dir():
        raise ConfigError("--results", str(results), "an existing folder (run `dse sweep` first)")
    if storage is not None:
        from dse.layout import sqlite_path
        from dse.sweep import TrialStore

        path = sqlite_path(storage)
        if path is not None and not path.is_file():
            raise ConfigError("--storage", storage, f"an existing database ({path} is missing)")
        TrialStore(storage, create=False).close()  # StorageError -> one line, exit 2
    token = _token() if allow_actions else None
    if host not in (LOOPBACK, "localhost", "::1"):
        what = "actions need the token, sent in clear over HTTP" if token else "read-only"
        typer.echo(f"warning: binding to {host}: anyone who reaches it can read ({what})", err=True)
    script = app_script()
    env = dict(os.environ)
    # ``app`` must import in the server process even without an install of this checkout.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(script.parent.parent), env.get("PYTHONPATH", "")) if p
    )
    env[ENV_RESULTS] = str(results.resolve())
    if storage is not None:
        env[ENV_STORAGE] = storage
    else:
        env.pop(ENV_STORAGE, None)
    env.pop(ENV_TOKEN, None)  # the child gets only the hash
    env.pop(ENV_TOKEN_SHA256, None)
    env[ENV_ACTIONS] = "1" if token else "0"
    if token:
        env[ENV_TOKEN_SHA256] = hashlib.sha256(token.encode("utf-8")).hexdigest()
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"dse dashboard: http://{shown}:{port}  (Ctrl-C stops it)")
    if token and not os.environ.get(ENV_TOKEN):
        typer.echo(f"actions allowed to sessions that type this token: {token}")
    elif not token:
        typer.echo("read-only: start with --allow-actions to promote from the Releases page")
    code = _serve(streamlit_argv(script, host, port), env)
    if code not in (0, -2, 130, -signal.SIGTERM):
        raise typer.Exit(code)


def _token() -> str:
    """``$DSE_DASHBOARD_TOKEN`` (at least 16 characters), else a new random token."""
    given = os.environ.get(ENV_TOKEN)
    if given is None:
        return secrets.token_urlsafe(24)
    if len(given) < MIN_TOKEN_CHARS or given != given.strip():
        raise ConfigError(
            f"${ENV_TOKEN}",
            "(hidden)",
            f"at least {MIN_TOKEN_CHARS} characters without surrounding spaces, or unset it "
            "to get a random token",
        )
    return given


def _serve(argv: list[str], env: dict[str, str]) -> int:
    """Run the server child until it exits; a signal to this process stops it too."""
    child = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    # Handlers can only be set from the main thread (an embedding caller may use another).
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED} if main else {}
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when ``dse dashboard`` dies, even by
    SIGKILL (elsewhere the forwarded signals are all there is)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
