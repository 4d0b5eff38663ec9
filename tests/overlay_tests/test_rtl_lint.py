"""The overlay RTL is clean under ``verilator --lint-only`` at several parameter sets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "templates" / "overlay"
SOURCES = [
    "overlay_top.v", "overlay_core.v", "ov_tile_dec.v", "ov_mm_lanes.v", "ov_mm_engine.v",
    "ov_rdstream.v", "ov_bankram.v",
]  # fmt: skip


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"BEAT": 4, "LOGBEAT": 2, "CAP": 64, "BURST": 16, "MV_N": 1, "SFU_LANES": 1, "WBITS": 4},
        {"BEAT": 64, "LOGBEAT": 6, "CAP": 4096, "MV_K": 16, "MV_N": 8, "OVERLAP": 0},
        # batched prefill slots; W4 dense with even MV_N: DSP-packed products
        {"TT": 4, "XBUF": 2048, "MV_K": 4, "MV_N": 2, "OVERLAP": 0, "WBITS": 4, "IDXB": 0},
        # token lanes of the batched MV (ov_mm_lanes): packed W4, then 8-bit N:M fields
        {"TT": 4, "MT": 2, "XBUF": 2048, "MV_K": 4, "MV_N": 2, "WBITS": 4, "IDXB": 0},
        {"TT": 8, "MT": 4, "XBUF": 2048, "MV_K": 8, "MV_N": 4},
        # a separate MM engine of another shape: packed W4 with lanes, N:M fields, 3 slots
        {
            "TT": 4,
            "MT": 2,
            "XBUF": 2048,
            "MV_K": 4,
            "MV_N": 2,
            "WBITS": 4,
            "IDXB": 0,
            "SEP": 1,
            "MM_K": 8,
            "MM_N": 4,
            "CAP_MM": 1024,
        },
        {"TT": 3, "XBUF": 1024, "MV_K": 8, "MV_N": 4, "SEP": 1, "MM_K": 16, "MM_N": 2},
    ],
)
def test_lint_clean(params: dict[str, int]) -> None:
    argv = ["verilator", "--lint-only", "--top-module", "overlay_top"]
    argv += [f"-G{k}={v}" for k, v in params.items()] + SOURCES
    done = subprocess.run(argv, cwd=RTL, capture_output=True, text=True)
    assert done.returncode == 0 and "%Warning" not in done.stderr, done.stderr[-2000:]
