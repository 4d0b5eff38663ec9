"""Template unit resource models: exact DSP counts, vectorisation, errors, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest

import cost_models as cm


@pytest.mark.parametrize(
    ("kind", "w_bits", "lanes", "dsp"),
    [
        ("dsp48e2", 8, 8, 4),  # int8 pairs share the activation: two lanes per DSP48E2
        ("dsp48e2", 4, 8, 4),
        ("dsp48e2", 8, 1, 1),  # an odd lane multiplies alone
        ("mult18x18d", 4, 8, 4),  # a 17-bit packed int4 pair fits 18x18
        ("mult18x18d", 8, 8, 8),  # a 27-bit packed int8 pair needs two 18x18 blocks
    ],
)
def test_gemv_dsp_count_follows_packing(kind: str, w_bits: int, lanes: int, dsp: int) -> None:
    out = cm.unit_resources("gemv", {"lanes": lanes, "w_bits": w_bits, "acc_bits": 32}, kind)
    assert out["dsp"][0] == dsp


def test_array_units_use_one_dsp_per_multiplier() -> None:
    sys = cm.unit_resources("systolic", {"mt": 3, "nt": 5, "acc_bits": 24}, "dsp48e2")
    assert sys["dsp"][0] == 15
    sp = cm.unit_resources(
        "nm_sparse_gemv", {"lanes": 8, "n": 2, "m": 8, "acc_bits": 32}, "dsp48e2"
    )
    assert sp["dsp"][0] == 16


def test_units_are_vectorised() -> None:
    lanes = np.array([1, 2, 4, 8, 16, 32])
    out = cm.unit_resources("gemv", {"lanes": lanes, "w_bits": 8, "acc_bits": 32}, "dsp48e2")
    assert all(v.shape == lanes.shape for v in out.values())
    # More lanes always cost more logic and never fewer DSPs (shipped coefficients); lanes
    # 1 and 2 share one packed DSP.
    for r in ("lut", "ff"):
        assert np.all(np.diff(out[r]) > 0), r
    assert list(out["dsp"]) == [1, 1, 2, 4, 8, 16]


@pytest.mark.parametrize("unit", sorted(cm.UNITS))
@pytest.mark.parametrize("kind", ["dsp48e2", "mult18x18d"])
def test_shipped_coefficients_predict_positive_logic(unit: str, kind: str) -> None:
    spec = cm.UNITS[unit]
    params = {p: 8 for p in spec.params} | ({"n": 2, "m": 4} if unit == "nm_sparse_gemv" else {})
    out = cm.unit_resources(unit, params, kind)
    assert out["lut"][0] > 0 and out["ff"][0] > 0


def test_unknown_unit_and_missing_parameter_are_clear_errors() -> None:
    with pytest.raises(cm.InputError, match="did you mean 'gemv'"):
        cm.unit_resources("gemvv", {}, "dsp48e2")
    with pytest.raises(cm.InputError, match=r"gemv\.acc_bits"):
        cm.unit_resources("gemv", {"lanes": 4, "w_bits": 8}, "dsp48e2")
    with pytest.raises(cm.InputError, match="dsp kind"):
        cm.unit_resources("gemv", {"lanes": 4, "w_bits": 8, "acc_bits": 32}, "dsp99")
