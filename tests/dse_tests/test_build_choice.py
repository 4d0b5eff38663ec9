"""Build policies (dse.search.build_choice) and the ``build: choice:`` key that selects one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sweep_cases import cli

from dse.config import load_config
from dse.errors import ConfigError
from dse.search.build_choice import (
    DEFAULT,
    POLICIES,
    expected_gain,
    layers_of,
    merit,
    policy,
    spread,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "smollm-135m-ecp5.yaml"


def _front(n: int = 41) -> np.ndarray:
    """A convex 2-D front (minimise both): x + y^2-ish, plus dominated rows behind it."""
    x = np.linspace(0.0, 1.0, n)
    front = np.stack([x, (1.0 - x) ** 2], axis=1) + 1.0
    behind = front + 0.3
    return np.vstack([front, behind])


def _keys(j: int) -> tuple[str, str]:
    return f"spec{j}", f"hw{j}"


@pytest.mark.parametrize("name", list(POLICIES))
def test_policies_pick_distinct_buildable_rows_and_take_their_keys(name: str) -> None:
    u = _front()
    taken_specs, taken_hw = {"spec3"}, {"hw5"}
    got = POLICIES[name](u, np.empty((0, 2)), 6, 0.05, _keys, taken_specs, taken_hw)
    assert len(got) == 6 == len(set(got))
    assert 3 not in got and 5 not in got  # built already / its hardware taken (new hw first)
    assert {f"spec{j}" for j in got} <= taken_specs and {f"hw{j}" for j in got} <= taken_hw
    nothing = POLICIES[name](u, np.empty((0, 2)), 2, 0.05, lambda j: None, set(), set())
    assert nothing == []  # unbuildable rows are never picked


def test_spread_starts_at_the_extremes_and_ehvi_at_the_knee() -> None:
    u = _front()
    layers = layers_of(u, 200)
    ends = spread(u, np.empty((0, 2)), 2, 0.05, _keys, set(), set(), layers=layers)
    assert sorted(ends) == [0, 40]  # crowding order: the ends of the predicted front
    first = expected_gain(u, np.empty((0, 2)), 1, 0.05, _keys, set(), set(), layers=layers)[0]
    # Alone, a point's hypervolume is its box to the reference: largest near the knee.
    assert 5 <= first <= 20, first
    assert first < 41  # and on the predicted front, not behind it


def test_ehvi_avoids_what_is_built_and_is_reproducible() -> None:
    u = _front()
    built = u[[10, 11, 12, 13, 14]]  # the knee region is built
    a = expected_gain(u, built, 3, 0.05, _keys, set(), set())
    b = expected_gain(u, built, 3, 0.05, _keys, set(), set())
    assert a == b
    assert not set(a) & set(range(8, 17))  # near a build the expected gain is ~0


def test_ehvi_uncertainty_reaches_behind_the_front() -> None:
    # Two rows: A on the front, B just behind a built point; with a large model error B's
    # expected gain (where the build may land ahead) beats a row the builds already cover.
    u = np.array([[1.0, 2.0], [2.0, 1.0], [1.02, 1.02], [1.5, 1.5]])
    built = np.array([[1.0, 2.0], [2.0, 1.0]])
    keys = {0: ("a", "a"), 1: ("b", "b"), 2: ("c", "c"), 3: ("d", "d")}
    got = expected_gain(u, built, 1, 0.0, keys.get, {"a", "b"}, {"a", "b"}, sigma=0.3)
    assert got == [2]


def _speed_area(n: int = 40, seed: int = 3) -> np.ndarray:
    """Candidates as the sweep hands them over: tokens/s (maximised, so negated) and LUTs."""
    rng = np.random.default_rng(seed)
    lut = rng.uniform(10_000, 60_000, n)
    tps = lut**1.3 * rng.uniform(0.5, 1.5, n) / 10  # faster designs cost more, unevenly
    return np.stack([-tps, lut], axis=1)


def test_merit_builds_the_best_predicted_tokens_per_lut_first() -> None:
    u = _speed_area()
    per_lut = -u[:, 0] / u[:, 1]
    got = merit(u, np.empty((0, 2)), 4, 0.05, _keys, set(), set())
    assert got == list(np.argsort(-per_lut)[:4])  # best first
    assert merit(u, u[:5], 4, 0.05, _keys, set(), set()) == got  # whatever was built
    assert spread(u, np.empty((0, 2)), 1, 0.05, _keys, set(), set())[0] != got[0]


def test_merit_is_free_of_units_and_of_the_candidates_range() -> None:
    u = _speed_area()
    first = merit(u, np.empty((0, 2)), 3, 0.0, _keys, set(), set())
    # LUTs in thousands, tokens/s per ms: the same picks (a normalised score would move)
    assert merit(u * [1e-3, 1e-3], np.empty((0, 2)), 3, 0.0, _keys, set(), set()) == first
    # a far, slow, huge candidate widens every range; the merit's picks stay
    wide = np.vstack([u, [[-1.0, 1e7]]])
    assert merit(wide, np.empty((0, 2)), 3, 0.0, _keys, set(), set()) == first


def test_merit_takes_new_hardware_first_and_falls_back_without_logarithms() -> None:
    # rows 0 and 1: the same hardware (another clock), both better than row 2
    u = np.array([[-10.0, 1.0], [-9.0, 1.0], [-5.0, 1.0]])
    keys = {0: ("a", "h"), 1: ("b", "h"), 2: ("c", "g")}
    assert merit(u, np.empty((0, 2)), 2, 0.0, keys.get, set(), set()) == [0, 2]
    assert merit(u, np.empty((0, 2)), 3, 0.0, keys.get, set(), set()) == [0, 2, 1]
    # an objective that crosses zero has no logarithm: the round is ehvi's
    z = _front() - 1.5
    assert merit(z, np.empty((0, 2)), 3, 0.0, _keys, set(), set()) == expected_gain(
        z, np.empty((0, 2)), 3, 0.0, _keys, set(), set()
    )


def test_policy_lookup_names_the_key() -> None:
    assert policy("ehvi") is expected_gain
    assert POLICIES[DEFAULT] is merit
    with pytest.raises(ConfigError, match=r"build\.choice.*merit, spread, ehvi.*'ehvy'"):
        policy("ehvy", "study.yaml")


def test_build_choice_key_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text()
    assert "  every: 200" in text
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("  every: 200", "  choice: ehvi\n  every: 200", 1))
    cfg = load_config(good)
    assert cfg.build is not None and cfg.build.choice == "ehvi"
    assert load_config(EXAMPLE).build.choice == DEFAULT  # type: ignore[union-attr]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  every: 200", "  choice: ehvy\n  every: 200", 1))
    code, out, err = cli(["sweep", str(bad), "--trials", "10", "--no-builds"], capsys)
    assert code == 2
    assert "bad.yaml" in err and "build.choice" in err and "merit, spread, ehvi" in err
    assert "ehvi" in err and "Traceback" not in err + out
