"""What a 2-D Pareto plot draws as markers and what as a density image.

The rule: while the trials that are neither on the front nor built number at most
``POINTS_LIMIT``, every trial is a marker. Above that, the front and the built trials stay
markers (exact positions, hover, click-to-design) and the others become a density image:
trials per cell of a ``BINS`` x ``BINS`` grid over their range (log-spaced on a log axis),
feasible and infeasible counted apart. The browser then draws a few hundred markers and
two small images whatever the study's size, instead of one SVG or WebGL marker per trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

POINTS_LIMIT = 4000  # trials drawn as markers besides the front and the built ones
BINS = 120  # density cells per axis


@dataclass(frozen=True)
class Density:
    """Trial counts per cell: ``feasible`` and ``infeasible`` are (len(y_edges) - 1,
    len(x_edges) - 1) arrays, row = y bin; ``counted`` trials fell in a cell, ``dropped``
    could not be placed (a non-finite value, or not positive on a log axis)."""

    x_edges: np.ndarray
    y_edges: np.ndarray
    feasible: np.ndarray
    infeasible: np.ndarray
    counted: int
    dropped: int


def _edges(col: np.ndarray, log: bool, bins: int) -> np.ndarray:
    lo, hi = (float(col.min()), float(col.max())) if col.size else (1.0, 10.0)
    if log:
        lo, hi = np.log10(lo), np.log10(hi)
    if not hi > lo:  # one value: a cell around it
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    edges = np.linspace(lo, hi, bins + 1)
    return np.power(10.0, edges) if log else edges


def _cell(col: np.ndarray, edges: np.ndarray, log: bool) -> np.ndarray:
    lo, hi = (np.log10(edges[0]), np.log10(edges[-1])) if log else (edges[0], edges[-1])
    v = np.log10(col) if log else col
    bins = len(edges) - 1
    return np.clip(((v - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)


def density(
    values: np.ndarray, feasible: np.ndarray, log: Sequence[bool] = (False, False), bins: int = BINS
) -> Density:
    """Count the (n, 2) ``values`` per grid cell, feasible (``feasible`` True) and not."""
    ok = np.isfinite(values).all(axis=1)
    for k in range(2):
        if log[k]:
            ok &= values[:, k] > 0
    v, f = values[ok], np.asarray(feasible, dtype=bool)[ok]
    xe = _edges(v[:, 0], log[0], bins)
    ye = _edges(v[:, 1], log[1], bins)
    cell = _cell(v[:, 1], ye, log[1]) * bins + _cell(v[:, 0], xe, log[0])
    counts = [np.bincount(cell[sel], minlength=bins * bins).reshape(bins, bins) for sel in (f, ~f)]
    return Density(xe, ye, counts[0], counts[1], int(ok.sum()), int((~ok).sum()))


def split(
    values: np.ndarray,
    feasible: np.ndarray,
    keep: np.ndarray,
    log: Sequence[bool] = (False, False),
    limit: int | None = None,
) -> tuple[np.ndarray, Density | None]:
    """(rows drawn as markers, density of the others or None) for a 2-D plot of ``values``.

    ``keep`` marks the rows that are always markers (front, built trials); the density is
    only made when more than ``limit`` (default ``POINTS_LIMIT``) other rows would be drawn.
    Rows that cannot be drawn (non-finite, or not positive on a log axis) are no marker; the
    density counts them as ``dropped``.
    """
    drawable = np.isfinite(values).all(axis=1)
    for k in range(2):
        if log[k]:
            drawable &= values[:, k] > 0
    if int((drawable & ~keep).sum()) <= (POINTS_LIMIT if limit is None else limit):
        return drawable | keep, None
    return keep.copy(), density(values[~keep], np.asarray(feasible, bool)[~keep], log)
