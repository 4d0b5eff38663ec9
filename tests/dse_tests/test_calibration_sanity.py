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


def test_the_build_loop_refuses_whole_design_outliers_and_reports_unit_ones() -> None:
    from dse.sweep._fit import Fitter

    obs = [
        Observation("lut", "ecp5", "overlay", 1000.0, 1100.0, "trial 1 (overlay, ecp5)"),
        Observation("lut", "ecp5", "overlay", 1000.0, 300.0, "trial 2 (overlay, ecp5)"),
        Observation("lut", "ecp5", "llm_top", 10300.0, 2430.0, "trial 3 (llm_top, ecp5)"),
    ]
    lines: list[str] = []
    fitter = Fitter(lines.append)
    kept = fitter.sane(obs)
    assert [o.build for o in kept] == ["trial 1 (overlay, ecp5)", "trial 3 (llm_top, ecp5)"]
    assert len(lines) == 2
    assert "trial 2" in lines[0] and lines[0].endswith(": refused")
    assert "trial 3" in lines[1] and "used as before" in lines[1]
    fitter.sane(obs)
    assert len(lines) == 2  # each refusal is said once
