"""Session-wide fixtures shared by several test folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._postgres import PostgresServer, PostgresUnavailable, find_bindir

# Every Verilator build compiles the same runtime (verilated.cpp, its threads): through
# ccache (Verilator's makefiles read OBJCACHE) that is once per machine, not once per
# parameter set of every simulator the suite builds. `make test` installs ccache as root.
if shutil.which("ccache") and "OBJCACHE" not in os.environ:
    os.environ["OBJCACHE"] = "ccache"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole session (Debian's package).

    Skipped only when PostgreSQL is not installed and we are not root (``make test`` runs
    as root and installs it); as root a missing or broken server is an error.
    """
    if find_bindir() is None and os.geteuid() != 0:
        pytest.skip(
            "PostgreSQL not installed and not root: apt-get install postgresql "
            "(or run `make test` as root, which installs it)"
        )
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it in the summary when the shared corpus is absent: its readers skip, and a run
    without the vendor report and stand-in tests must not read as one that covered them."""
    if not (SHARED / "fixtures").is_dir():
        skipped = len(terminalreporter.stats.get("skipped", []))
        terminalreporter.write_line(
            f"NOTE: {SHARED / 'fixtures'} is absent: the tests reading real tool reports "
            f"(vendor stand-in flows included) were skipped ({skipped} skips in this run)",
            yellow=True,
        )
