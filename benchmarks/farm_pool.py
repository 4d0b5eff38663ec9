"""The builds-to-best pool of ``benchmarks/farm.py``: measured whole-overlay builds.

A pool point is one hardware point of ``templates/overlay`` (``overlay_points.whole_points``)
that ``benchmarks/resource_model_vs_synth.py --rebuild`` synthesised on one flow (real
Yosys; its counts cached in ``benchmarks/data/overlay_synth.csv``). For each point:

- **measured**: the build's LUT / FF / DSP / BRAM of the whole overlay (CSV ``unit=whole``);
- **model**: ``cost_models._overlay_resources.predict`` of the same overlay at the same
  point, with coefficients fitted to the pool's *other* points (leave-one-out, as the
  resource benchmark's held-out figures) or the committed ones (``--prior committed``);
- **speed**: decode tokens/s = the target clock / the cycle model's decode cycles per token
  (``cost_models._overlay_cycles.run_cycles``) of the run the ``sim`` rung would make on
  this hardware (tiny LLaMA, 4 prompt + 8 new tokens, the board's memory at that clock).
  No build in the pool measures cycles; the cycle model is within ~2 % of the Verilator
  runs (``benchmarks/sim_vs_model.py``), so speed is the same number on both sides and
  only the resources tell the model from the measurement.

Pure functions: no tool runs here (``tests/dse_tests/test_farm_pool.py``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import overlay_synth as ovs
import pandas as pd

import cost_models as cm
from cost_models import _overlay_resources as ovr
from cost_models._overlay_cycles import run_cycles
from dse.calibration import (
    SANITY_RANGE,
    Correction,
    Observation,
    apply_corrections,
    fit_corrections,
)
from dse.pareto import to_minimize
from dse.search.build_choice import Choose
from overlay.config import overlay_config
from overlay.flow import TINY_SHAPES
from overlay.sim import DEFAULT_LATENCY
from overlay.simflow import SIM_GROUP, memory_of

RESOURCES = ("lut", "ff", "dsp", "bram")
METRICS = ("lut", "ff", "dsp")  # what the loop calibrates (BRAM is counted, not fitted)
Frame = pd.DataFrame
SIM_MODEL = "tiny-llama"  # the sim rung's default model
SIM_PROMPT, SIM_TOKENS = 4, 8  # the sim rung's default run
# N:M FFN density a point with a sparse weight decoder (idx_bits > 0) runs: the decoder is
# there to stream pruned weights; 2:4-style half density, M = 2 ** idx_bits.
SPARSE_DENSITY = 0.5
# Block RAMs of the flow per 36-Kb block (the budget's unit): ECP5 EBRs are 18 Kb.
BRAM_PER_36K = {"yosys-ecp5": 2.0, "yosys-xilinx": 1.0}


@dataclass(frozen=True)
class Target:
    """Where a flow's pool runs: the board (resources, shell, memory) and the clock."""

    flow: str
    platform: str
    freq_mhz: float  # Yosys measures no clock: one target clock for every point


TARGETS = {
    # the farm benchmark's flow: the ECP5-85 of examples/smollm-135m-ecp5.yaml, at its
    # board's default clock (no overlay point was placed and routed: no measured Fmax)
    "yosys-ecp5": Target("yosys-ecp5", "ecp5-85", 60.0),
    # the sim rung's default memory (one U280 HBM pseudo-channel per port at 200 MHz)
    "yosys-xilinx": Target("yosys-xilinx", "u280", 200.0),
}


def hw_point(row: Mapping[str, Any]) -> dict[str, float]:
    """The template point of a CSV row (every key the resource model reads)."""
    return {k: float(row[k] if row.get(k, "") != "" else ovr.HW_DEFAULTS[k]) for k in ovr.HW_KEYS}


def hw_key(p: Mapping[str, float]) -> str:
    return " ".join(f"{int(p[k])}" for k in ovr.HW_KEYS)


