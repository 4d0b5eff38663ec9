"""``dse report parse`` on real tool reports from ../shared/fixtures (skipped when absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports"
UTIL = "UniqueMR__ESE5320-Final-Project___x__reports__link__imp__impl_1_full_util_routed.rpt"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures absent")


def test_report_parse_json_and_text() -> None:
    js = subprocess.run(
        [sys.executable, "-m", "dse.cli", "report", "parse", "--json", str(FIXTURES / UTIL)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert data["kind"].startswith("vivado") and data["lut"] > 0 and data["lut_available"] > 0
    text = subprocess.run(
        [sys.executable, "-m", "dse.cli", "report", "parse", str(FIXTURES / UTIL)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert text.returncode == 0 and "lut_available" in text.stdout


def test_report_parse_unknown_file_is_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    res = subprocess.run(
        [sys.executable, "-m", "dse.cli", "report", "parse", str(junk)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "notes.txt" in res.stderr
