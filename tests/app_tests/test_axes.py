"""Where a build is drawn on the Pareto axes (``app._axes.build_positions``), build-free:
only a build of the whole accelerator measures the design; a unit template's build never
stands for it, however plausible its numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from app import _axes

AXES = ["metric_lut", "metric_decode_tokens_per_s"]
RAW = pd.Series({"lut": 40_000.0, "lut_fixed": 1_500.0, "decode_tokens_per_s": 500.0})


def _build(build_id: int, template: str, state: str = "done", **measured: float) -> dict:
    return {
        "build_id": build_id,
        "trial_number": 7,
        "flow": "ecp5",
        "template": template,
        "state": state,
        "failure_class": "" if state == "done" else "timing_not_met",
        "point": {"freq_mhz": 25.0},
        "measured": measured,
    }


def _positions(*builds: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    model = pd.DataFrame(
        {"metric_lut": [41_500.0], "metric_decode_tokens_per_s": [500.0]}, index=[7]
    )

    def at_clock(_b: pd.Series, mhz: float) -> pd.Series:
        return pd.Series({"decode_tokens_per_s": 20.0 * mhz})  # tok/s follows the clock

    return _axes.build_positions(
        model, pd.DataFrame(list(builds)), AXES, lambda _b: RAW, at_clock, {"lut": 83_640.0}
    )


def test_a_whole_design_build_is_drawn_at_its_measurements() -> None:
    measured, failed = _positions(_build(1, "overlay", lut=30_000.0, fmax_mhz=20.0))
    assert failed.empty and list(measured["build_id"]) == [1]
    row = measured.iloc[0]
    assert row["metric_lut"] == pytest.approx(30_000.0 + 1_500.0)  # + the modelled shell
    assert row["metric_decode_tokens_per_s"] == pytest.approx(20.0 * 20.0)  # at its Fmax


@pytest.mark.parametrize("state", ["done", "failed"])
def test_a_unit_build_is_never_the_designs_measurement(state: str) -> None:
    unit = _build(2, "llm_top", state, lut=2_300.0, fmax_mhz=20.0)
    measured, failed = _positions(unit)
    assert measured.empty
    if state == "failed":  # marked by its failure class at the trial's model position
        (row,) = failed.to_dict("records")
        assert row["metric_lut"] == 41_500.0 and "llm_top builds units" in row["drawn_at"]
    else:
        assert failed.empty
