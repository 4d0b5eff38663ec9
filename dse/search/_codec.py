"""A study's space as integer genomes: one column per parameter, one row per point.

Gene ``j`` of a row is the index of parameter ``j``'s value in :attr:`Codec.values` (``-1``
when a conditional parameter is absent), so a whole population is one ``int32`` matrix the
search mutates with numpy and the grid enumerates by mixed-radix counting. A float without
``step`` has no finite value list; the model-level search uses :data:`FLOAT_LEVELS` evenly
spaced levels of it (log-spaced with ``log: true``) — its exact path refuses such spaces.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from dse.space import SearchSpace, is_numeric

FLOAT_LEVELS = 1025
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constants for the row hash


class Codec:
    """Genomes <-> design-point columns and Optuna params for one :class:`SearchSpace`."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.params = space.params
        self.values: list[np.ndarray] = []
        for p in self.params:
            vals = p.values()
            if vals is None:  # float without step: a fine grid of levels
                assert p.low is not None and p.high is not None
                lo, hi = p.low, p.high
                arr = (
                    np.geomspace(lo, hi, FLOAT_LEVELS)
                    if p.log
                    else np.linspace(lo, hi, FLOAT_LEVELS)
                )
            else:
                arr = np.asarray(vals, dtype=np.float64 if is_numeric(vals) else object)
            self.values.append(arr)
        self.sizes = np.array([len(v) for v in self.values], dtype=np.int64)
        # Categorical choices have no order; everything else is stepped to its neighbours.
        self.ordered = np.array([p.type != "categorical" for p in self.params])
        self.conditional = [p.when is not None for p in self.params]
        rng = np.random.default_rng(0x5EED)
        self._mult = rng.integers(1, 2**63, size=len(self.params), dtype=np.uint64) | np.uint64(1)
        # A row's key: its exact mixed-radix number (genes + 1, so absent = 0) when the
        # grid with "absent" added fits in 63 bits, else a 64-bit hash of the row.
        radix = [int(s) + 1 for s in self.sizes]
        self._exact = math.prod(radix) < 2**63
        self._place = np.array(
            [math.prod(radix[j + 1 :]) for j in range(len(radix))] if self._exact else [],
            dtype=np.int64,
        )
        self._place_sum = np.int64(self._place.sum())
        self._when = [self._when_table(j) if c else None for j, c in enumerate(self.conditional)]

    @property
    def dims(self) -> int:
        return len(self.params)

    # -- conditions ----------------------------------------------------------------------

    def activate(self, genomes: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Absent where a ``when:`` is false; a random value where it became true."""
        if not any(self.conditional):
            return genomes
        env: dict[str, Any] = dict(self.space.design)
        n = len(genomes)
        combos: dict[bytes, np.ndarray] = {}  # conditions often read the same genes
        for j, p in enumerate(self.params):
            if p.when is not None:
                table = self._when[j]
                if table is not None:  # the condition's value per combination of its inputs
                    deps, place, truth = table
                    key = deps.tobytes()
                    if key not in combos:
                        combos[key] = (genomes[:, deps] + 1) @ place
                    on = truth[combos[key]]
                else:
                    env.update({q.name: self._column(i, genomes[:, i]) for i, q in self._reads(j)})
                    on = np.broadcast_to(np.asarray(p.when.evaluate(env), dtype=bool), (n,))
                col = genomes[:, j]
                col[~on] = -1
                fill = on & (col < 0)
                if fill.any():
                    col[fill] = rng.integers(0, self.sizes[j], int(fill.sum())) if rng else 0
        return genomes

    def _reads(self, j: int) -> list[tuple[int, Any]]:
        """The searched parameters before ``j`` that its ``when:`` reads."""
        when = self.params[j].when
        names = when.names if when is not None else frozenset()
        return [(i, q) for i, q in enumerate(self.params[:j]) if q.name in names]

    def _when_table(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Parameter ``j``'s condition evaluated once on every combination of the genes it
        reads (absent included), so a batch looks it up instead of decoding columns and
        comparing strings; None when that product is too large to tabulate."""
        reads = self._reads(j)
        deps = [i for i, _ in reads]
        radix = [int(self.sizes[i]) + 1 for i in deps]
        if math.prod(radix) > 1 << 16:
            return None
        grid = np.indices(radix).reshape(len(deps), -1).T - 1  # genes, -1 = absent
        env: dict[str, Any] = dict(self.space.design)
        env.update({q.name: self._column(i, grid[:, c]) for c, (i, q) in enumerate(reads)})
        when = self.params[j].when
        assert when is not None
        truth = np.broadcast_to(np.asarray(when.evaluate(env), dtype=bool), (len(grid),))
        place = np.array([math.prod(radix[c + 1 :]) for c in range(len(deps))], dtype=np.int64)
        return np.array(deps, dtype=np.intp), place, np.ascontiguousarray(truth)

    # -- decoding ------------------------------------------------------------------------

    def _column(self, j: int, idx: np.ndarray) -> np.ndarray:
        vals = self.values[j]
        out = vals[np.maximum(idx, 0)]
        if (idx < 0).any():
            out = out.copy()
            out[idx < 0] = None if vals.dtype == object else np.nan
        return out

    def columns(self, genomes: np.ndarray) -> dict[str, np.ndarray]:
        """Design-unit columns of the searched parameters (absent: NaN/None), no derived."""
        return {p.name: self._column(j, genomes[:, j]) for j, p in enumerate(self.params)}

    def point_columns(self, genomes: np.ndarray) -> dict[str, np.ndarray]:
        """Searched plus derived columns, ready to merge with the fixed design."""
        cols = self.columns(genomes)
        cols.update(self.space.derive(cols, len(genomes)))
        return cols

    def rows(self, genomes: np.ndarray) -> list[dict[str, Any]]:
        """Design-unit dicts without absent parameters (what the engine's scorer takes)."""
        out = []
        for g in genomes:
            row: dict[str, Any] = {}
            for j, p in enumerate(self.params):
                if g[j] >= 0:
                    v = self.values[j][g[j]]
                    v = v.item() if isinstance(v, np.generic) else v
                    row[p.name] = int(v) if p.type in ("int", "pow2") else v
            out.append(row)
        return out

    def params_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna params (``log2_<name>`` for pow2) of a design-unit row."""
        by_name = {p.name: p for p in self.params}
        return {by_name[k].optuna_name: by_name[k].encode(v) for k, v in row.items()}

    def from_params(self, trials_params: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Genomes of stored Optuna params, one row each; rows with an off-grid value get
        ``-2`` in that gene (callers drop them)."""
        g = np.full((len(trials_params), self.dims), -1, dtype=np.int32)
        for j, p in enumerate(self.params):
            vals = self.values[j]
            exact = {_key(v): i for i, v in enumerate(vals.tolist())}
            for r, params in enumerate(trials_params):
                if p.optuna_name in params:
                    v = p.decode(params[p.optuna_name])
                    i = exact.get(_key(v))
                    if i is None and vals.dtype != object:  # a float level: the nearest
                        i = int(np.argmin(np.abs(vals - float(v))))
                        i = i if np.isclose(vals[i], float(v), rtol=1e-9) else None
                    g[r, j] = -2 if i is None else i
        return g

    def keys(self, genomes: np.ndarray) -> np.ndarray:
        """A 64-bit key per row (never 0), for duplicate detection: the row's exact
        mixed-radix number where the grid fits in 63 bits (distinct rows never share a
        key), else a hash."""
        if self._exact:  # Σ (gene + 1)·place, with the +1s summed once
            key = genomes.astype(np.int64) @ self._place + self._place_sum
            return key.view(np.uint64) | np.uint64(1 << 63)
        g = (genomes.astype(np.int64) + 1).astype(np.uint64)
        h = np.zeros(len(genomes), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(self.dims):
                h = (h ^ (g[:, j] * self._mult[j])) * _MIX
                h ^= h >> np.uint64(29)
        return h | np.uint64(1)

    # -- sampling and enumeration --------------------------------------------------------

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        g = (rng.random((n, self.dims)) * self.sizes).astype(np.int32)
        return self.activate(g, rng)

    def size(self) -> int | None:
        """Points of the grid (None when a float has no step)."""
        return self.space.size()

    def enumerate(self, chunk: int) -> Iterator[np.ndarray]:
        """Every point of a finite space exactly once, as genome chunks.

        Parameters that a ``when:`` reads or that have one are expanded into a table (small:
        they are few and categorical in practice); the others are counted in mixed radix
        per table row, so memory stays at one chunk whatever the grid's size.
        """
        struct = set(self.space._structural())
        tab_j = [j for j, p in enumerate(self.params) if p.name in struct or p.when is not None]
        rest_j = [j for j in range(self.dims) if j not in tab_j]
        table = self._table(tab_j)
        radix = self.sizes[rest_j]
        r_total = int(np.prod(radix)) if rest_j else 1
        total = len(table) * r_total
        for lo in range(0, total, chunk):
            i = np.arange(lo, min(lo + chunk, total), dtype=np.int64)
            g = np.empty((len(i), self.dims), dtype=np.int32)
            if tab_j:
                g[:, tab_j] = table[i // r_total]
            r = i % r_total
            for j, size in zip(reversed(rest_j), reversed(radix), strict=True):
                g[:, j] = r % size
                r //= size
            yield g

    def _table(self, cols: list[int]) -> np.ndarray:
        rows = np.zeros((1, self.dims), dtype=np.int32)
        env: dict[str, Any] = dict(self.space.design)
        for j in cols:
            p, n = self.params[j], len(rows)
            if p.when is None:
                on = np.ones(n, dtype=bool)
            else:
                env = {**self.space.design, **self.columns(rows)}
                on = np.broadcast_to(np.asarray(p.when.evaluate(env), dtype=bool), (n,))
            counts = np.where(on, self.sizes[j], 1)
            idx = np.repeat(np.arange(n), counts)
            starts = np.cumsum(counts) - counts
            pos = np.arange(len(idx)) - np.repeat(starts, counts)
            rows = rows[idx]
            rows[:, j] = np.where(on[idx], pos, -1)
        return rows[:, cols]


def _key(v: Any) -> Any:
    # 8 == 8.0 == True in a dict; strings stay strings.
    return float(v) if isinstance(v, int | float) else v


def grid_seconds(size: int | None, points_per_s: float) -> float:
    """Seconds to enumerate ``size`` points at the measured model speed (inf: infinite)."""
    if size is None or points_per_s <= 0:
        return math.inf
    return size / points_per_s
