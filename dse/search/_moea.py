"""A vectorised multi-objective evolutionary search over integer genomes (ask / tell).

One generation is one :meth:`VectorSearch.ask` of ``batch`` offspring and one
:meth:`VectorSearch.tell` of their scores; everything is numpy over the whole batch, so the
search costs a small fraction of the cost model it drives. It knows nothing of builds,
storage or Optuna: a driver asks, scores (:class:`dse.search.Scorer`), tells, and persists
:attr:`archive_g` when it wants.

- **Archive**: every feasible non-dominated point seen (exact Pareto merge of the archive
  and each batch), capped at ``archive_cap`` rows by dropping objective-value ties.
- **Parents**: half from the archive, weighted by crowding distance (stochastic universal
  sampling: sparse regions of the front get more children, so the ends are reached, and
  each member gets the floor or ceiling of its share), half from an elite pool of the
  next few non-dominated layers (diversity near the front). Before anything feasible is
  known, the pool holds the least-violating points (constraint-domination's rule).
- **Variation**: uniform crossover with a second parent (probability ``crossover``), then
  mutation of each gene with probability 1/genes, at least one gene per child: ordered
  parameters step ±1 (sometimes further), categoricals and 10 % of steps redraw uniformly.
  A share ``immigrants`` of each batch is uniformly random (global exploration). Children
  are built as packed rows (genes in narrow integer lanes, rows in whole 64-bit words), so
  crossover is a few word operations per row.
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
from dse.search._front import Stairs, crowding, front_order

_MIX = np.uint64(0x9E3779B97F4A7C15)
# A mutation step by the low byte of a random word: bit 0 the direction, bits 1-7 the size
# (1, +1 w.p. 38/128, +1 more w.p. 12/128).
_STEP = np.array(
    [(1 if v & 1 else -1) * (1 + (v >> 1 < 38) + (v >> 1 < 12)) for v in range(256)], np.int64
)


class VectorSearch:
    """Batch NSGA-style search: ``ask() -> genomes``, ``tell(genomes, f, cv)``."""

    def __init__(
        self,
        codec: Codec,
        n_obj: int,
        seed: int,
        *,
        batch: int = 32768,
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
        self.claim = np.zeros(1 << min(cache_bits, 17), dtype=np.int32)  # stays in L2
        self.shift = np.uint64(64 - cache_bits)
        self.proposed = self.duplicates = self.evaluated = self.generations = 0
        self._usizes = codec.sizes.astype(np.uint64)
        self._fsizes = codec.sizes.astype(np.float64)
        # Packed rows (ask): genes in lanes of the smallest signed type holding the largest
        # value list (and -1, absent), rows padded to whole 64-bit words.
        top = int(codec.sizes.max(initial=1))
        self._lane = np.dtype(np.int8 if top < 127 else np.int16 if top < 32767 else np.int32)
        w = self._lane.itemsize
        self._words = max(1, -(-codec.dims * w // 8))
        self._pad = self._words * 8 // w  # lanes per packed row
        lanes = 8 // w
        self._lane_low = np.uint64(sum(1 << (8 * w * i) for i in range(lanes)))
        self._lane_ones = np.uint64((1 << (8 * w)) - 1)
        self._unordered = ~codec.ordered
        self._arch = Stairs(self.archive_f)
        self._pool_stairs: Stairs | None = None

    # -- ask -----------------------------------------------------------------------------

    def ask(self) -> np.ndarray:
        """Up to ``batch`` new genomes (fewer when variation produced repeats)."""
        rng, n, d = self.rng, self.batch, self.codec.dims
        # Children are built as packed rows: each gene in a lane of the smallest integer
        # type that holds it, a row padded to whole 64-bit words (crossover is then a few
        # word operations per row, and every copy moves a quarter of the bytes).
        packed = np.empty((n, self._words), dtype=np.uint64)
        genes = packed.view(self._lane)[:, :d]
        first = len(self.archive_g) == 0 and len(self.pool_g) == 0
        n_imm = n if first else int(n * self.immigrants)
        if n > n_imm:
            self._offspring(packed[: n - n_imm])
        # Immigrants: uniform over each gene's values (truncating the product).
        np.copyto(genes[n - n_imm :], rng.random((n_imm, d)) * self._fsizes, casting="unsafe")
        self.codec.activate(genes, rng)
        self.proposed += n
        new = self._unseen(genes)
        g = packed[new].view(self._lane)[:, :d].astype(np.int32)  # whole packed rows: cheap
        self.duplicates += n - len(g)
        return g

    def _parents(self, n: int, mix: bool = False) -> np.ndarray:
        """Row indices into ``archive_g`` stacked on ``pool_g``: each from the archive with
        probability 1/2 (all of them while there is no pool), weighted by crowding, else
        uniformly from the pool; in random order with ``mix``, else archive rows first."""
        rng = self.rng
        na, npool = len(self.archive_g), len(self.pool_g)
        k = int(rng.binomial(n, 0.5 if npool else 1.0)) if na else 0
        idx = np.empty(n, dtype=np.intp)
        if k:
            # Stochastic universal sampling: k evenly spaced pointers at one random offset
            # over the cumulative crowding weights; a member gets the pointers in its slice
            # (the floor or ceiling of its expected share), in archive order.
            c = np.ceil(self.cdf * (k / self.cdf[-1]) - rng.random())
            np.clip(c, 0.0, k, out=c)
            c[-1] = k
            idx[:k] = np.repeat(np.arange(na), np.diff(c, prepend=0.0).astype(np.intp))
        idx[k:] = rng.integers(na, na + max(npool, 1), n - k)
        if mix:
            rng.shuffle(idx)
        return idx

    def _offspring(self, out: np.ndarray) -> None:
        """Children into ``out`` (packed rows, see :meth:`ask`), before activation."""
        rng, d, n = self.rng, self.codec.dims, len(out)
        src = np.zeros((len(self.archive_g) + len(self.pool_g), self._words), dtype=np.uint64)
        lanes = src.view(self._lane)
        lanes[: len(self.archive_g), :d] = self.archive_g
        lanes[len(self.archive_g) :, :d] = self.pool_g
        # Uniform crossover for a share of the children, the first n_x rows (which row a
        # child takes does not matter). Their first parents are drawn apart from the
        # others', so whether a child crosses is independent of where its parent is from.
        n_x = int(rng.binomial(n, self.crossover))
        src.take(np.concatenate([self._parents(n_x), self._parents(n - n_x)]), axis=0, out=out)
        if n_x:
            mates = src.take(self._parents(n_x, mix=True), axis=0)
            # Bit 0 of each lane of a random word says which parent gives that gene;
            # times the lane's all-ones value it selects the whole lane.
            pick = rng.bit_generator.random_raw(mates.size).reshape(mates.shape)
            pick &= self._lane_low
            pick *= self._lane_ones
            head = out[:n_x]
            mates ^= head
            mates &= pick
            head ^= mates
        # Mutation: one gene of every child, plus each gene with probability 1/genes (as
        # many cells, ~n, drawn uniformly over the batch): work on those cells only.
        extra = int(rng.binomial(n * d, 1.0 / d))
        cols = rng.integers(0, d, n + extra)
        cells = np.concatenate([np.arange(n), rng.integers(0, n, extra)]) * self._pad + cols
        flat = out.view(self._lane).reshape(-1)
        cur = flat[cells].astype(np.int64)
        # One 64-bit random word per cell; its bit fields give the step (bits 0-7, _STEP),
        # redraw-or-step (bits 8-15: redraw w.p. 26/256) and the redrawn value (32-63).
        r = rng.bit_generator.random_raw(len(cells))
        usize = self._usizes[cols]
        stepped = cur + _STEP[r & np.uint64(255)]
        np.clip(stepped, 0, usize.view(np.int64) - 1, out=stepped)
        redraw = self._unordered[cols] | (((r >> np.uint64(8)) & np.uint64(255)) < 26)
        uniform = (((r >> np.uint64(32)) * usize) >> np.uint64(32)).view(np.int64)
        # absent genes stay absent
        flat[cells] = np.where(cur < 0, cur, np.where(redraw, uniform, stepped))

    def _unseen(self, g: np.ndarray) -> np.ndarray:
        """Which rows of ``g`` were not seen before (remembered from now on)."""
        keys = self.codec.keys(g)
        with np.errstate(over="ignore"):  # multiplicative hashing: the top bits of key * odd
            mixed = keys * _MIX
        slot = (mixed >> self.shift).astype(np.intp)
        new = self._first(keys, mixed) & (self.cache[slot] != keys)
        self.cache[slot[new]] = keys[new]
        return new

    def _first(self, keys: np.ndarray, mixed: np.ndarray) -> np.ndarray:
        """One row of each distinct key (exact), without a sort: rows claim slots of a small
        scratch table (the last writer wins); a row that lost its slot to an identical row
        is a repeat, one that lost it to another key tries again, among the other losers
        only, at other bits of the hash."""
        first = np.zeros(len(keys), dtype=bool)
        idx = np.arange(len(keys))
        bits, shift = len(self.claim).bit_length() - 1, 64
        while len(idx):
            shift = shift - bits if shift > bits else 64 - bits  # next field of the hash
            s = ((mixed[idx] >> np.uint64(shift)) & np.uint64(len(self.claim) - 1)).astype(np.intp)
            rows = np.arange(len(idx), dtype=np.int32)
            self.claim[s] = rows
            winner = self.claim[s]
            first[idx[winner == rows]] = True
            idx = idx[keys[idx[winner]] != keys[idx]]
        return first

    def remember(self, g: np.ndarray) -> None:
        """Mark points as evaluated (e.g. loaded from storage) so they are not asked."""
        self._unseen(g)

    # -- tell ----------------------------------------------------------------------------

    def tell(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        """Scores of asked genomes: minimised objectives ``(n, k)``, violation ``(n,)``."""
        self.evaluated += len(g)
        self.generations += 1
        self._take(g, f, cv)

    def seed(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        """Start from known points (a resumed study) without counting them as evaluated."""
        self.remember(g)
        self._take(g, f, cv)

    def _take(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        # Rows go by index: genomes and scores are copied only for rows that enter the
        # archive or the pool (a few thousand of a batch).
        ok = cv <= 0
        if ok.any():
            self._merge(g, f, ok)
            self._pool_feasible(g, f, ok)
        elif len(self.archive_g) == 0 and len(g):
            self._pool_least_violating(g, f, cv)

    def _merge(self, g: np.ndarray, f: np.ndarray, ok: np.ndarray) -> None:
        """The archive becomes the front of (archive + the feasible rows ``ok`` of ``g``,
        scores ``f``)."""
        if len(self.archive_g):  # what the archive dominates cannot enter it: drop it first
            ok = ok & ~self._arch.dominated(f)
        rows = np.flatnonzero(ok)
        if not len(rows):
            return
        f = f[rows]
        front = front_order(f)  # two objectives: in order of the first
        rows, f = rows[front], f[front]
        cand_g = np.vstack([self.archive_g, g[rows]])
        cand_f = np.vstack([self.archive_f, f])
        na = len(self.archive_f)
        if self.k == 2:
            # Both parts are fronts in f0 order: an old point stays unless a new one
            # dominates it, and a stable sort merges the two runs.
            old = np.flatnonzero(~Stairs(f, presorted=True).dominated(self.archive_f))
            keep = np.concatenate([old, na + np.arange(len(f))])
            keep = keep[np.argsort(cand_f[keep, 0], kind="stable")]
        else:
            keep = np.flatnonzero(pareto_mask(cand_f, ["minimize"] * self.k))
        cand_g, cand_f = cand_g[keep], cand_f[keep]
        weights = crowding(cand_f, front_2d=self.k == 2)
        if len(cand_g) > self.archive_cap:  # thin the most crowded points (ends stay)
            idx = np.sort(np.argpartition(-weights, self.archive_cap - 1)[: self.archive_cap])
            cand_g, cand_f, weights = cand_g[idx], cand_f[idx], weights[idx]
        self.archive_g, self.archive_f = cand_g, cand_f
        self._arch = Stairs(cand_f, presorted=True)
        self.cdf = np.cumsum(weights)

    def _pool_feasible(self, g: np.ndarray, f: np.ndarray, ok: np.ndarray) -> None:
        """The pool becomes the next few non-dominated layers of (pool + new feasible)."""
        npool = len(self.pool_cv)
        if npool and not np.any(self.pool_cv > 0):
            # Usually the first layer alone fills the pool. A new point a pool point
            # dominates is not in it, so that layer is found among far fewer rows (exact).
            if self._pool_stairs is None:
                self._pool_stairs = Stairs(self.pool_f)
            new = np.flatnonzero(ok & ~self._pool_stairs.dominated(f))
            cand_f = np.vstack([self.pool_f, f[new]])
            first = front_order(cand_f)
            if len(first) >= self.pool_size:
                pick = first[np.sort(self.rng.choice(len(first), self.pool_size, replace=False))]
                cand_g = np.vstack([self.pool_g, g[new]])
                self.pool_g, self.pool_f = cand_g[pick], cand_f[pick]
                self.pool_cv = np.zeros(len(pick))
                # front_order keeps the first objective's order: no sort for the queries
                self._pool_stairs = Stairs(self.pool_f, presorted=True)
                return
        rows = np.flatnonzero(ok)
        cand_g, cand_f = g[rows], f[rows]
        if npool:  # the pool's feasible rows (none while leaving the infeasible phase)
            ok = self.pool_cv <= 0
            cand_g = np.vstack([self.pool_g[ok], cand_g])
            cand_f = np.vstack([self.pool_f[ok], cand_f])
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
        self._pool_stairs = None

    def _pool_least_violating(self, g: np.ndarray, f: np.ndarray, cv: np.ndarray) -> None:
        cand_g = np.vstack([self.pool_g, g])
        cand_f = np.vstack([self.pool_f, f])
        cand_cv = np.concatenate([self.pool_cv, cv])
        finite = np.flatnonzero(np.isfinite(cand_cv))
        idx = finite[np.argsort(cand_cv[finite], kind="stable")[: self.pool_size]]
        self.pool_g, self.pool_f, self.pool_cv = cand_g[idx], cand_f[idx], cand_cv[idx]
        self._pool_stairs = None
