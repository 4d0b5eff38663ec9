"""benchmarks/farm_pool.py: the builds-to-best pool of the farm benchmark (sections 3 and 4).

No tool runs: the pool logic on small made-up pools, and the leave-one-out model on the
whole-overlay builds the resource benchmark cached (skipped when none are)."""

from __future__ import annotations

import itertools
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import farm_pool as fp  # noqa: E402
import overlay_synth as ovs  # noqa: E402
from overlay_points import whole_points  # noqa: E402

from dse.search.build_choice import DEFAULT, POLICIES  # noqa: E402
from overlay.config import overlay_config  # noqa: E402
from overlay.sim import index_bits  # noqa: E402
from runners import load_template  # noqa: E402


def test_random_expectation_is_the_mean_first_hit_over_every_order() -> None:
    for n, winners in ((5, {0}), (5, {1, 3}), (6, {0, 2, 5})):
        hits = [fp.builds_to_find(o, winners) for o in itertools.permutations(range(n))]
        assert fp.random_builds(n, len(winners)) == pytest.approx(statistics.fmean(hits))
    with pytest.raises(ValueError, match="0 < k <= N"):
        fp.random_builds(3, 0)


def test_an_order_that_never_builds_the_best_needs_infinitely_many() -> None:
    assert fp.builds_to_find([4, 2, 7], {7, 9}) == 3.0
    assert fp.builds_to_find([4, 2], {7}) == float("inf")


def test_the_best_is_the_top_score_among_points_that_fit() -> None:
    score = np.array([5.0, 9.0, 5.0, 1.0])
    assert fp.best_of(score, np.array([True, False, True, True])) == {0, 2}  # a tie
    assert fp.best_of(score, np.zeros(4, dtype=bool)) == set()


@pytest.mark.parametrize("point", whole_points()[:12], ids=lambda p: fp.label(fp.hw_point(p)))
def test_the_sim_point_of_a_pool_point_runs_on_that_hardware(point: dict) -> None:
    """The temporal point whose cycles score a pool point resolves (manifest ``derive``) to
    the same engine, weights, SFU, port, prefill slots and token lanes, and the weights it
    stores need no more index bits than the hardware decodes."""
    hw = fp.hw_point(point)
    wp = fp.workload_point(hw, fp.TARGETS["yosys-ecp5"])
    resolved = load_template("overlay").resolve_params(wp)
    same = {
        "MV_K": "mv_k", "MV_N": "mv_n", "WBITS": "w_bits", "SFU_LANES": "sfu_lanes",
        "BEAT": "beat_bytes", "OVERLAP": "overlap", "TT": "prefill_slots", "MT": "mm_lanes",
    }  # fmt: skip
    for name, key in same.items():
        assert float(resolved[name]) == hw[key], name
    assert index_bits(overlay_config(wp)) <= hw["idx_bits"]
    assert fp.decode_tokens_per_s(hw, fp.TARGETS["yosys-ecp5"]) > 0


def _pool(measured_lut: list[float], model_lut: list[float], tps: list[float]) -> fp.Pool:
    n = len(tps)
    flat = {"ff": np.full(n, 5000.0), "dsp": np.full(n, 50.0), "bram": np.full(n, 4.0)}
    pts = [fp.hw_point(p) for p in whole_points()[:n]]
    return fp.Pool(
        fp.TARGETS["yosys-ecp5"],
        pts,
        {"lut": np.array(measured_lut), **flat},
        {"lut": np.array(model_lut), **flat},
        np.array(tps),
        {"lut": 40_000.0, "ff": 1e6, "dsp": 1e3, "bram": 1e3},
        "test",
    )


def test_a_point_over_budget_as_measured_is_never_the_best() -> None:
    # point 1 is the most efficient but measures over the 40k LUT budget
    pool = _pool([20_000, 41_000, 30_000], [20_000, 30_000, 30_000], [1000, 5000, 1000])
    assert pool.winners() == {0}
    assert not pool.feasible()[1] and pool.frame()["feasible"][1]


def test_the_loop_never_builds_what_the_model_rules_out() -> None:
    pool = _pool(
        [10_000, 12_000, 15_000, 20_000, 25_000],
        [10_000, 50_000, 15_000, 20_000, 25_000],  # point 1: over budget for the model
        [1000, 4000, 2000, 3000, 3500],
    )
    for name, choose in POLICIES.items():
        order = fp.loop_order(pool, np.arange(5), 2, 0.05, 5, choose)
        assert 1 not in order and len(order) == len(set(order)), name


def test_the_default_policy_builds_the_model_s_most_efficient_point_first() -> None:
    # the model rates point 2 best (1,000 tok/s per kLUT); as measured point 3 is
    pool = _pool(
        [30_000, 20_000, 21_000, 16_000, 35_000],
        [30_000, 20_000, 15_000, 16_000, 35_000],
        [12_000, 9_000, 15_000, 14_000, 30_000],
    )
    order = fp.loop_order(pool, np.arange(5), 2, 0.05, 5, POLICIES[DEFAULT])
    assert order[:2] == [2, 3] and pool.winners() == {3}


def test_corrections_learnt_from_builds_shrink_a_uniform_model_error() -> None:
    lut = [10_000.0, 14_000.0, 20_000.0, 26_000.0, 33_000.0, 38_000.0]
    pool = _pool(lut, [v / 1.5 for v in lut], [1000.0] * 6)
    errs = fp.held_out_errors(pool, [0, 3])
    before, after = errs["lut"]
    assert before == pytest.approx(100 * np.log(1.5)) and after == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("flow", ["yosys-xilinx", "yosys-ecp5"])
def test_a_point_s_own_builds_never_reach_its_held_out_prediction(flow: str) -> None:
    """Leave-one-out: changing every build of point A (both flows, every unit row) leaves
    A's prediction as it was and moves the prediction of a point that saw A."""
    rows = ovs.load()
    revs = {r["rtl"] for r in rows if r["unit"] == "whole"}
    rtl = ovs.newest(revs) if revs else None
    if rtl is None:
        pytest.skip("no whole-overlay builds cached yet")
    rows = [dict(r) for r in ovs.with_reused(rows, rtl)]
    pool = fp.pool_rows(rows, flow, rtl)
    if len(pool) < 3:
        pytest.skip(f"fewer than 3 {flow} builds of RTL {rtl} cached")
    before = fp.predictions(rows, pool, flow, "loo")
    a = fp.hw_key(fp.hw_point(pool[0]))
    changed = [
        {**r, "lut": float(r["lut"]) * 3, "ff": float(r["ff"]) * 3}
        if fp.hw_key(fp.hw_point(r)) == a
        else r
        for r in rows
    ]
    after = fp.predictions(changed, fp.pool_rows(changed, flow, rtl), flow, "loo")
    assert after[0] == before[0]
    assert any(after[i]["lut"] != before[i]["lut"] for i in range(1, len(pool)))
