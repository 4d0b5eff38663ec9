"""The separate MM engine's unit of the whole-overlay model against real Yosys builds of
SEP points (benchmarks/data/overlay_sep_synth.csv, written by benchmarks/overlay_sep_synth.py;
none of them fitted)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cost_models import _overlay_mm_engine as mme
from cost_models import _overlay_resources as ov

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "benchmarks" / "data" / "overlay_sep_synth.csv"
SEP = ("mm_engine", "mm_red", "mm_rows", "stream_cap_mm")


def _rows() -> list[dict[str, str]]:
    if not CSV.exists():
        pytest.skip("no SEP builds measured yet (benchmarks/overlay_sep_synth.py --rebuild)")
    with CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def test_whole_design_with_an_engine_is_predicted_held_out() -> None:
    """Every SEP build of the RTL the count describes (``DSP_RTL``): DSP and block RAM
    exact, LUT within 10 %, FF within 5 %."""
    rows = [r for r in _rows() if r["rtl"] == ov.DSP_RTL]
    if not rows:
        pytest.skip(f"no SEP build of {ov.DSP_RTL} measured yet")
    for row in rows:
        p = {k: float(row[k]) for k in (*ov.HW_KEYS, *SEP)}
        pred = ov.predict(p, row["flow"])
        assert float(pred["dsp"]) == float(row["dsp"]), row
        assert float(pred["bram"]) == float(row["bram"]), row
        assert abs(float(pred["lut"]) / float(row["lut"]) - 1) <= 0.10, row
        assert abs(float(pred["ff"]) / float(row["ff"]) - 1) <= 0.05, row


def test_engine_is_a_unit_only_where_built_and_grows_with_its_size() -> None:
    base = {k: 1.0 for k in ov.HW_KEYS} | {
        "mv_k": 8.0, "mv_n": 1.0, "w_bits": 8.0, "beat_bytes": 16.0, "log_beat": 4.0,
        "stream_cap": 1180.0, "spad_words": 1024.0, "imem_words": 256.0,
        "burst_bytes": 256.0, "idx_bits": 0.0, "xbuf_words": 1024.0, "prefill_slots": 2.0,
    }  # fmt: skip
    assert "mm_engine" not in ov.predict_units(base, "yosys-xilinx")
    sep = {**base, "mm_engine": 1.0, "mm_red": 8.0, "mm_rows": 4.0, "stream_cap_mm": 1264.0}
    small = ov.predict_units(sep, "yosys-xilinx")["mm_engine"]
    big = ov.predict_units({**sep, "mm_rows": 8.0}, "yosys-xilinx")["mm_engine"]
    assert float(big["lut"]) > float(small["lut"]) > 0
    # 32 multipliers, 2 scale DSPs per row, 1 in the core
    assert float(small["dsp"]) == 32 + 8 + 1
    # vectorised: a SEP and a unified point side by side
    both = ov.predict({k: np.array([v, v]) for k, v in sep.items()} | {
        "mm_engine": np.array([1.0, 0.0])}, "yosys-xilinx")  # fmt: skip
    one = ov.predict(sep, "yosys-xilinx")
    assert float(both["dsp"][0]) == float(one["dsp"])
    assert float(both["dsp"][1]) < float(one["dsp"])
    assert mme.DSP_FEATURES