def label(p: Mapping[str, float]) -> str:
    """Short name of a template point (engine, weights, SFU, beat, memories, batching)."""
    out = (
        f"K{p['mv_k']:.0f}xN{p['mv_n']:.0f} w{p['w_bits']:.0f} sfu{p['sfu_lanes']:.0f} "
        f"B{p['beat_bytes']:.0f} sp{p['spad_words']:.0f} im{p['imem_words']:.0f} "
        f"x{p['xbuf_words']:.0f} i{p['idx_bits']:.0f} o{p['overlap']:.0f}"
    )
    return out + (f" TT{p['prefill_slots']:.0f}MT{p['mm_lanes']:.0f}" * (p["prefill_slots"] > 1))


def workload_point(p: Mapping[str, float], target: Target) -> dict[str, Any]:
    """The temporal design point the sim rung runs on hardware ``p`` (the inverse of the
    manifest's ``derive``), at the target's board and clock."""
    idx = int(p["idx_bits"])
    tt = int(p["prefill_slots"])
    out: dict[str, Any] = {
        "quant": "w4a8" if int(p["w_bits"]) == 4 else "w8a8",
        "quant_group": SIM_GROUP,
        "mv_k": int(p["mv_k"]),
        "mv_n": int(p["mv_n"]),
        "sfu_lanes": int(p["sfu_lanes"]),
        "axi_port_bits": 8 * int(p["beat_bytes"]),
        "overlap": bool(p["overlap"]),
        "prefill_serial": tt == 1,
        "tile_tokens": tt,
        "mm_t": int(p["mm_lanes"]),
        "platform": target.platform,
        "freq_mhz": target.freq_mhz,
    }
    if idx:
        out |= {"sparsity": "nm", "nm_m": 1 << idx, "density_ffn": SPARSE_DENSITY}
    return out


@cache
def _decode_cycles(key: tuple[tuple[str, Any], ...]) -> float:
    point = dict(key)
    mem = memory_of(point, overlay_config(point), DEFAULT_LATENCY)
    _, dec = run_cycles(TINY_SHAPES[SIM_MODEL], point, SIM_PROMPT, SIM_TOKENS, mem)
    return statistics.fmean(dec)


def decode_tokens_per_s(p: Mapping[str, float], target: Target) -> float:
    """Target clock / the cycle model's mean decode cycles per token of the sim rung's run."""
    point = workload_point(p, target)
    return target.freq_mhz * 1e6 / _decode_cycles(tuple(sorted(point.items())))


def budget(target: Target, max_util: Mapping[str, float]) -> dict[str, float]:
    """What the overlay may use: the board less its shell, times the study's ``max_util``,
    in the flow's units (LUT, FF, DSP, BRAM blocks)."""
    plat = cm.load_platform(target.platform)
    assert isinstance(plat, cm.Platform)
    avail = plat.available()
    per = BRAM_PER_36K[target.flow]
    return {
        "lut": avail.lut * max_util.get("lut", 1.0),
        "ff": avail.ff * max_util.get("ff", 1.0),
        "dsp": avail.dsp * max_util.get("dsp", 1.0),
        "bram": avail.bram36 * per * max_util.get("bram36", 1.0),
    }


def fits(res: Mapping[str, Any], limit: Mapping[str, float]) -> np.ndarray:
    """Points (arrays of counts per resource) within ``limit`` on every resource."""
    ok = np.ones(np.shape(res["lut"]), dtype=bool)
    for r in RESOURCES:
        ok &= np.asarray(res[r], dtype=float) <= limit[r]
    return ok


def pool_rows(rows: Sequence[Mapping[str, Any]], flow: str, rtl: str) -> list[Mapping[str, Any]]:
    """The pool: one whole-design row per hardware point of ``flow`` at RTL ``rtl``."""
    seen: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        if r["unit"] == "whole" and r["flow"] == flow and r["rtl"] == rtl:
            seen[hw_key(hw_point(r))] = r  # a later row of a point replaces an earlier one
    return list(seen.values())


