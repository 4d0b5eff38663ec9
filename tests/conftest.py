"""Session-wide fixtures shared by several test folders."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests._postgres import PostgresServer, PostgresUnavailable, find_bindir


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
