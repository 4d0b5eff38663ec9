"""Calibration compares like with like: a measurement far from its prediction is refused by
name, not used to rescale; error figures are held out (leave-one-out)."""

from __future__ import annotations

import pytest

from dse.calibration import (
    SANITY_RANGE,
    Observation,
    fit_corrections,
    held_out_errors,
    sanity_check,
)


def test_a_measurement_outside_the_range_is_refused_naming_build_metric_and_numbers() -> None:
    obs = [
        Observation("lut", "ecp5", "overlay", 1000.0, 1100.0, build="trial 3"),
        Observation("lut", "ecp5", "llm_top", 10300.0, 2430.0, build="trial 7"),
        Observation("ff", "ecp5", "overlay", 800.0, 1500.0, build="trial 3"),
    ]
    kept, refused = sanity_check(obs)
    assert [o.build for o in kept] == ["trial 3", "trial 3"]
    assert len(refused) == 1
    line = refused[0]
    for needle in ("trial 7", "lut", "ecp5", "2430", "10300", "x0.236", "x0.5-x2"):
        assert needle in line, (needle, line)
    # the fit with the check uses only the comparable build
    corr = fit_corrections(obs, sanity=SANITY_RANGE)[("lut", "ecp5")]
    assert corr.n == 1 and corr.scale_at_one == pytest.approx(1.1)
    assert fit_corrections(obs)[("lut", "ecp5")].n == 2  # without it, as before


def test_held_out_errors_predict_each_build_from_the_others() -> None:
    obs = [
        Observation("lut", "yosys-ecp5", "overlay", p, 1.2 * p)
        for p in (100.0, 200.0, 400.0, 800.0)
    ]
    obs.append(Observation("lut", "yosys-ecp5", "overlay", 300.0, 1.5 * 300.0))
    errs = held_out_errors(obs)[("lut", "yosys-ecp5")]
    assert len(errs) == 5
    # the four consistent builds are predicted exactly by the median of the others; the odd
    # one is 1.5/1.2 - 1 = 20 % off when held out (in-sample it would pull its own fit)
    assert sorted(errs)[:4] == pytest.approx([0.0] * 4, abs=1e-9)
    assert max(errs) == pytest.approx(100 * (1 - 1.2 / 1.5))
    assert held_out_errors(obs[:1]) == {}


def test_the_build_loop_refuses_outliers_and_every_unit_template_measurement() -> None:
    from dse.sweep._fit import Fitter

    obs = [
        Observation("lut", "ecp5", "overlay", 1000.0, 1100.0, "trial 1 (overlay, ecp5)"),
        Observation("lut", "ecp5", "overlay", 1000.0, 300.0, "trial 2 (overlay, ecp5)"),
        Observation("lut", "ecp5", "llm_top", 2500.0, 2430.0, "trial 3 (llm_top, ecp5)"),
    ]
    lines: list[str] = []
    fitter = Fitter(lines.append)
    kept = fitter.sane(obs)
    # a unit template calibrates nothing, even inside the range of its units' model
    assert [o.build for o in kept] == ["trial 1 (overlay, ecp5)"]
    assert len(lines) == 2
    assert "trial 2" in lines[0] and "measured 300, the model predicted 1000" in lines[0]
    assert "x0.3," in lines[0] and "outside x0.5-x2" in lines[0]
    unit = lines[1]
    for needle in ("trial 3", "lut (ecp5)", "2430", "2500", "'llm_top' builds units"):
        assert needle in unit, (needle, unit)
    fitter.sane(obs)
    assert len(lines) == 2  # each refusal is said once
    assert fitter.refusals == [line.removeprefix("calibration refused: ") for line in lines]


def test_a_metric_is_calibrated_only_from_the_rung_that_measures_it() -> None:
    from dse.calibration import not_comparable

    obs = [
        Observation("lut", "sim-verilator", "overlay", 1000.0, 1000.0, "trial 1"),
        Observation("decode_cycles_per_token", "ecp5", "overlay", 900.0, 1000.0, "trial 2"),
        Observation("fmax_mhz", "yosys-ecp5", "overlay", 50.0, 55.0, "trial 3"),
        Observation("lut", "yosys-ecp5", "overlay", 1000.0, 1100.0, "trial 4"),
    ]
    kept, refused = sanity_check(obs)
    assert [o.build for o in kept] == ["trial 4"]
    assert len(refused) == 3
    assert "trial 1: lut (sim-verilator) measured 1000 at sim fidelity" in refused[0]
    assert "calibrated only from synth / place_route / bitstream" in refused[0]
    assert (
        "trial 2: decode_cycles_per_token (ecp5)" in refused[1] and "from sim builds" in refused[1]
    )
    assert not_comparable(obs[3]) is None
    # every fit leaves them out, with or without the range check
    assert set(fit_corrections(obs)) == {("lut", "yosys-ecp5")}


def test_a_resource_the_model_does_not_predict_is_not_calibrated() -> None:
    obs = [Observation("uram", "ecp5", "overlay", 0.0, 4.0, "trial 5")]
    kept, refused = sanity_check(obs)
    assert kept == [] and "trial 5: uram (ecp5) measured 4; the model predicts none" in refused[0]
    assert fit_corrections(obs) == {}


def test_latency_is_calibrated_from_the_sim_rung_as_a_scale() -> None:
    import numpy as np
    import pandas as pd

    from dse.calibration import apply_corrections, predicted_for

    # the sim rung's run reports its own cycle-model figure: that is the prediction paired
    measured = {"decode_cycles_per_token": 1100.0, "model_decode_cycles_per_token": 1000.0}
    study = {"decode_latency_s_per_token": 0.02}
    assert predicted_for("decode_cycles_per_token", measured, study) == 1000
    assert predicted_for("lut", {"lut": 5}, {"lut": 7}) == 7
    obs = [
        Observation("decode_cycles_per_token", "sim-verilator", "overlay", p, 1.1 * p)
        for p in (1e3, 2e3, 4e3, 8e3, 16e3, 32e3)
    ]
    corr = fit_corrections(obs)[("decode_cycles_per_token", "sim-verilator")]
    assert corr.method == "scale" and corr.slope == 1.0  # six points, still a pure scale
    assert corr.scale_at_one == pytest.approx(1.1)
    df = pd.DataFrame(
        {"decode_latency_s_per_token": [0.02, 0.5], "decode_tokens_per_s": [50.0, 2.0]}
    )
    out = apply_corrections(
        df, {("decode_cycles_per_token", "sim-verilator"): corr}, "sim-verilator"
    )
    np.testing.assert_allclose(out["decode_latency_s_per_token"], [0.022, 0.55])
    np.testing.assert_allclose(out["decode_tokens_per_s"], [50 / 1.1, 2 / 1.1])
