"""Pareto filter and hypervolume: properties against brute force, and closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dse.pareto import hypervolume, pareto_mask, reference_point


def dominated_by(v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Rows of ``v`` (minimisation) that ``p`` dominates."""
    return (p <= v).all(axis=1) & (p < v).any(axis=1)


def brute_mask(v: np.ndarray) -> np.ndarray:
    return np.array([not ((v <= row).all(axis=1) & (v < row).any(axis=1)).any() for row in v])


def values(k: int, max_rows: int = 300) -> st.SearchStrategy[np.ndarray]:
    """Small integer grids (many ties and duplicates) or floats."""
    ints = arrays(
        np.float64,
        st.tuples(st.integers(1, max_rows), st.just(k)),
        elements=st.integers(0, 7).map(float),
    )
    floats = arrays(
        np.float64,
        st.tuples(st.integers(1, max_rows), st.just(k)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32),
    )
    return st.one_of(ints, floats)


@pytest.mark.parametrize("k", [2, 3, 4])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mask_is_exactly_the_non_dominated_set(k: int, data: st.DataObject) -> None:
    v = data.draw(values(k))
    mask = pareto_mask(v, ["minimize"] * k)
    front = v[mask]
    # Front points are mutually non-dominated ...
    for p in front:
        assert not dominated_by(front, p).any()
    # ... and every other point is dominated by one of them.
    for row in v[~mask]:
        assert ((front <= row).all(axis=1) & (front < row).any(axis=1)).any()
    assert (mask == brute_mask(v)).all()


@settings(max_examples=30, deadline=None)
@given(v=values(3), flips=st.lists(st.booleans(), min_size=3, max_size=3))
def test_maximize_is_minimizing_the_negation(v: np.ndarray, flips: list[bool]) -> None:
    dirs = ["maximize" if f else "minimize" for f in flips]
    signs = np.where(flips, -1.0, 1.0)
    assert (pareto_mask(v, dirs) == pareto_mask(v * signs, ["minimize"] * 3)).all()


def test_mask_large_3d_matches_brute_force_on_a_sample() -> None:
    rng = np.random.default_rng(1)
    # Plenty of rows so every level of the divide and conquer runs, with ties.
    v = rng.integers(0, 40, size=(5000, 3)).astype(float)
    mask = pareto_mask(v, ["minimize"] * 3)
    assert (mask == brute_mask(v)).all()


def test_nan_rows_are_never_on_the_front() -> None:
    v = np.array([[1.0, 1.0], [np.nan, 0.0], [0.0, 2.0]])
    assert pareto_mask(v, ["minimize", "minimize"]).tolist() == [True, False, True]


def test_duplicates_of_a_front_point_are_all_kept() -> None:
    v = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [2.0, 2.0, 3.0]])
    assert pareto_mask(v, ["minimize"] * 3).tolist() == [True, True, False]


def test_bad_directions_are_rejected() -> None:
    with pytest.raises(ValueError, match="expected 'minimize' or 'maximize'"):
        pareto_mask(np.zeros((2, 2)), ["minimize", "smaller"])
    with pytest.raises(ValueError, match="2 directions for 3"):
        pareto_mask(np.zeros((2, 3)), ["minimize", "minimize"])


def voxels(v: np.ndarray, ref: np.ndarray) -> int:
    """Unit cells [x, x+1)^k below ``ref`` dominated by an integer point set (exact HV)."""
    cells = np.array(list(itertools.product(*[range(int(r)) for r in ref])), dtype=float)
    hit = np.zeros(len(cells), dtype=bool)
    for p in v:
        hit |= (cells >= p).all(axis=1)
    return int(hit.sum())


@pytest.mark.parametrize("k", [2, 3])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hypervolume_equals_voxel_count(k: int, data: st.DataObject) -> None:
    v = data.draw(
        arrays(np.float64, st.tuples(st.integers(1, 40), st.just(k)), elements=st.integers(0, 9))
    )
    ref = np.full(k, 9.0)  # points on the reference plane add nothing, as they should
    assert hypervolume(v, ["minimize"] * k, ref) == pytest.approx(voxels(v, ref), abs=1e-9)


@pytest.mark.parametrize("k", [2, 3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_hypervolume_is_monotone_under_adding_points(k: int, data: st.DataObject) -> None:
    v = data.draw(values(k, 60))
    extra = data.draw(values(k, 20))
    both = np.vstack([v, extra])
    ref = both.max(axis=0) + 1.0
    dirs = ["minimize"] * k
    assert hypervolume(both, dirs, ref) >= hypervolume(v, dirs, ref) - 1e-9 * abs(ref).prod()


def test_closed_forms() -> None:
    mm = ["minimize", "minimize"]
    # One box.
    assert hypervolume(np.array([[1.0, 2.0]]), mm, [4.0, 5.0]) == 9.0
    # A staircase: 3·1 + 2·1 + 1·1 = 6.
    stair = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(stair, mm, [4.0, 4.0]) == 6.0
    # Dominated and duplicate points change nothing.
    more = np.vstack([stair, [[3.0, 3.0], [2.0, 2.0]]])
    assert hypervolume(more, mm, [4.0, 4.0]) == 6.0
    # Three unit-offset points in 3-D against (2, 2, 2): the cube minus the cell [1,2)^3.
    axes = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert hypervolume(axes, ["minimize"] * 3, [2.0, 2.0, 2.0]) == 7.0
    # Maximised objectives: the same box seen from the other side.
    assert hypervolume(np.array([[3.0, 2.0]]), ["maximize", "minimize"], [1.0, 5.0]) == 6.0
    # Points at or beyond the reference add nothing.
    assert hypervolume(np.array([[4.0, 0.0]]), mm, [4.0, 4.0]) == 0.0
    # 1 objective: distance to the reference.
    assert hypervolume(np.array([[2.0], [3.0]]), ["minimize"], [5.0]) == 3.0


def test_reference_point_rule() -> None:
    v = np.array([[100.0, 10.0], [300.0, 30.0], [50.0, 40.0]])  # the last one is dominated
    ref = reference_point(v, ["maximize", "minimize"])
    # Front: (100, 10), (300, 30). Nadir (100, 30), ranges (200, 20), margin 10 %.
    assert ref.tolist() == pytest.approx([80.0, 32.0])
    # Zero range on the front: margin × |worst|.
    ref = reference_point(np.array([[2.0, 5.0]]), ["minimize", "minimize"])
    assert ref.tolist() == pytest.approx([2.2, 5.5])
    # Every front point is strictly inside, so each contributes.
    assert hypervolume(v, ["maximize", "minimize"], reference_point(v, ["maximize", "minimize"]))


def test_hypervolume_rejects_bad_reference() -> None:
    with pytest.raises(ValueError, match="reference point has 3 values for 2 objectives"):
        hypervolume(np.zeros((1, 2)), ["minimize", "minimize"], [1.0, 1.0, 1.0])