def without(rows: Sequence[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    """Every row (whole or unit, any flow) not of hardware point ``key``."""
    return [r for r in rows if hw_key(hw_point(r)) != key]


def best_of(score: np.ndarray, feasible: np.ndarray) -> set[int]:
    """Indices of the feasible points of the highest score (ties within 1e-9 relative)."""
    s = np.where(feasible, score, -np.inf)
    if not np.isfinite(s).any():
        return set()
    top = float(s.max())
    return {int(i) for i in np.flatnonzero(s >= top - abs(top) * 1e-9)}


def random_builds(n_feasible: int, k: int) -> float:
    """Expected builds until random choice without replacement among ``n_feasible``
    points hits one of ``k`` winners: (N + 1) / (k + 1)."""
    if not 0 < k <= n_feasible:
        raise ValueError(f"need 0 < k <= N, got k={k}, N={n_feasible}")
    return (n_feasible + 1) / (k + 1)


def builds_to_find(order: Sequence[int], winners: set[int]) -> float:
    """1-based position of the first winner in ``order``; inf when it never comes."""
    return next((float(i + 1) for i, j in enumerate(order) if j in winners), float("inf"))


def predictions(
    rows: Sequence[Mapping[str, Any]], pool: Sequence[Mapping[str, Any]], flow: str, prior: str
) -> list[dict[str, float]]:
    """The model's whole-overlay counts at each pool point.

    ``loo``: coefficients fitted (``overlay_synth.fit_flow``, as the resource benchmark
    fits them) to ``rows`` of every *other* hardware point, a flat flow's unit shapes too
    (the hierarchical flow's rows of other points): the point's own builds never enter.
    ``committed``: ``cost_models/data/overlay_resources.yaml`` as it is.
    """
    flow_rows = [r for r in rows if r["flow"] == flow]
    base_rows = [r for r in rows if r["flow"] == "yosys-xilinx"]
    out = []
    for row in pool:
        p = hw_point(row)
        if prior == "committed":
            coef = ovr.coefficients(flow)
        elif prior == "loo":
            k = hw_key(p)
            coef = ovs.fit_flow(without(flow_rows, k), flow, without(base_rows, k))
        else:
            raise ValueError(f"prior: expected loo or committed, got {prior!r}")
        if not coef:
            raise ValueError(f"{flow}: too few other points to fit the model for {label(p)}")
        out.append({r: float(v) for r, v in ovr.predict(p, flow, coef).items()})
    return out


@dataclass
class Pool:
    """Measured whole-overlay builds of one flow, the model's prediction of each, speed."""

    target: Target
    points: list[dict[str, float]]
    measured: dict[str, np.ndarray]  # resource -> count per point
    predicted: dict[str, np.ndarray]  # the model's (uncorrected) count per point
    tokens_per_s: np.ndarray  # decode tokens/s (cycle model x target clock), both sides
    limit: dict[str, float]  # budget per resource (``budget``)
    prior: str

    @property
    def keys(self) -> list[str]:
        return [hw_key(p) for p in self.points]

    def feasible(self) -> np.ndarray:
        """Measured: every resource within the budget."""
        return fits(self.measured, self.limit)

    def score(self) -> np.ndarray:
        """The measured criterion: decode tokens/s per 1,000 measured LUTs."""
        return self.tokens_per_s / self.measured["lut"] * 1000

    def winners(self) -> set[int]:
        return best_of(self.score(), self.feasible())

    def frame(
        self, corrections: Mapping[tuple[str, str], Correction] | None = None
    ) -> pd.DataFrame:
        """The model's rows as the build loop ranks them (objectives, utilisation against
        the budget, feasibility), after ``corrections`` (``dse.calibration``)."""
        df = pd.DataFrame({"decode_tokens_per_s": self.tokens_per_s})
        for r in RESOURCES:
            df[r] = self.predicted[r]
            df[f"{r}_util"] = self.predicted[r] / self.limit[r]
        df["feasible"] = fits(self.predicted, self.limit)
        if corrections:
            df = apply_corrections(df, corrections, self.target.flow)
        return df

    def observations(self, built: Sequence[int]) -> list[Observation]:
        """What builds ``built`` teach the loop: measured vs predicted LUT, FF, DSP."""
        return [
            Observation(m, self.target.flow, "overlay", float(self.predicted[m][i]),
                        float(self.measured[m][i]), f"pool point {i}")
            for i in built
            for m in METRICS
        ]  # fmt: skip


def make_pool(
    rows: Sequence[Mapping[str, Any]],
    flow: str,
    rtl: str,
    prior: str,
    max_util: Mapping[str, float],
) -> Pool:
    """The pool of ``flow`` at RTL ``rtl`` from the CSV's rows (``overlay_synth.load``,
    with reused unit rows: ``overlay_synth.with_reused``)."""
    target = TARGETS[flow]
    whole = pool_rows(rows, flow, rtl)
    pts = [hw_point(r) for r in whole]
    pred = predictions(rows, whole, flow, prior)
    return Pool(
        target,
        pts,
        {r: np.array([float(w[r]) for w in whole]) for r in RESOURCES},
        {r: np.array([p[r] for p in pred]) for r in RESOURCES},
        np.array([decode_tokens_per_s(p, target) for p in pts]),
        budget(target, max_util),
        prior,
    )


OBJECTIVES = (("decode_tokens_per_s", "maximize"), ("lut", "minimize"))


def fitted(pool: Pool, built: Sequence[int]) -> dict[tuple[str, str], Correction]:
    """The loop's corrections after ``built``: as the sweep fits them (x0.5-x2 sanity)."""
    return fit_corrections(pool.observations(built), SANITY_RANGE)


def loop_order(
    pool: Pool, perm: np.ndarray, top_k: int, diversity: float, budget_n: int, choose: Choose
) -> list[int]:
    """Pool indices in the order the build loop would build them.

    Each round the corrected model scores every pool point; among those it deems feasible
    a build policy (``dse.search.build_choice``) picks ``top_k`` on the two objectives
    (tokens/s up, LUTs down); then the corrections are refitted on everything built so
    far. ``perm`` is the order the search found the points in (the loop breaks ties by
    it). A pool point's hardware key is also its build key (one clock per flow).
    """
    names = [n for n, _ in OBJECTIVES]
    directions = [d for _, d in OBJECTIVES]
    keys = pool.keys
    order: list[int] = []
    taken_specs: set[str] = set()
    taken_hw: set[str] = set()
    corr: dict[tuple[str, str], Correction] = {}
    while len(order) < budget_n:
        df = pool.frame(corr)
        feasible = df["feasible"].to_numpy(dtype=bool)
        idx = np.array([i for i in perm if feasible[i]], dtype=np.int64)
        if len(idx) == 0:
            break
        table = df[names].to_numpy(dtype=float)
        u = to_minimize(table[idx], directions)
        built = to_minimize(table[order], directions) if order else np.empty((0, len(names)))
        want = min(top_k, budget_n - len(order))

        def key(j: int, idx: np.ndarray = idx) -> tuple[str, str]:
            k = keys[int(idx[j])]
            return k, k

        picks = choose(u, built, want, diversity, key, taken_specs, taken_hw)
        if not picks:
            break  # nothing left the policy would build
        order.extend(int(idx[j]) for j in picks)
        corr = fitted(pool, order)
    return order


def held_out_errors(pool: Pool, train: Sequence[int]) -> dict[str, tuple[float, float]]:
    """Per metric: median |ln(measured / model)| x 100 over the points not in ``train``,
    before and after the corrections fitted on ``train``."""
    corr = fitted(pool, train)
    held = np.array([i for i in range(len(pool.points)) if i not in set(train)], dtype=np.int64)
    out = {}
    for m in METRICS:
        p, meas = pool.predicted[m][held], pool.measured[m][held]
        ok = (p > 0) & (meas > 0)
        if not ok.any():
            continue
        before = np.abs(np.log(meas[ok] / p[ok]))
        c = corr.get((m, pool.target.flow))
        after = np.abs(np.log(meas[ok] / c(p[ok]))) if c else before
        out[m] = (float(np.median(before)) * 100, float(np.median(after)) * 100)
    return out
