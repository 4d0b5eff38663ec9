"""Pareto fronts and hypervolume for 2 and 3 objectives, exact and vectorised.

Every function takes objective values as an ``(n, k)`` array plus one direction per column
(``"minimize"`` / ``"maximize"``); internally everything is turned into minimisation by
negating the maximised columns.

Dominance is the usual one: *a* dominates *b* when *a* is no worse in every objective and
strictly better in at least one. Identical points do not dominate each other, so duplicates
of a front point are all on the front.

.. code-block:: python

    vals = df[["decode_tokens_per_s", "power_w"]].to_numpy()
    dirs = ["maximize", "minimize"]
    front = pareto_mask(vals, dirs)
    ref = reference_point(vals, dirs)
    hv = hypervolume(vals, dirs, ref)
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

__all__ = ["DIRECTIONS", "hypervolume", "pareto_mask", "reference_point", "to_minimize"]

DIRECTIONS = ("minimize", "maximize")

# Below this many points per block, brute-force pairwise comparison beats another sort.
_BLOCK = 32


def _signs(directions: Sequence[str], k: int) -> np.ndarray:
    dirs = [str(getattr(d, "name", d)).lower() for d in directions]
    if len(dirs) != k:
        raise ValueError(f"got {len(dirs)} directions for {k} objective columns")
    bad = [d for d in dirs if d not in DIRECTIONS]
    if bad:
        raise ValueError(f"direction {bad[0]!r}: expected 'minimize' or 'maximize'")
    return np.array([1.0 if d == "minimize" else -1.0 for d in dirs])


def to_minimize(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """``values`` as a float ``(n, k)`` array in which smaller is better in every column."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected an (n, k) array of objective values, got shape {v.shape}")
    return v * _signs(directions, v.shape[1])


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values``.

    Rows containing NaN are never on the front and never dominate anything. Runs in
    O(n log n) for 1-2 objectives and O(n log² n) for 3 (vectorised divide and conquer);
    more objectives fall back to a chunked pairwise filter.
    """
    v = to_minimize(values, directions)
    n, k = v.shape
    mask = np.zeros(n, dtype=bool)
    ok = ~np.isnan(v).any(axis=1)
    if not ok.any():
        return mask
    rows = np.flatnonzero(ok)
    if k == 1:
        mask[rows] = v[rows, 0] == v[rows, 0].min()
        return mask
    if k == 2:
        mask[rows] = _front_2d(v[rows])
        return mask
    rows = rows[_prefilter(v[rows])]
    # Dominance only compares values, so per-column ranks stand in for them exactly; and
    # duplicates cannot dominate each other: work on distinct rows and map back.
    uniq, inverse = _distinct_ranks(v[rows])
    front = _front_3d(uniq) if k == 3 else _front_nd(uniq)
    mask[rows] = front[inverse]
    return mask


def _prefilter(v: np.ndarray, n_probe: int = 16) -> np.ndarray:
    """Cheap first pass: drop rows dominated by one of a few probably-good rows (those with
    the smallest sum of range-normalised objectives). Exact: it only removes rows that are
    really dominated; what survives goes to the full algorithm."""
    if len(v) <= 4 * n_probe:
        return np.ones(len(v), dtype=bool)
    lo, hi = v.min(axis=0), v.max(axis=0)
    score = ((v - lo) / np.where(hi > lo, hi - lo, 1.0)).sum(axis=1)
    probes = v[np.argpartition(score, n_probe)[:n_probe]]
    cols = [v[:, c] for c in range(v.shape[1])]
    alive = np.ones(len(v), dtype=bool)
    for p in probes:
        ge = alive.copy()
        gt = np.zeros(len(v), dtype=bool)
        for c, col in enumerate(cols):
            ge &= col >= p[c]
            gt |= col > p[c]
        alive &= ~(ge & gt)
    return alive


def _dominated_by(rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each row, whether some row of ``others`` dominates it (minimisation)."""
    le = np.all(others[None, :, :] <= rows[:, None, :], axis=2)
    lt = np.any(others[None, :, :] < rows[:, None, :], axis=2)
    return np.asarray(np.any(le & lt, axis=1))


