"""A vectorised multi-objective evolutionary search over integer genomes (ask / tell).

One generation is one :meth:`VectorSearch.ask` of ``batch`` offspring and one
:meth:`VectorSearch.tell` of their scores; everything is numpy over the whole batch, so the
search costs a small fraction of the cost model it drives. It knows nothing of builds,
storage or Optuna: a driver asks, scores (:class:`dse.search.Scorer`), tells, and persists
:attr:`archive_g` when it wants.

- **Archive**: every feasible non-dominated point seen (exact Pareto merge of the archive
  and each batch), capped at ``archive_cap`` rows by dropping objective-value ties.
- **Parents**: half from the archive, weighted by crowding distance (sparse regions of the
  front get more children, so the ends are reached), half from an elite pool of the
  next few non-dominated layers (diversity near the front). Before anything feasible is
  known, the pool holds the least-violating points (constraint-domination's rule).
- **Variation**: uniform crossover with a second parent (probability ``crossover``), then
  mutation of each gene with probability 1/genes, at least one gene per child: ordered
  parameters step ±1 (sometimes further), categoricals and 10 % of steps redraw uniformly.
  A share ``immigrants`` of each batch is uniformly random (global exploration).
- **Duplicates**: repeats within a batch are dropped, and so are points hashed into a
  direct-mapped table of recent evaluations (2^22 slots; an old entry is overwritten, so a
  point may occasionally be scored twice but never wrongly skipped).
- **Determinism**: one ``numpy`` generator seeded by the caller; same seed and same
  number of generations give the same archive.
"""

from __future__ import annotations

import numpy as np

from dse.pareto import pareto_mask
from dse.search._codec import Codec


