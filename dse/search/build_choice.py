"""Which scored trials a build round builds: the build policies (``build: choice:``).

A build takes minutes to hours, a model evaluation microseconds, so this is where a
sample-efficient choice pays. Every policy has one signature (:data:`Choose`), the one the
build scheduler calls::

    picks = policy(u, built, want, diversity, keys, taken_specs, taken_hw, layers=layers)

- ``u``: ``(n, k)`` predicted objectives of the candidates (the calibrated model's, all
  turned into minimisation); ``built``: ``(b, k)`` the same model's objectives at the
  builds so far (where they sit now that the model has learnt from them);
- ``want``: how many to pick; ``diversity``: the spread radius (policy ``spread``);
- ``keys(j)``: row ``j``'s (build key, hardware key), None when it cannot be built (it may
  be slow: policies call it only for rows they would pick); ``taken_specs`` /
  ``taken_hw``: keys already built or picked, updated with the picks;
- ``layers``: row indices by predicted Pareto layer, crowding order within a layer
  (:func:`layers_of`); the policies look at these rows only.

It returns row indices into ``u``. Three policies (:data:`POLICIES`):

- ``merit`` (the default): the rows of best predicted figure of merit (the objectives'
  product, each maximised one counting up and each minimised one down: tokens/s per LUT),
  which is the expected-improvement choice under the calibrated model; new hardware
  first. See :func:`merit`.
- ``spread``: by Pareto layer, crowding order within a layer (extremes first), skipping
  rows within ``diversity`` of a build or pick; new hardware first.
- ``ehvi``: model-prior Bayesian choice, greedy batch expected hypervolume improvement;
  see :func:`expected_gain`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from cost_models import did_you_mean
from dse.errors import ConfigError
from dse.pareto import pareto_mask

Choose = Callable[..., list[int]]
Keys = Callable[[int], tuple[str, str] | None]

# Relative error of the calibrated model's objectives (one standard deviation, log scale)
# that ``ehvi`` assumes: the held-out error after calibration in benchmarks/farm.py is of
# this order (docs/builds.md).
SIGMA = 0.15


def spread(
    u: np.ndarray,
    built: np.ndarray,
    want: int,
    diversity: float,
    keys: Keys,
    taken_specs: set[str],
    taken_hw: set[str],
    *,
    layers: list[np.ndarray] | None = None,
) -> list[int]:
    """Up to ``want`` rows of ``u`` by Pareto layer, crowding order within a layer.

    A row is skipped when its build key is taken, and in the passes that ask for it when
    its hardware is taken or it lies within ``diversity`` (objective space normalised to
    [0, 1], scaled by sqrt(#objectives)) of a build or pick. Passes: new hardware, spread;
    new hardware, not spread (rows the model cannot tell apart may differ in what it is
    blind to); any hardware, spread.
    """
    if len(u) == 0 or want <= 0:
        return []
    lo, hi = u.min(axis=0), u.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (u - lo) / span
    placed = [(b - lo) / span for b in built]
    radius = diversity * math.sqrt(u.shape[1])
    layers = layers if layers is not None else layers_of(u, want * 50)
    chosen: list[int] = []
    for new_hw, spread_out in ((True, True), (True, False), (False, True)):
        for layer in layers:
            for j in (int(k) for k in layer):
                if len(chosen) >= want:
                    return chosen
                if j in chosen:
                    continue
                if spread_out and any(np.linalg.norm(norm[j] - p) < radius for p in placed):
                    continue
                got = keys(j)
                if got is None or got[0] in taken_specs or (new_hw and got[1] in taken_hw):
                    continue
                chosen.append(j)
                taken_specs.add(got[0])
                taken_hw.add(got[1])
                placed.append(norm[j])
    return chosen


def expected_gain(
    u: np.ndarray,
    built: np.ndarray,
    want: int,
    diversity: float,
    keys: Keys,
    taken_specs: set[str],
    taken_hw: set[str],
    *,
    layers: list[np.ndarray] | None = None,
    sigma: float = SIGMA,
    samples: int = 32,
    boxes: int = 4096,
    seed: int = 0,
) -> list[int]:
    """Greedy batch expected hypervolume improvement with the calibrated model as prior.

    Each candidate's measured objectives are modelled as its prediction times
    ``exp(sigma * z)``, ``z`` standard normal per objective. One pick at a time, the row
    with the largest expected gain in hypervolume over the builds so far and the picks
    already made (those at their predicted values) is taken. Near a build the gain is
    about zero, so the picks spread without a radius (``diversity`` is not used); a row
    the model places just behind the front still gains where its error may put it ahead.
    The hypervolume is over objective space normalised to the candidates' range, with the
    reference 10 % beyond the worst, estimated on ``boxes`` uniform points shared by all
    rows (any number of objectives); ``seed`` fixes them, so a choice is reproducible.
    New hardware first, then any hardware, as ``spread`` does.
    """
    if len(u) == 0 or want <= 0:
        return []
    layers = layers if layers is not None else layers_of(u, want * 50)
    rows = np.concatenate(layers) if layers else np.arange(len(u))
    lo, hi = u.min(axis=0), u.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    rng = np.random.default_rng(seed)
    k = u.shape[1]
    # Samples of what a build of each row would measure, normalised: (rows, samples, k).
    noise = np.exp(sigma * rng.standard_normal((len(rows), samples, k)))
    draws = (u[rows][:, None, :] * noise - lo) / span
    ref = np.full(k, 1.1)
    floor = np.minimum(draws.min(axis=(0, 1)), 0.0)
    pts = floor + rng.random((boxes, k)) * (ref - floor)
    volume = float(np.prod(ref - floor)) / boxes
    free = np.ones(boxes, dtype=bool)  # box points no build (or pick) dominates yet
    for b in (built - lo) / span if len(built) else []:
        free &= ~(b <= pts).all(axis=1)
    chosen: list[int] = []
    skip: set[int] = set()
    for new_hw in (True, False):
        while len(chosen) < want:
            gain = np.array([_gain(draws[i], pts, free) for i in range(len(rows))]) * volume
            pick = _best(rows, gain, keys, taken_specs, taken_hw, new_hw, chosen, skip)
            if pick is None:
                break
            chosen.append(pick)
            free &= ~(((u[pick] - lo) / span) <= pts).all(axis=1)  # at its predicted value
    return chosen


def _gain(draws: np.ndarray, pts: np.ndarray, free: np.ndarray) -> float:
    """Mean share of the free box points that one row's samples dominate."""
    live = pts[free]
    if len(live) == 0:
        return 0.0
    return float((draws[:, None, :] <= live[None, :, :]).all(axis=2).sum()) / len(draws)


def _best(
    rows: np.ndarray,
    gain: np.ndarray,
    keys: Keys,
    taken_specs: set[str],
    taken_hw: set[str],
    new_hw: bool,
    chosen: list[int],
    skip: set[int],
) -> int | None:
    """The buildable row of highest gain (ties: the earlier in layer order)."""
    for i in np.argsort(-gain, kind="stable"):
        j = int(rows[i])
        if j in chosen or j in skip:
            continue
        got = keys(j)
        if got is None or got[0] in taken_specs:
            skip.add(j)
            continue
        if new_hw and got[1] in taken_hw:
            continue
        taken_specs.add(got[0])
        taken_hw.add(got[1])
        return j
    return None


def merit(
    u: np.ndarray,
    built: np.ndarray,
    want: int,
    diversity: float,
    keys: Keys,
    taken_specs: set[str],
    taken_hw: set[str],
    *,
    layers: list[np.ndarray] | None = None,
) -> list[int]:
    """Up to ``want`` rows of the best predicted figure of merit; new hardware first.

    The figure of merit is the product of the objectives, each maximised one counting up
    and each minimised one down: decode tokens/s per LUT for (tokens/s up, LUTs down),
    the inverse energy-delay product for (tokens/s up, joules per token down), an
    area-delay product for two costs. In log space it is the unweighted sum of the
    objectives' logs, so no unit or range of the candidates sets a weight (a normalised
    sum or a hypervolume changes when one far candidate is added), and it is one number,
    so "the best design" has a meaning. In
    ``u`` (minimised; a maximised objective negated) a column is ``log u`` when positive,
    ``-log(-u)`` when negative: both rise with ``u``, so the merit's best row is on the
    predicted Pareto front.

    Why no sampling: the calibrated model's error is about the same share of every
    prediction (a log-normal spread, ``SIGMA`` per objective), so in log space every
    candidate's merit is its prediction plus the same noise. The expected improvement over
    the best build so far, and the chance of being the best as measured, then both rise
    with the predicted merit alone: the rows in that order are the Bayes choice under the
    model as prior, with no radius (``diversity`` is not used) and whatever ``built`` is.
    After each round the sweep recalibrates, and the next round ranks again.

    Where an objective is zero or changes sign among the rows (no logarithm), the round
    falls back to :func:`expected_gain`.
    """
    if len(u) == 0 or want <= 0:
        return []
    layers = layers if layers is not None else layers_of(u, want * 50)
    rows = np.concatenate(layers) if layers else np.arange(len(u))
    v = u[rows]
    pos, neg = (v > 0).all(axis=0), (v < 0).all(axis=0)
    if not (pos | neg).all():
        return expected_gain(u, built, want, diversity, keys, taken_specs, taken_hw, layers=layers)
    # Higher is better: minus the log-space merit of the minimised columns.
    score = -(np.log(np.abs(v)) * np.where(pos, 1.0, -1.0)).sum(axis=1)
    chosen: list[int] = []
    skip: set[int] = set()
    for new_hw in (True, False):
        while len(chosen) < want:
            pick = _best(rows, score, keys, taken_specs, taken_hw, new_hw, chosen, skip)
            if pick is None:
                break
            chosen.append(pick)
    return chosen


POLICIES: dict[str, Choose] = {"merit": merit, "spread": spread, "ehvi": expected_gain}
DEFAULT = "merit"


def policy(name: str, source: str = "build") -> Choose:
    """The policy called ``name``; a ConfigError naming ``source`` (the study file) and
    ``build.choice`` for anything else."""
    if not isinstance(name, str) or name not in POLICIES:
        raise ConfigError(
            source,
            "build.choice",
            f"expected one of {', '.join(POLICIES)}, got {name!r}",
            hint=did_you_mean(str(name), list(POLICIES)),
        )
    return POLICIES[name]


def layers_of(u: np.ndarray, limit: int) -> list[np.ndarray]:
    """Row indices of ``u`` (minimise all) by Pareto layer, each in crowding order, until
    at least ``limit`` rows are listed."""
    out: list[np.ndarray] = []
    remaining = np.arange(len(u))
    taken = 0
    directions = ["minimize"] * u.shape[1]
    while len(remaining) and taken < limit:
        mask = pareto_mask(u[remaining], directions)
        layer = remaining[mask]
        out.append(layer[np.argsort(-_crowding(u[layer]), kind="stable")])
        taken += len(layer)
        remaining = remaining[~mask]
    return out


def _crowding(v: np.ndarray) -> np.ndarray:
    n, m = v.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(v[:, k], kind="stable")
        span = v[order[-1], k] - v[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (v[order[2:], k] - v[order[:-2], k]) / span
    return dist
