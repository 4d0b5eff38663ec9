"""Fronts for the vectorised search: exact domination queries, fronts in objective order,
crowding distance (all objectives minimised).

With two objectives every set the search keeps (archive, parent pool) is held in order of
the first objective, so a front is a staircase: a row ``x`` is dominated iff some kept row
with ``f0 <= x0`` has ``f1 < x1`` or one with ``f0 < x0`` has ``f1 <= x1``. A binary search
per query row answers that exactly but costs ~50 ns a row (branch misses over the whole
batch), so :class:`Stairs` first looks each row up in a bucket table over ``f0`` — one
multiply and two gathers — and only rows the table cannot settle go to the binary search.
More objectives: no pre-filter (every row is reported undominated) and ``pareto_mask``.
"""

from __future__ import annotations

import numpy as np

from dse.pareto import pareto_mask


class Stairs:
    """Domination queries against a fixed set ``s`` of rows (minimised objectives).

    ``presorted``: ``s`` is already in order of its first objective (no sort here)."""

    def __init__(self, s: np.ndarray, presorted: bool = False) -> None:
        self.two = s.ndim == 2 and s.shape[1] == 2 and len(s) > 0
        self.below: np.ndarray | None = None
        if not self.two:
            return
        if not presorted:
            s = s[np.lexsort((s[:, 1], s[:, 0]))]
        self.f0 = np.ascontiguousarray(s[:, 0])
        self.low1 = np.minimum.accumulate(s[:, 1])  # the staircase: best f1 up to each row
        lo, hi = float(self.f0[0]), float(self.f0[-1])
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            # Buckets over f0, numbered by one monotone formula (``_bucket``) for the set
            # and for queries alike, so a set row in a lower bucket than a query has a
            # smaller f0, and one in a higher bucket a larger f0, whatever the rounding.
            # below[b]: the best f1 among set rows in buckets < b. A query in bucket b with
            # below[b] <= x1 is dominated; one with x1 < below[b + 1] is not; only rows
            # between the two need the rows of their own bucket. When those share one f0
            # (often: one row, or many genomes that score alike), the best of them has
            # f1 = below[b + 1] and is compared directly; other rows go to the binary
            # search.
            self.nb = 4 * len(s) + 16
            self.lo, self.scale = lo, self.nb / (hi - lo)
            count = np.bincount(self._bucket(self.f0), minlength=self.nb)
            ends = np.cumsum(count)
            self.below = np.full(self.nb + 1, np.nan)  # no rows: never <=, never >
            filled = ends > 0
            self.below[1:][filled] = self.low1[ends[filled] - 1]
            self.above = self.below[1:]  # above[b] = below[b + 1]
            self.p0 = self.f0[np.minimum(ends - count, len(s) - 1)]  # a bucket's first f0
            # buckets whose rows (at least one) all have the same f0
            self.flat = (count > 0) & (self.p0 == self.f0[np.maximum(ends - 1, 0)])

    def _bucket(self, x0: np.ndarray) -> np.ndarray:
        t = x0 - self.lo
        t *= self.scale
        # Clipped into the table; NaN goes last, as the binary search places it.
        np.fmin(t, self.nb - 1, out=t)
        np.fmax(t, 0.0, out=t)
        return t.astype(np.intp)

    def dominated(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x`` that some row of the set dominates (exact)."""
        if not self.two or len(x) == 0:
            return np.zeros(len(x), dtype=bool)
        if self.below is None:
            return self._search(x)
        x1 = x[:, 1]
        b = self._bucket(x[:, 0])
        out = self.below[b] <= x1
        unsure = np.flatnonzero(~(out | (x1 < self.above[b])))  # NaN x1 too
        if len(unsure):
            b, x = b[unsure], x[unsure]
            p0, p1, x0, x1 = self.p0[b], self.above[b], x[:, 0], x[:, 1]
            got = (p0 <= x0) & (p1 <= x1) & ((p0 < x0) | (p1 < x1))
            many = np.flatnonzero(~self.flat[b])
            got[many] = self._search(x[many])
            out[unsure] = got
        return out

    def _search(self, x: np.ndarray) -> np.ndarray:
        f0, low1 = self.f0, self.low1
        le = np.searchsorted(f0, x[:, 0], side="right") - 1  # last row with f0 <= x0
        lt = le.copy()  # last row with f0 < x0: the same unless some row ties x0 (rare)
        tie = np.flatnonzero((le >= 0) & (f0[np.maximum(le, 0)] == x[:, 0]))
        lt[tie] = np.searchsorted(f0, x[tie, 0], side="left") - 1
        below = (lt >= 0) & (low1[np.maximum(lt, 0)] <= x[:, 1])
        level = (le >= 0) & (low1[np.maximum(le, 0)] < x[:, 1])
        return below | level


def dominated_by(s: np.ndarray, x: np.ndarray, presorted: bool = False) -> np.ndarray:
    """Rows of ``x`` that some row of ``s`` dominates; two objectives only (otherwise none
    are reported: a caller's pre-filter, never required)."""
    return Stairs(s, presorted).dominated(x)


def front_order(f: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``f`` (identical rows all kept, NaN rows never):
    two objectives in order of the first (then the second), else in row order."""
    if f.shape[1] != 2:
        return np.flatnonzero(pareto_mask(f, ["minimize"] * f.shape[1]))
    ok = np.flatnonzero(~np.isnan(f).any(axis=1))
    # complex numbers sort by real part, then imaginary: one sort for the (f0, f1) order
    order = ok[np.argsort(f[ok, 0] + 1j * f[ok, 1])]
    x, y = f[order, 0], f[order, 1]
    if len(order) == 0:
        return order
    # Sorted by (x, y): a row is on the front iff its y equals the first y of its x group
    # and is below every y at a smaller x.
    start = np.concatenate([[True], x[1:] != x[:-1]])
    group = np.cumsum(start) - 1
    first_y = y[start]
    before = np.concatenate([[np.inf], np.minimum.accumulate(first_y)[:-1]])
    on = (y == first_y[group]) & (y < before[group])
    return order[on]


def crowding(f: np.ndarray, front_2d: bool = False) -> np.ndarray:
    """Crowding distance per row (normalised objectives); the ends count as the widest gap.

    ``front_2d``: ``f`` is a two-objective front sorted by its first objective, so the
    second runs the other way and no sort is needed."""
    n, k = f.shape
    if n <= 2:
        return np.ones(n)
    # per column: a reduction along axis 0 of a (n, 2) array walks it row by row
    lo = np.array([f[:, j].min() for j in range(k)])
    span = np.array([f[:, j].max() for j in range(k)]) - lo
    span[span == 0] = 1.0
    d = np.zeros(n)
    for j in range(k):
        u = (f[:, j] - lo[j]) / span[j]
        if front_2d:  # neighbours in row order (the second objective runs backwards)
            d[1:-1] += np.abs(u[2:] - u[:-2])
            d[0] = d[-1] = np.inf
            continue
        order = np.argsort(u, kind="stable")
        s = u[order]
        gap = np.empty(n)
        gap[1:-1] = s[2:] - s[:-2]
        gap[0] = gap[-1] = np.inf
        d[order] += gap
    finite = d[np.isfinite(d)]
    top = 2.0 * finite.max() if len(finite) and finite.max() > 0 else 1.0
    d[~np.isfinite(d)] = top
    return d + max(float(d.mean()), 1e-12) * 0.1