class VectorSearch:
    """Batch NSGA-style search: ``ask() -> genomes``, ``tell(genomes, f, cv)``."""

    def __init__(
        self,
        codec: Codec,
        n_obj: int,
        seed: int,
        *,
        batch: int = 16384,
        immigrants: float = 0.05,
        crossover: float = 0.5,
        pool: int = 1024,
        archive_cap: int = 4096,
        cache_bits: int = 22,
    ) -> None:
        self.codec, self.k, self.batch = codec, n_obj, batch
        self.immigrants, self.crossover = immigrants, crossover
        self.pool_size, self.archive_cap = pool, archive_cap
        self.rng = np.random.default_rng(seed)
        self.archive_g = np.empty((0, codec.dims), dtype=np.int32)
        self.archive_f = np.empty((0, n_obj))
        self.cdf = np.empty(0)
        self.pool_g = np.empty((0, codec.dims), dtype=np.int32)
        self.pool_f = np.empty((0, n_obj))
        self.pool_cv = np.empty(0)
        self.cache = np.zeros(1 << cache_bits, dtype=np.uint64)
        self.claim = np.zeros(1 << cache_bits, dtype=np.int32)
        self.mask = np.uint64((1 << cache_bits) - 1)
        self.proposed = self.duplicates = self.evaluated = self.generations = 0

    # -- ask -----------------------------------------------------------------------------

    def ask(self) -> np.ndarray:
        """Up to ``batch`` new genomes (fewer when variation produced repeats)."""
        rng, n = self.rng, self.batch
        if len(self.archive_g) == 0 and len(self.pool_g) == 0:
            g = self.codec.random(rng, n)
        else:
            n_imm = int(n * self.immigrants)
            g = np.vstack([self._offspring(n - n_imm), self.codec.random(rng, n_imm)])
        self.proposed += len(g)
        g = self._unseen(g)
        self.duplicates += self.batch - len(g)
        return g

    def _parents(self, n: int) -> np.ndarray:
        rng = self.rng
        na, npool = len(self.archive_g), len(self.pool_g)
        from_archive = rng.random(n) < (0.5 if npool else 1.0) if na else np.zeros(n, bool)
        out = np.empty((n, self.codec.dims), dtype=np.int32)
        k = int(from_archive.sum())
        if k:  # crowding-weighted draw: inverse CDF of the weights
            pick = np.searchsorted(self.cdf, rng.random(k) * self.cdf[-1], side="right")
            out[from_archive] = self.archive_g[np.minimum(pick, na - 1)]
        if n - k:
            out[~from_archive] = self.pool_g[rng.integers(0, npool, n - k)]
        return out

    def _offspring(self, n: int) -> np.ndarray:
        rng, codec = self.rng, self.codec
        d, sizes = codec.dims, codec.sizes
        child = self._parents(n)
        rows = np.flatnonzero(rng.random(n) < self.crossover)
        if len(rows):
            mate = self._parents(len(rows))
            take = rng.random((len(rows), d)) < 0.5
            child[rows] = np.where(take, mate, child[rows])
        # Mutation touches ~2 genes per child: work on those cells only. One uniform per
        # cell decides mutate-or-not; rescaled, the same draw gives direction, step size,
        # redraw-or-step and the redrawn value (independent digits of one number).
        u = rng.random((n, d))
        mut = u < 1.0 / d
        mut[np.arange(n), rng.integers(0, d, n)] = True
        r, c = np.nonzero(mut & (child >= 0))
        v = (u[r, c] * d) % 1.0 if len(r) else np.empty(0)
        v = np.where(u[r, c] < 1.0 / d, v, rng.random(len(r)))  # forced cells: fresh draw
        step = np.where(v < 0.5, -1, 1) * (1 + ((v * 2) % 1.0 < 0.3) + ((v * 2) % 1.0 < 0.09))
        w = (v * 16) % 1.0
        stepped = np.clip(child[r, c] + step, 0, sizes[c] - 1)
        redraw = ~codec.ordered[c] | (w < 0.1)
        uniform = ((v * 256) % 1.0 * sizes[c]).astype(np.int32)
        child[r, c] = np.where(redraw, uniform, stepped)
        return codec.activate(child, rng)

    def _unseen(self, g: np.ndarray) -> np.ndarray:
        # No sort: each row claims its hash slot in a scratch table (the last writer wins);
        # a row that lost its slot to an identical row is a repeat within the batch.
        keys = self.codec.keys(g)
        slot = (keys & self.mask).astype(np.int64)
        rows = np.arange(len(g), dtype=np.int32)
        self.claim[slot] = rows
        winner = self.claim[slot]
        first = (winner == rows) | (keys[winner] != keys)
        new = first & (self.cache[slot] != keys)
        self.cache[slot[new]] = keys[new]
        return g[new]

    def remember(self, g: np.ndarray) -> None:
        """Mark points as evaluated (e.g. loaded from storage) so they are not asked."""
        self._unseen(g)

    # -- tell ----------------------------------------------------------------------------

    def tell(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        """Scores of asked genomes: minimised objectives ``(n, k)``, violation ``(n,)``."""
        self.evaluated += len(g)
        self.generations += 1
        good = cv <= 0
        if good.any():
            self._merge(g[good], f[good])
        if len(self.archive_g) or good.any():
            self._pool_feasible(g[good], f[good])
        else:
            self._pool_least_violating(g, f, cv)

    def seed(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        """Start from known points (a resumed study) without counting them as evaluated."""
        self.remember(g)
        good = cv <= 0
        if good.any():
            self._merge(g[good], f[good])
            self._pool_feasible(g[good], f[good])
        elif len(g):
            self._pool_least_violating(g, f, cv)

    def _merge(self, g: np.ndarray, f: np.ndarray) -> None:
        cand_g = np.vstack([self.archive_g, g])
        cand_f = np.vstack([self.archive_f, f])
        keep = pareto_mask(cand_f, ["minimize"] * self.k)
        cand_g, cand_f = cand_g[keep], cand_f[keep]
        weights = _crowding(cand_f)
        if len(cand_g) > self.archive_cap:  # thin the most crowded points (ends stay)
            idx = np.sort(np.argsort(-weights, kind="stable")[: self.archive_cap])
            cand_g, cand_f, weights = cand_g[idx], cand_f[idx], weights[idx]
        self.archive_g, self.archive_f = cand_g, cand_f
        self.cdf = np.cumsum(weights)

    def _pool_feasible(self, g: np.ndarray, f: np.ndarray) -> None:
        # The next few non-dominated layers of (pool + new feasible points).
        cand_g = np.vstack([self.pool_g, g]) if len(self.pool_cv) else g
        cand_f = np.vstack([self.pool_f, f]) if len(self.pool_cv) else f
        if len(self.pool_cv) and np.any(self.pool_cv > 0):  # leaving the infeasible phase
            ok = np.concatenate([self.pool_cv <= 0, np.ones(len(g), bool)])
            cand_g, cand_f = cand_g[ok], cand_f[ok]
        chosen = np.zeros(len(cand_g), dtype=bool)
        left = np.arange(len(cand_g))
        for _ in range(4):
            if len(left) == 0 or chosen.sum() >= self.pool_size:
                break
            layer = pareto_mask(cand_f[left], ["minimize"] * self.k)
            chosen[left[layer]] = True
            left = left[~layer]
        idx = np.flatnonzero(chosen)
        if len(idx) > self.pool_size:
            idx = np.sort(self.rng.choice(idx, self.pool_size, replace=False))
        self.pool_g, self.pool_f = cand_g[idx], cand_f[idx]
        self.pool_cv = np.zeros(len(idx))

    def _pool_least_violating(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        cand_g = np.vstack([self.pool_g, g])
        cand_f = np.vstack([self.pool_f, f])
        cand_cv = np.concatenate([self.pool_cv, cv])
        finite = np.flatnonzero(np.isfinite(cand_cv))
        idx = finite[np.argsort(cand_cv[finite], kind="stable")[: self.pool_size]]
        self.pool_g, self.pool_f, self.pool_cv = cand_g[idx], cand_f[idx], cand_cv[idx]


def _crowding(f: np.ndarray) -> np.ndarray:
    """Crowding distance per row (normalised objectives); the ends count as the widest gap."""
    n, k = f.shape
    if n <= 2:
        return np.ones(n)
    span = f.max(axis=0) - f.min(axis=0)
    span[span == 0] = 1.0
    u = (f - f.min(axis=0)) / span
    d = np.zeros(n)
    for j in range(k):
        order = np.argsort(u[:, j], kind="stable")
        s = u[order, j]
        gap = np.empty(n)
        gap[1:-1] = s[2:] - s[:-2]
        gap[0] = gap[-1] = np.inf
        d[order] += gap
    finite = d[np.isfinite(d)]
    top = 2.0 * finite.max() if len(finite) and finite.max() > 0 else 1.0
    d[~np.isfinite(d)] = top
    return d + max(float(d.mean()), 1e-12) * 0.1
