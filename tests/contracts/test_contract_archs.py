"""The contract of a cost model (architecture family), checked for every entry of
``cost_models.ARCHS`` on every board: registering a family adds its tests.

Its parameters are declared (``ARCH_PARAMS``) with defaults inside their own ranges; at
those defaults it returns every stable column plus the detail ``docs/extend.md`` asks for
(per-layer/fixed resource split, ``layers_built``, ``sll_bits``, ``group_bytes_*``), with
finite, non-negative figures; a batch scores each point as if alone; the same input gives
the same output; a misspelt parameter is an error naming it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cost_models as cm
from cost_models._points import ARCH_PARAMS

BOARDS = [n for n in cm.list_platforms() if isinstance(cm.load_platform(n), cm.Platform)]
CASES = [(arch, board) for arch in cm.ARCHS for board in BOARDS]
DETAIL = (
    *(f"{r}_{part}" for r in cm.RESOURCES for part in ("per_layer", "fixed")),
    "layers_built",
    "sll_bits",
    *(f"group_bytes_{g}" for g in cm.GROUPS),
)


def test_every_model_declares_its_parameters() -> None:
    assert set(cm.ARCHS) == set(ARCH_PARAMS)


@pytest.mark.parametrize(("arch", "board"), CASES)
def test_parameter_defaults_lie_in_their_ranges(arch: str, board: str) -> None:
    platform = cm.load_platform(board)
    for name, p in cm.param_specs(arch, platform).items():
        value = p.default(platform) if callable(p.default) else p.default
        if value is None:
            continue  # "not set": the model derives it
        if p.kind == "cat":
            assert value in p.choices, (name, value)
        elif p.kind in ("int", "float"):
            assert p.low is None or value >= p.low, (name, value)
            assert p.high is None or value <= p.high, (name, value)


@pytest.mark.parametrize(("arch", "board"), CASES)
def test_defaults_score_every_column(arch: str, board: str) -> None:
    df = cm.evaluate("gpt2-medium", board, {}, arch=arch, detail=True)
    assert len(df) == 1
    missing = [c for c in (*cm.COLUMNS, *DETAIL) if c not in df.columns]
    assert not missing, f"{arch} does not return {missing}"
    row = df.iloc[0]
    for col in ("prefill_latency_s", "decode_latency_s_per_token", "decode_bytes_per_token"):
        assert np.isfinite(row[col]) and row[col] > 0, col
    for col in (*cm.RESOURCES, *DETAIL, "power_w", "achievable_clock_mhz"):
        assert np.isfinite(row[col]) and row[col] >= 0, col
    assert row["n_fpga"] >= 1 and isinstance(bool(row["feasible"]), bool)


@pytest.mark.parametrize("arch", list(cm.ARCHS))
def test_a_batch_scores_each_point_as_if_alone_and_repeatably(arch: str) -> None:
    specs = cm.param_specs(arch, cm.load_platform("u280"))
    # Three points that differ in the first numeric parameter with room to move.
    name, p = next(
        (k, s) for k, s in specs.items() if s.kind in ("int", "float") and s.high is not None
    )
    lo = p.low or 0
    values = [lo + (p.high - lo) * f for f in (0.25, 0.5, 1.0)]
    points = [{name: int(v) if p.kind == "int" else v} for v in values]
    batch = cm.evaluate("gpt2-medium", "u280", points, arch=arch)
    alone = pd.concat([cm.evaluate("gpt2-medium", "u280", q, arch=arch) for q in points])
    numeric = [c for c in cm.COLUMNS if pd.api.types.is_numeric_dtype(batch[c])]
    np.testing.assert_allclose(
        batch[numeric].to_numpy(float), alone[numeric].to_numpy(float), rtol=1e-9
    )
    again = cm.evaluate("gpt2-medium", "u280", points, arch=arch)
    pd.testing.assert_frame_equal(batch, again)


@pytest.mark.parametrize("arch", list(cm.ARCHS))
def test_a_misspelt_parameter_is_named(arch: str) -> None:
    with pytest.raises(cm.InputError, match="freq_mhzz"):
        cm.evaluate("gpt2-medium", "u280", {"freq_mhzz": 200}, arch=arch)
