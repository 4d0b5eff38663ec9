"""Fronts for the vectorised search: exact domination queries, fronts in objective order,
crowding distance (all objectives minimised).

With two objectives every set the search keeps (archive, parent pool) is held in order of
the first objective, so a front is a staircase: a row ``x`` is dominated iff some kept row
with ``f0 <= x0`` has ``f1 < x1`` or one with ``f0 < x0`` has ``f1 <= x1``. A binary search
per query row answers that exactly but costs ~30 ns a row (branch misses over the whole
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
        self.edges: np.ndarray | None = None
        if not self.two:
            return
        if not presorted:
            s = s[np.lexsort((s[:, 1], s[:, 0]))]
        self.f0 = np.ascontiguousarray(s[:, 0])
        self.low1 = np.minimum.accumulate(s[:, 1])  # the staircase: best f1 up to each row
        lo, hi = float(self.f0[0]), float(self.f0[-1])
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            # Bucket b is [edges[b], edges[b + 1]); below[b] is the best f1 among rows
            # with f0 <= edges[b]. A row with edges[b] <= x0 and below[b] < x1 is
            # dominated (by that row: f0 no worse, f1 strictly better); one with
            # x0 < edges[b + 1] and x1 < below[b + 1] is not (every row with f0 <= x0 has
            # a larger f1) -- whatever b was computed as, so rounding cannot err.
            nb = 2 * len(s) + 16
            self.lo, self.scale = lo, nb / (hi - lo)
            edges = lo + np.arange(nb + 1) * ((hi - lo) / nb)
            edges[-1] = np.inf
            count = np.searchsorted(self.f0, edges, side="right")
            below = np.where(count > 0, self.low1[np.maximum(count - 1, 0)], np.inf)
            self.edges, self.next_edges = edges[:-1], edges[1:]
            self.below, self.above = below[:-1], below[1:]

    def dominated(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x`` that some row of the set dominates (exact)."""
        if not self.two or len(x) == 0:
            return np.zeros(len(x), dtype=bool)
        if self.edges is None:
            return self._search(x)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf rows: settled below
            b = ((x[:, 0] - self.lo) * self.scale).astype(np.intp)
        np.clip(b, 0, len(self.edges) - 1, out=b)
        x0, x1 = x[:, 0], x[:, 1]
        out = (self.below[b] < x1) & (self.edges[b] <= x0)
        clear = (x1 < self.above[b]) & (x0 < self.next_edges[b])
        rest = np.flatnonzero(~(out | clear))
        out[rest] = self._search(x[rest])
        return out

    def _search(self, x: np.ndarray) -> np.ndarray:
        f0, low1 = self.f0, self.low1
        le = np.searchsorted(f0, x[:, 0], side="right") - 1  # last row with f0 <= x0
        lt = le.copy()  # last row with f0 < x0: the same unless some row ties x0 (rare)
        tie = np.flatnonzero((le >= 0) & (f0[np.maximum(le, 0)] == x[:, 0]))
        lt[tie] = np.searchsorted(f0, x[tie, 0], side="left") - 1
        below = np.where(lt >= 0, low1[np.maximum(lt, 0)], np.inf) <= x[:, 1]
        level = np.where(le >= 0, low1[np.maximum(le, 0)], np.inf) < x[:, 1]
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
    lo = f.min(axis=0)
    span = f.max(axis=0) - lo
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
