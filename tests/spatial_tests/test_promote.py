"""``dse promote`` of a spatial point it cannot release: refused before anything is built,
in one line naming what is missing (here the example's ECP5 point, whose top needs more
multipliers than the device has, and the HLS top, which has no host). The release itself:
test_release.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-gpt2-ecp5-spatial.yaml"


def _dse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "dse.cli", *args, "--results", str(cwd / "results")]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        ([], "ecp5-85 has 156 MULT18X18D"),
        (["--template", "hls_spatial"], "does not release the spatial accelerator on ecp5-85"),
    ],
)
def test_promote_of_a_spatial_point_is_refused_by_name(
    tmp_path: Path, extra: list[str], missing: str
) -> None:
    done = _dse("sweep", str(EXAMPLE), "-q", "--no-builds", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    flow = ["--flow", "vitis-link"] if extra else []
    got = _dse(
        "promote", "tiny-gpt2-ecp5-spatial", "0", "--name", "r1", *extra, *flow, cwd=tmp_path
    )
    out = got.stdout + got.stderr
    assert got.returncode == 2, out
    assert "Traceback" not in out
    lines = [ln for ln in out.splitlines() if ln.startswith("error:")]  # the rest: progress
    assert len(lines) == 1, out
    assert missing in lines[0]
    assert not (tmp_path / "results" / "builds").exists()  # nothing was built
    assert not any((tmp_path / "results" / "releases").glob("r1*"))