def _distinct_ranks(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``v`` as per-column dense ranks, in lexicographic order, and the
    index of each input row among them."""
    ranks = np.empty(v.shape, dtype=np.int64)
    sizes = []
    for c in range(v.shape[1]):
        _, r = np.unique(v[:, c], return_inverse=True)
        ranks[:, c] = r.reshape(-1)
        sizes.append(int(ranks[:, c].max()) + 1)
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        # Pack the ranks into one int64 key: one integer sort instead of a row sort.
        key = np.zeros(len(v), dtype=np.int64)
        for c, size in enumerate(sizes):
            key = key * size + ranks[:, c]
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return ranks[first], inverse.reshape(-1)
    uniq, inverse = np.unique(ranks, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)


def _front_2d(v: np.ndarray) -> np.ndarray:
    """A sweep over x. A row is on the front iff its y is the smallest among rows with the
    same x (ties included: duplicates stay) and smaller than every y at a smaller x."""
    order = np.argsort(v[:, 0], kind="stable")
    x, y = v[order, 0], v[order, 1]
    starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
    group_min = np.minimum.reduceat(y, starts)
    before = np.minimum.accumulate(np.concatenate([[np.inf], group_min[:-1]]))
    sizes = np.diff(np.append(starts, len(x)))
    on = (y == np.repeat(group_min, sizes)) & (y < np.repeat(before, sizes))
    out = np.empty(len(v), dtype=bool)
    out[order] = on
    return out


def _front_3d(u: np.ndarray) -> np.ndarray:
    """Distinct rows in lexicographic order; row i is dominated iff an earlier row j has
    ``y_j <= y_i and z_j <= z_i``. Answered for all rows at once, level by level of a
    divide-and-conquer over positions: at each level every right half-block asks its left
    half-block "what is the smallest z among you with y <= mine?" (one sort + a segmented
    running minimum over the whole array). Together the levels cover every pair j < i once.
    """
    n = len(u)
    y, z = u[:, 1], u[:, 2]
    dominated = np.zeros(n, dtype=bool)
    pos = np.arange(n)
    big = np.int64(max(n, int(y.max()) + 1, int(z.max()) + 1) + 2)  # above every rank
    # Smallest blocks: brute force inside aligned blocks of _BLOCK rows.
    m = -(-n // _BLOCK) * _BLOCK
    yp = np.concatenate([y, np.full(m - n, big - 1)]).reshape(-1, _BLOCK)
    zp = np.concatenate([z, np.full(m - n, big - 1)]).reshape(-1, _BLOCK)
    earlier = np.tri(_BLOCK, _BLOCK, -1, dtype=bool)  # [i, j]: j < i
    for lo in range(0, len(yp), 4096):  # bounded memory: 4096·32·32 booleans per step
        yb, zb = yp[lo : lo + 4096], zp[lo : lo + 4096]
        dom = (yb[:, None, :] <= yb[:, :, None]) & (zb[:, None, :] <= zb[:, :, None]) & earlier
        dominated[lo * _BLOCK : (lo + len(yb)) * _BLOCK] |= dom.any(axis=2).reshape(-1)[
            : max(0, n - lo * _BLOCK)
        ]
    half = _BLOCK
    while half < n:
        block = pos // (2 * half)
        right = (pos // half) % 2 == 1
        # Left rows sort before right rows of equal y, so "y_j <= y_i" is included.
        order = np.argsort(block * (2 * big) + y * 2 + right, kind="stable")
        zval = np.where(right, big - 1, z)[order]
        # Segmented running minimum: later blocks are shifted down so that earlier blocks
        # can never win the minimum (values stay exact integers).
        shift = block[order] * big
        run = np.minimum.accumulate(zval - shift) + shift
        r = right[order]
        hit = run[r] <= z[order][r]
        dominated[order[r][hit]] = True
        half *= 2
    return ~dominated


def _front_nd(u: np.ndarray) -> np.ndarray:
    """Chunked pairwise filter for k > 3 (rare here; O(n · front) comparisons)."""
    order = np.argsort(u.sum(axis=1), kind="stable")
    front: list[int] = []
    keep = np.zeros(len(u), dtype=bool)
    for lo in range(0, len(u), 1024):
        idx = order[lo : lo + 1024]
        cand = u[idx]
        alive = np.ones(len(idx), dtype=bool)
        if front:
            alive &= ~_dominated_by(cand, u[front])
        alive &= ~_dominated_by(cand, cand)
        # Rows of later chunks have larger or equal sums, so they cannot dominate these.
        front.extend(idx[alive].tolist())
    keep[front] = True
    return keep


def reference_point(
    values: np.ndarray, directions: Sequence[str], margin: float = 0.1
) -> np.ndarray:
    """The hypervolume reference point: the front's nadir pushed out by a margin.

    Rule: take the Pareto front of ``values`` (pass the feasible points); per objective,
    the reference is the front's worst value plus ``margin`` × the front's range
    (worst - best) in the worsening direction. When an objective has zero range on the
    front, ``margin`` × max(|worst|, 1) is used instead. Returned in the original units
    (maximised objectives come back as their value, not negated).

    Using the front's nadir rather than the worst point of the whole set keeps the measure
    about the trade-off region: a space full of very poor points would otherwise make any
    search look close to 100 %.
    """
    signs = _signs(directions, np.asarray(values).shape[1])
    v = to_minimize(values, directions)
    front = v[pareto_mask(values, directions)]
    if len(front) == 0:
        raise ValueError("no finite objective values to place a reference point from")
    best, worst = front.min(axis=0), front.max(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return np.asarray((worst + margin * span) * signs)


def hypervolume(
    values: np.ndarray, directions: Sequence[str], reference: Sequence[float] | np.ndarray
) -> float:
    """Exact hypervolume dominated by ``values`` and bounded by ``reference``.

    Points that are not strictly better than the reference in every objective add
    nothing. Exact for 1, 2 and 3 objectives (O(n log n) for 2, O(front²) worst case for 3
    after the vectorised Pareto filter).
    """
    v = to_minimize(values, directions)
    k = v.shape[1]
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ref.shape != (k,):
        raise ValueError(f"reference point has {ref.size} values for {k} objectives")
    ref = ref * _signs(directions, k)
    v = v[(~np.isnan(v).any(axis=1)) & (v < ref).all(axis=1)]
    if len(v) == 0:
        return 0.0
    dirs = ["minimize"] * k
    v = np.unique(v[pareto_mask(v, dirs)], axis=0)  # sorted by the first objective
    if k == 1:
        return float(ref[0] - v[:, 0].min())
    if k == 2:
        return _hv_2d(v, ref)
    if k == 3:
        return _hv_3d(v, ref)
    raise ValueError(f"hypervolume is implemented for 1-3 objectives, got {k}")


def _hv_2d(front: np.ndarray, ref: np.ndarray) -> float:
    """Front sorted by x ascending (so y descending): a sum of rectangles."""
    x, y = front[:, 0], front[:, 1]
    widths = np.append(x[1:], ref[0]) - x
    return float(np.sum(widths * (ref[1] - y)))


def _hv_3d(front: np.ndarray, ref: np.ndarray) -> float:
    """Sweep over x: between consecutive x values the dominated (y, z) area is constant;
    keep that area up to date with a staircase that gains one point per step."""
    ys: list[float] = []  # staircase y values, ascending
    negz: list[float] = []  # -z for the same points, ascending (z descends along y)
    area = 0.0
    volume = 0.0
    ry, rz = float(ref[1]), float(ref[2])
    xcol = front[:, 0].tolist()
    ycol = front[:, 1].tolist()
    zcol = front[:, 2].tolist()
    n = len(xcol)
    for i in range(n):
        a, b = ycol[i], zcol[i]
        idx = bisect.bisect_left(ys, a)
        dominated = (idx > 0 and -negz[idx - 1] <= b) or (
            idx < len(ys) and ys[idx] == a and -negz[idx] <= b
        )
        if not dominated:
            # Points from idx on with z >= b are covered by the new one.
            end = bisect.bisect_right(negz, -b, lo=idx)
            nxt = ys[end] if end < len(ys) else ry
            height_before = rz - (-negz[idx - 1]) if idx > 0 else 0.0
            old = 0.0
            left = a
            h = height_before
            for j in range(idx, end):
                old += (ys[j] - left) * h
                left, h = ys[j], rz - (-negz[j])
            old += (nxt - left) * h
            area += (nxt - a) * (rz - b) - old
            ys[idx:end] = [a]
            negz[idx:end] = [-b]
        x_next = xcol[i + 1] if i + 1 < n else float(ref[0])
        volume += area * (x_next - xcol[i])
    return float(volume)
