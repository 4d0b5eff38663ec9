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

_MIX = np.uint64(0x9E3779B97F4A7C15)


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
        self.shift = np.uint64(64 - cache_bits)
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
        """Row indices into ``archive_g`` stacked on ``pool_g``, in random order: each from
        the archive with probability 1/2 (all of them while there is no pool), weighted by
        crowding, else uniformly from the pool."""
        rng = self.rng
        na, npool = len(self.archive_g), len(self.pool_g)
        k = int(rng.binomial(n, 0.5 if npool else 1.0)) if na else 0
        # Crowding-weighted draw by inverse CDF, at sorted uniforms (exponential spacings):
        # sorted keys make the binary searches cheap; the permutation below mixes them.
        u = np.cumsum(rng.standard_exponential(k + 1))
        pick = (
            np.searchsorted(self.cdf, u[:k] * (self.cdf[-1] / u[k]), side="right") if k else u[:0]
        )
        idx = np.concatenate([np.minimum(pick, na - 1), na + rng.integers(0, max(npool, 1), n - k)])
        return idx[rng.permutation(n)]

    def _offspring(self, n: int) -> np.ndarray:
        rng, codec = self.rng, self.codec
        d, sizes = codec.dims, codec.sizes
        src = np.vstack([self.archive_g, self.pool_g])
        child = src[self._parents(n)]
        # Uniform crossover with a second parent for a share of the children: one random
        # bit per gene says which parent gives it.
        bits = rng.integers(0, 256, (n, (d + 7) // 8), dtype=np.uint8)
        take = np.unpackbits(bits, axis=1, count=d).view(bool)
        take &= (rng.random(n) < self.crossover)[:, None]
        np.copyto(child, src[self._parents(n)], where=take)
        # Mutation: one gene of every child, plus each gene with probability 1/genes (as
        # many cells, ~n, drawn uniformly over the batch): work on those cells only.
        extra = int(rng.binomial(n * d, 1.0 / d))
        cells = np.concatenate(
            [np.arange(n) * d + rng.integers(0, d, n), rng.integers(0, n * d, extra)]
        )
        flat = child.reshape(-1)
        cur = flat[cells]
        live = cur >= 0  # absent genes stay absent
        cells, cur = cells[live], cur[live]
        c = cells % d
        # One uniform per cell; rescaled, it gives direction, step size, redraw-or-step and
        # the redrawn value (independent digits of one number).
        v = rng.random(len(cells))
        step = np.where(v < 0.5, -1, 1) * (1 + ((v * 2) % 1.0 < 0.3) + ((v * 2) % 1.0 < 0.09))
        size = sizes[c]
        stepped = np.clip(cur + step, 0, size - 1)
        redraw = ~codec.ordered[c] | ((v * 16) % 1.0 < 0.1)
        uniform = ((v * 256) % 1.0 * size).astype(np.int32)
        flat[cells] = np.where(redraw, uniform, stepped)
        return codec.activate(child, rng)

    def _unseen(self, g: np.ndarray) -> np.ndarray:
        # No sort: each row claims its hash slot in a scratch table (the last writer wins);
        # a row that lost its slot to an identical row is a repeat within the batch.
        keys = self.codec.keys(g)
        with np.errstate(over="ignore"):  # multiplicative hashing: the top bits of key * odd
            slot = ((keys * _MIX) >> self.shift).astype(np.intp)
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
        if len(self.archive_g):  # what the archive dominates cannot enter it: drop it first
            new = ~_dominated_by(self.archive_f, f, presorted=self.k == 2)
            if not new.any():
                return
            g, f = g[new], f[new]
        cand_g = np.vstack([self.archive_g, g])
        cand_f = np.vstack([self.archive_f, f])
        keep = np.flatnonzero(pareto_mask(cand_f, ["minimize"] * self.k))
        if self.k == 2:  # kept in order of the first objective: the pre-filter needs no sort
            keep = keep[np.lexsort((cand_f[keep, 1], cand_f[keep, 0]))]
        cand_g, cand_f = cand_g[keep], cand_f[keep]
        weights = _crowding(cand_f, front_2d=self.k == 2)
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
        elif len(self.pool_cv):
            # Usually the first layer alone fills the pool. A new point a pool point
            # dominates is not in it, so that layer is found among far fewer rows (exact).
            keep = np.concatenate([np.ones(len(self.pool_f), bool), ~_dominated_by(self.pool_f, f)])
            first = pareto_mask(cand_f[keep], ["minimize"] * self.k)
            if first.sum() >= self.pool_size:
                idx = np.flatnonzero(keep)[first]
                self._set_pool(cand_g, cand_f, idx)
                return
        chosen = np.zeros(len(cand_g), dtype=bool)
        left = np.arange(len(cand_g))
        for _ in range(4):
            if len(left) == 0 or chosen.sum() >= self.pool_size:
                break
            layer = pareto_mask(cand_f[left], ["minimize"] * self.k)
            chosen[left[layer]] = True
            left = left[~layer]
        self._set_pool(cand_g, cand_f, np.flatnonzero(chosen))

    def _set_pool(self, cand_g: np.ndarray, cand_f: np.ndarray, idx: np.ndarray) -> None:
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


def _dominated_by(s: np.ndarray, x: np.ndarray, presorted: bool = False) -> np.ndarray:
    """Rows of ``x`` that some row of ``s`` dominates (all objectives minimised; exact).

    Two objectives: one sort of ``s`` (none if ``presorted`` by the first objective) and a
    binary search per row (a staircase of running minima); otherwise none are reported (a
    caller's pre-filter, never required)."""
    if s.shape[1] != 2 or len(s) == 0:
        return np.zeros(len(x), dtype=bool)
    if not presorted:
        s = s[np.lexsort((s[:, 1], s[:, 0]))]
    f0, low1 = s[:, 0], np.minimum.accumulate(s[:, 1])
    le = np.searchsorted(f0, x[:, 0], side="right") - 1  # last row with f0 <= x0
    lt = le.copy()  # last row with f0 < x0: the same unless some row ties x0 (rare)
    tie = np.flatnonzero((le >= 0) & (f0[np.maximum(le, 0)] == x[:, 0]))
    lt[tie] = np.searchsorted(f0, x[tie, 0], side="left") - 1
    below = np.where(lt >= 0, low1[np.maximum(lt, 0)], np.inf) <= x[:, 1]
    level = np.where(le >= 0, low1[np.maximum(le, 0)], np.inf) < x[:, 1]
    return below | level


def _crowding(f: np.ndarray, front_2d: bool = False) -> np.ndarray:
    """Crowding distance per row (normalised objectives); the ends count as the widest gap.

    ``front_2d``: ``f`` is a two-objective front sorted by its first objective, so the
    second runs the other way and no sort is needed."""
    n, k = f.shape
    if n <= 2:
        return np.ones(n)
    span = f.max(axis=0) - f.min(axis=0)
    span[span == 0] = 1.0
    u = (f - f.min(axis=0)) / span
    d = np.zeros(n)
    for j in range(k):
        if front_2d:
            order = np.arange(n) if j == 0 else np.arange(n - 1, -1, -1)
        else:
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
