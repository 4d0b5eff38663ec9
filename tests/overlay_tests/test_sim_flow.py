"""The ``sim`` rung through the same build path as synthesis (bundle, cache, executor)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runners import build
from runners.toolchains import FIDELITIES, get_toolchain
from tests.overlay_tests.cases import POINTS

ROOT = Path(__file__).resolve().parents[2]
needs_verilator = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


@needs_verilator
def test_sim_rung_reports_bit_exact_cycles_and_prediction(tmp_path: Path) -> None:
    point = {**POINTS["nm-w4"], "sim_model": "tiny-chatglm", "sim_tokens": 3}
    res = build("overlay", point, "sim-verilator", cache_root=tmp_path)
    assert res.ok, res.first_error
    assert res.fidelity == "sim" == get_toolchain("sim-verilator").fidelity
    m = res.metrics
    assert m["bit_exact"] is True
    assert isinstance(m["prefill_cycles"], int) and m["prefill_cycles"] > 0
    assert {"decode_cycles_kv5", "decode_cycles_kv6"} <= set(m)
    assert abs(float(m["model_decode_err_pct"])) < 15  # type: ignore[arg-type]
    again = build("overlay", point, "sim-verilator", cache_root=tmp_path)
    assert again.cached and again.metrics == m


@needs_verilator
def test_sim_rung_builds_a_separate_mm_engine(tmp_path: Path) -> None:
    """unified_engine false through the rung: the bundle carries the MM engine's RTL, the
    batched prefill runs on it bit-exact, and the model predicts its prefill cycles."""
    point = {**POINTS["nm-w4"], "unified_engine": False, "mm_k": 4, "mm_n": 8, "mm_t": 2}
    point |= {"tile_tokens": 4, "sim_model": "tiny-llama", "sim_tokens": 3}
    res = build("overlay", point, "sim-verilator", cache_root=tmp_path)
    assert res.ok, res.first_error
    m = res.metrics
    assert m["bit_exact"] is True
    pre, model = float(m["prefill_cycles"]), float(m["model_prefill_cycles"])  # type: ignore[arg-type]
    assert abs(model - pre) < 0.05 * pre


def test_sim_is_the_lowest_fidelity() -> None:
    assert FIDELITIES[0] == "sim"


@pytest.mark.parametrize(
    ("point", "key"),
    [
        ('{"quant": "w4a16"}', "quant:"),
        ('{"quant": "w8a8", "kv_bits": 8, "cores": 1, "nm_m": 32}', "nm_m:"),
        ('{"quant": "w8a8", "kv_bits": 8, "cores": 1, "sim_model": "gpt5"}', "sim_model:"),
        ('{"quant": "w8a8", "kv_bits": 16}', "kv_bits:"),
        # the example's MM array (mm_n 96) is not the MV array's 64 rows
        ('{"quant": "w8a8", "kv_bits": 8, "cores": 1}', "mm_n:"),
        # a separate MM engine with serial prefill would have nothing to run
        (
            '{"quant": "w8a8", "kv_bits": 8, "cores": 1, "unified_engine": false, '
            '"prefill_serial": true}',
            "unified_engine:",
        ),
        # the example's separate MM array (mm_n 96) is above the overlay's 64 rows: the
        # template refuses MM_N, naming mm_n it derives it from
        ('{"quant": "w8a8", "kv_bits": 8, "cores": 1, "unified_engine": false}', "MM_N=96"),
        # the template refuses what the overlay cannot build, naming the design keys:
        # token lanes (mm_t 1, 2, 4) dividing the prefill slots; the house default of 128
        # slots (TT 1..8)
        (
            '{"quant": "w8a8", "kv_bits": 8, "cores": 1, "mm_n": 64, "tile_tokens": 6, "mm_t": 4}',
            "MT=4, TT=6 violate 'TT % MT == 0' (mm_t divides tile_tokens)",
        ),
        ('{"quant": "w8a8", "kv_bits": 8, "cores": 1, "tile_tokens": 128}', "TT=128"),
    ],
)
def test_unbuildable_point_is_one_line_exit_2(tmp_path: Path, point: str, key: str) -> None:
    config = ROOT / "examples" / "llama2-7b-u280-temporal.yaml"
    # the example leaves tile_tokens at the house default (128 slots, refused as TT): 4
    point = json.dumps({"tile_tokens": 4, **json.loads(point)})
    argv = [sys.executable, "-m", "dse.cli", "build", str(config), "--template", "overlay"]
    argv += ["--flow", "sim-verilator", "--point", point, "--results", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in lines[0]
    assert key.endswith(":") or any(k in lines[0] for k in ("tile_tokens", "mm_n"))
