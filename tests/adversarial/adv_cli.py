"""Helpers of the adversarial suite: every bad input is one line on stderr and exit code 2.

Each case runs ``dse`` in this process (``dse.cli.main``) under a per-test time bound, so a
hang (an alias bomb, a blocking read) fails the case instead of the run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dse.cli import main

# Names of Python exception classes must never reach the user.
LEAK = re.compile(
    r"Traceback|\b(?:[A-Z][a-z]+)+(?:Error|Exception)\b|\bFile \"|<module>|\bobject at 0x"
)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``dse ARGV`` in this process: (exit code, stdout, stderr)."""
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def check_one_line(code: int, out: str, err: str, expect: tuple[str, ...], want: int = 2) -> str:
    """Assert the house rule and return the error line."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == want, f"exit {code}, stderr:\n{err}\nstdout:\n{out[-2000:]}"
    assert lines, f"no error message; stdout:\n{out[-2000:]}"
    assert lines[0].startswith("error: "), err
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("(see ")), err
    assert not LEAK.search(err), err
    assert not LEAK.search(out), out
    for part in expect:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    return lines[0]
