"""``dse dashboard``: start the Streamlit dashboard (``app/``) on the results store.

The app is served by ``python -m app.serve app/main.py`` (``streamlit run`` with its imports
warmed up) in a child process; where to
read studies from travels in the environment (``DSE_DASHBOARD_RESULTS``,
``DSE_DASHBOARD_STORAGE``), so the app needs no command-line parsing of its own. ``dse``
never imports ``app`` (the arrow is ``app -> dse``): it only locates the script.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from dse.errors import ConfigError

ENV_RESULTS = "DSE_DASHBOARD_RESULTS"
ENV_STORAGE = "DSE_DASHBOARD_STORAGE"
LOOPBACK = "127.0.0.1"


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
    ]


def dashboard(
    results: Annotated[
        Path, typer.Option("--results", help="results folder holding <study>/optuna.db")
    ] = Path("results"),
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="one storage URL (e.g. postgresql+psycopg://…)"),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8501,
    host: Annotated[
        str,
        typer.Option("--host", help="address to bind; anything but 127.0.0.1 is your choice"),
    ] = LOOPBACK,
) -> None:
    """Serve the dashboard (studies, Pareto fronts, designs, builds, calibration, releases)."""
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
        from dse.sweep import TrialStore
        from dse.sweep._store import sqlite_path

        path = sqlite_path(storage)
        if path is not None and not path.is_file():
            raise ConfigError("--storage", storage, f"an existing database ({path} is missing)")
        TrialStore(storage, create=False).close()  # StorageError -> one line, exit 2
    if host not in (LOOPBACK, "localhost", "::1"):
        typer.echo(f"warning: binding to {host}: the dashboard has no login", err=True)
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
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"dse dashboard: http://{shown}:{port}  (Ctrl-C stops it)")
    try:
        code = subprocess.call(streamlit_argv(script, host, port), env=env)
    except KeyboardInterrupt:
        code = 0
    if code not in (0, -2, 130):
        raise typer.Exit(code)
