"""Calibration fits: robust scale and Theil-Sen in log space, and applying them to the model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cost_models as cm
from dse.calibration import Observation, apply_corrections, fit_corrections
from dse.config import load_config


def _obs(pairs: list[tuple[float, float]], metric: str = "lut", flow: str = "ecp5"):
    return [Observation(metric, flow, "gemv_int", p, m) for p, m in pairs]


def test_few_points_give_a_median_scale_that_ignores_one_bad_build() -> None:
    pairs = [(100, 120), (200, 240), (400, 2000)]  # the last build is an outlier
    corr = fit_corrections(_obs(pairs))[("lut", "ecp5")]
    assert corr.method == "scale" and corr.slope == 1.0
    assert corr.scale_at_one == pytest.approx(1.2)
    assert corr(np.array([1000.0]))[0] == pytest.approx(1200.0)


def test_theil_sen_recovers_a_size_dependent_error() -> None:
    p = np.array([50, 100, 200, 400, 800, 1600], dtype=float)
    m = 2.0 * p**1.1
    m[2] *= 3  # one outlier does not move the fit
    corr = fit_corrections(_obs(list(zip(p, m, strict=True))))[("lut", "ecp5")]
    assert corr.method == "theil-sen"
    assert corr.slope == pytest.approx(1.1, abs=1e-9)
    assert corr.scale_at_one == pytest.approx(2.0, rel=1e-9)


def test_slope_is_clamped_and_bad_values_are_skipped() -> None:
    p = np.array([10, 20, 40, 80, 160], dtype=float)
    obs = _obs(list(zip(p, p**4, strict=True))) + _obs([(0.0, 5.0), (5.0, -1.0)])
    corr = fit_corrections(obs)[("lut", "ecp5")]
    assert corr.slope == 2.0 and corr.n == 5
    assert fit_corrections(_obs([(1, 1)], metric="unknown")) == {}


def test_apply_rescales_resources_and_rechecks_feasibility() -> None:
    cfg = load_config(Path(__file__).parents[2] / "examples" / "smollm-135m-ecp5.yaml")
    # Two sizes of the whole overlay (8 and 16 multipliers, two SFU lanes) that fit the ECP5.
    design = {**cfg.design, "mv_n": [1, 2], "sfu_lanes": 2, "freq_mhz": 20}
    df = cm.evaluate(cfg.workload, cfg.platform, design, arch=cfg.arch)
    assert df["feasible"].all(), df["violations"]
    small, large = df["lut_util"]
    assert small < large
    scale = 1.0 / math.sqrt(small * large)  # pushes only the larger point over the device
    obs = _obs([(1000, 1000 * scale)] * 3)
    corr = fit_corrections(obs)
    out = apply_corrections(df, corr, flow="ecp5")
    assert np.allclose(out["lut"], df["lut"] * scale)
    assert np.allclose(out["lut_util"], df["lut_util"] * scale)
    assert list(out["feasible"]) == [True, False]
    assert "lut over device (calibrated)" in str(out["violations"].iloc[1])
    # Another flow's corrections leave the frame as it was.
    same = apply_corrections(df, corr, flow="yosys-xilinx")
    pd.testing.assert_frame_equal(same, df)


def test_clock_correction_prefers_place_and_route_and_checks_the_design_clock() -> None:
    df = pd.DataFrame({"achievable_clock_mhz": [100.0, 100.0], "feasible": [True, True]})
    df["violations"] = pd.Series(["", ""], dtype="category")
    obs = [Observation("fmax_mhz", "ecp5", "t", 100.0, 50.0)] * 2
    obs += [Observation("estimated_clock_mhz", "ecp5", "t", 100.0, 90.0)] * 2
    out = apply_corrections(df, fit_corrections(obs), flow="ecp5", freq_mhz=np.array([40, 60]))
    assert np.allclose(out["achievable_clock_mhz"], [50.0, 50.0])
    assert list(out["feasible"]) == [True, False]
    assert out["violations"].iloc[1] == "clock above achievable (calibrated)"
    # Order of the fits does not matter: the estimate never stacks on the measured Fmax.
    flipped = dict(reversed(list(fit_corrections(obs).items())))
    again = apply_corrections(df, flipped, flow="ecp5", freq_mhz=np.array([40, 60]))
    assert math.isclose(again["achievable_clock_mhz"].iloc[0], 50.0)
