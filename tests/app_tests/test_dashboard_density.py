"""The Pareto plot's rendering rule on a 100,000-trial cloud (``app._density``): the front
and the built trials are markers at their exact positions, every other trial is counted in
the density image, and nothing else is a marker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from app import _axes, _density, _vega
from dse.pareto import pareto_mask

N = 100_000


def cloud(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Trials of a two-objective study (tok/s up, J/token down), 30 % infeasible, some
    duplicated objective vectors on the front."""
    rng = np.random.default_rng(seed)
    tps = rng.lognormal(3.0, 1.0, n)
    energy = rng.lognormal(-2.0, 0.7, n) / np.sqrt(tps)
    energy[5:9] = energy[4]  # ties: designs with equal objectives
    tps[5:9] = tps[4]
    return pd.DataFrame(
        {
            "number": np.arange(n),
            "tps": tps,
            "energy": energy,
            "feasible": rng.random(n) > 0.3,
        }
    )


def markers(spec: dict) -> dict[str, set[int]]:
    """Trial numbers drawn as markers, by marker layer (dataset name)."""
    names = [layer["data"]["name"] for layer in spec["layer"] if "params" in layer]
    return {k: {int(n) for n in spec["datasets"][k]["number"]} for k in names}


@pytest.mark.parametrize("log", [False, True])
def test_a_large_cloud_draws_the_front_and_builds_exactly_and_the_rest_as_density(
    log: bool,
) -> None:
    df = cloud()
    axes = ["tps", "energy"]
    if log:  # values a log axis cannot place: never drawn, counted as dropped
        df.loc[[10, 11], ["energy", "feasible"]] = [0.0, False]
    feasible = df["feasible"].to_numpy()
    on_front = np.zeros(N, dtype=bool)
    on_front[feasible] = pareto_mask(df.loc[feasible, axes].to_numpy(), ["maximize", "minimize"])
    built = np.zeros(N, dtype=bool)
    built[[7, 500, 90_000]] = True
    keep = on_front | built
    mask, density = _density.split(df[axes].to_numpy(), feasible, keep, [log, log])
    assert density is not None
    assert mask.sum() == keep.sum() < _density.POINTS_LIMIT  # only the front and builds
    # Every trial that is not a marker is in exactly one cell, feasible and not apart.
    rest = ~keep
    dropped = 2 if log else 0
    assert density.counted == rest.sum() - dropped and density.dropped == dropped
    placed = rest.copy()
    placed[[10, 11]] = not log
    assert density.feasible.sum() == (placed & feasible).sum()
    assert density.feasible.sum() + density.infeasible.sum() == density.counted
    assert density.feasible.shape == (_density.BINS, _density.BINS)
    front = _axes.group_ties(df[on_front].sort_values("tps"), axes)
    spec = _vega.pareto_spec(
        df[mask].assign(on_front=on_front[mask]),
        front,
        pd.DataFrame(columns=["number", *axes]),
        axes,
        [],
        log_axes=[log, log],
        density=density,
    )
    drawn = markers(spec)
    assert drawn["front"] == set(front["number"])
    assert int(spec["datasets"]["front"]["ties"].sum()) == on_front.sum()  # with ties
    # The cloud's markers are the built trials off the front (the front layer draws the rest).
    cloud_markers = set().union(*(v for k, v in drawn.items() if k != "front"))
    assert cloud_markers == set(np.flatnonzero(built & ~on_front))
    heat = [k for k in spec["datasets"] if k.startswith("density_")]
    assert heat == ["density_infeasible", "density_feasible"]
    cells = sum(int(spec["datasets"][k]["count"].sum()) for k in heat)
    assert cells == density.counted
    # What the browser receives stays small whatever the study's size (Arrow tables).
    sent = sum(len(convert_anything_to_arrow_bytes(t)) for t in spec["datasets"].values())
    assert sent < 400_000


def test_a_small_cloud_is_drawn_point_by_point() -> None:
    df = cloud(3000)
    values = df[["tps", "energy"]].to_numpy(copy=True)
    values[3, 0] = np.nan
    mask, density = _density.split(values, df["feasible"].to_numpy(), np.zeros(3000, bool))
    assert density is None and mask.sum() == 2999 and not mask[3]
    # Just over the limit: the same rule switches to the density image.
    mask, density = _density.split(
        values, df["feasible"].to_numpy(), np.zeros(3000, bool), limit=2000
    )
    assert density is not None and not mask.any() and density.counted == 2999


def test_density_bins_are_log_spaced_on_a_log_axis() -> None:
    values = np.array([[1.0, 1.0], [10.0, 100.0], [100.0, 10_000.0]])
    got = _density.density(values, np.ones(3, bool), [True, True], bins=2)
    np.testing.assert_allclose(got.x_edges, [1.0, 10.0, 100.0])
    np.testing.assert_allclose(got.y_edges, [1.0, 100.0, 10_000.0])
    assert got.feasible.tolist() == [[1, 0], [0, 2]]  # row = y bin
    lin = _density.density(values, np.array([True, False, True]), [False, False], bins=2)
    assert lin.feasible.tolist() == [[1, 0], [0, 1]] and lin.infeasible.tolist() == [[1, 0], [0, 0]]
