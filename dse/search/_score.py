"""Vectorised scoring of genomes and exact enumeration of a finite grid.

:class:`Scorer` is the search's only contact with the cost model: genomes in, objectives
(all turned into minimisation) and one total constraint violation per row out. A derived
value outside its parameter's range, or a NaN objective, is infeasible with violation
``inf`` (the engine records such trials as failed). :func:`enumerate_exact` runs the whole
grid through it in chunks and keeps only the running Pareto front plus a stratified sample,
so memory stays at one chunk whatever the grid's size.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import cost_models as cm
from dse.exhaustive import _valid
from dse.pareto import pareto_mask
from dse.search._codec import Codec

CHUNK = 1 << 16
# Points per model call when scoring a batch: the model's fixed cost per call (hundreds of
# numpy calls) outweighs, at its default 16,384, what the smaller temporaries gain in
# cache (a 32,768-point generation of the large example scores ~10 % faster as one chunk;
# docs/search.md "Where the time goes").
MODEL_CHUNK = 1 << 15


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks instead of returning them to the kernel.

    Each model call makes hundreds of temporaries of 128 KB (one 16,384-point float64
    chunk), glibc's default threshold for serving a block by ``mmap``: every temporary
    then costs a fresh mapping and page faults, about half of the scoring time measured
    here. With the thresholds raised the blocks are reused. No effect off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 28) == 1
        return ok and libc.mallopt(m_trim_threshold, 1 << 29) == 1
    except (OSError, AttributeError):
        return False


class Scorer:
    """``scorer(genomes) -> (objectives to minimise (n, k), violation (n,))``.

    Scores through :class:`cost_models.Prepared`: each parameter's value list is validated
    once, and a genome's genes are already indices into those lists, so a batch goes to
    the model's arithmetic without decoding or re-validation (same numbers as
    ``cost_models.evaluate``; tests/dse_tests check it).
    """

    def __init__(self, cfg: Any, codec: Codec) -> None:
        self.cfg, self.codec = cfg, codec
        keep_freed_memory()
        self.metrics = [o.metric for o in cfg.objectives]
        self.signs = np.array([-1.0 if o.direction == "maximize" else 1.0 for o in cfg.objectives])
        specs = cm.param_specs(cfg.arch, cfg.platform)
        self.derived = [(name, specs[name]) for name, _ in cfg.space.derived]
        self.model = cm.Prepared(
            cfg.workload,
            cfg.platform,
            cfg.arch,
            cfg.baseline,
            cfg.design,
            {p.name: values.tolist() for p, values in zip(codec.params, codec.values, strict=True)},
            source=str(cfg.source),
        )
        c = cfg.constraints
        self.needed = list(
            dict.fromkeys(
                [
                    *self.metrics,
                    *(f"{r}_util" for r in c.max_util),
                    *(["achievable_clock_mhz"] if c.min_clock_mhz is not None else []),
                    *c.max,
                    *c.min,
                    *((*(f"{r}_util" for r in cm.RESOURCES), "feasible") if c.feasible else ()),
                ]
            )
        )
        self.calls = 0
        top = int(codec.sizes.max(initial=1))
        self._small = np.dtype(np.int8 if top < 127 else np.int16 if top < 32767 else np.int32)

    def __call__(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, cfg = len(genomes), self.cfg
        self.calls += n
        if n == 0:
            return np.full((0, len(self.metrics)), np.inf), np.full(0, np.inf)
        ok: np.ndarray | None = None
        derived: dict[str, np.ndarray] = {}
        if self.derived:  # derived keys are expressions over design units: decode for them
            cols = self.codec.point_columns(genomes)
            ok = np.ones(n, dtype=bool)
            for name, spec in self.derived:
                ok &= _valid(spec, cols[name])
                derived[name] = cols[name]
            if ok.all():
                ok = None
            elif not ok.any():
                return np.full((n, len(self.metrics)), np.inf), np.full(n, np.inf)
        rows = genomes if ok is None else genomes[ok]
        m = len(rows)
        # Each parameter's value indices as one contiguous intp row (what take wants),
        # transposed from the narrowest integer type that holds them: a quarter of the
        # bytes of int32 to move across rows.
        idx = rows.astype(self._small, copy=False).T.astype(np.intp, order="C")
        got = self.model.gather({p.name: idx[j] for j, p in enumerate(self.codec.params)})
        for name, col in derived.items():
            got[name] = self.model.resolve(name, col if ok is None else col[ok])
        out = self.model.score(got, m, need=self.needed, chunk=MODEL_CHUNK)
        cons = np.asarray(cfg.constraints.evaluate(_Frame(out, m)), dtype=np.float64)
        clipped = np.maximum(cons.reshape(m, -1), 0.0)
        if 0 < clipped.shape[1] < 8:
            # Column by column, in order: what numpy's row sum does below 8 terms (the
            # same bits), without its per-row loop (a third of the time).
            v = clipped[:, 0].copy()
            for j in range(1, clipped.shape[1]):
                v += clipped[:, j]
        else:
            v = clipped.sum(axis=1)
        vals = np.empty((m, len(self.metrics)))
        nan = np.zeros(m, dtype=bool)
        for j, (key, sign) in enumerate(zip(self.metrics, self.signs, strict=True)):
            col = np.asarray(out[key], dtype=np.float64)
            if sign < 0:
                np.negative(col, out=vals[:, j])
            else:
                vals[:, j] = col
            nan |= np.isnan(col)
        v[nan] = np.inf
        vals[~np.isfinite(v)] = np.inf
        if ok is None:
            return vals, v
        f = np.full((n, len(self.metrics)), np.inf)
        cv = np.full(n, np.inf)
        f[ok], cv[ok] = vals, v
        return f, cv


class _Frame:
    """The part of a DataFrame that ``Constraints.evaluate`` reads (``frame[column]
    .to_numpy(dtype)``, ``len``), over plain arrays: building a DataFrame per batch costs
    more than the constraints."""

    def __init__(self, columns: dict[str, np.ndarray], n: int) -> None:
        self.columns, self.n = columns, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key: str) -> _Frame._Column:
        return _Frame._Column(self.columns[key])

    class _Column:
        def __init__(self, values: np.ndarray) -> None:
            self.values = values

        def to_numpy(self, dtype: Any = None) -> np.ndarray:
            return np.asarray(self.values, dtype=dtype)


def measure_speed(scorer: Scorer, n: int = 4096, seed: int = 0) -> float:
    """Points per second of the scorer on ``n`` random points (the second of two runs)."""
    g = scorer.codec.random(np.random.default_rng(seed), n)
    scorer(g[:256])  # warm caches (workload shapes, platform tables)
    t0 = time.perf_counter()
    scorer(g)
    return n / max(time.perf_counter() - t0, 1e-9)


@dataclass
class Exact:
    """The exact front of a grid (genomes, minimised objectives) and a stratified sample."""

    front: np.ndarray
    front_f: np.ndarray
    sample: np.ndarray
    n_points: int
    n_feasible: int
    elapsed_s: float
    complete: bool


def enumerate_exact(
    codec: Codec,
    scorer: Scorer,
    *,
    sample: int = 1000,
    seed: int = 0,
    chunk: int = CHUNK,
    stop: threading.Event | None = None,
) -> Exact:
    """Score every grid point; keep the Pareto front of the feasible ones and a sample.

    The sample takes one uniformly random point in each of ``sample`` equal, consecutive
    slices of the enumeration order (a stratified sample: every slice of the grid, and so
    every value of the outer parameters, is represented in proportion).
    """
    t0 = time.perf_counter()
    total = codec.size()
    assert total is not None, "enumerate_exact needs a finite space"
    k = len(scorer.metrics)
    rng = np.random.default_rng(seed)
    strata = min(sample, total)
    edges = np.linspace(0, total, strata + 1).astype(np.int64)
    picks = edges[:-1] + (rng.random(strata) * np.diff(edges)).astype(np.int64)
    front = np.empty((0, codec.dims), dtype=np.int32)
    front_f = np.empty((0, k))
    sampled: list[np.ndarray] = []
    n_feasible = done = 0
    for g in codec.enumerate(chunk):
        f, cv = scorer(g)
        hit = picks[(picks >= done) & (picks < done + len(g))] - done
        sampled.append(g[hit])
        done += len(g)
        good = cv <= 0
        n_feasible += int(good.sum())
        if good.any():
            cand_f = np.vstack([front_f, f[good]])
            cand_g = np.vstack([front, g[good]])
            keep = pareto_mask(cand_f, ["minimize"] * k)
            front, front_f = cand_g[keep], cand_f[keep]
        if stop is not None and stop.is_set():
            break
    sample_g = np.vstack(sampled) if sampled else np.empty((0, codec.dims), dtype=np.int32)
    return Exact(
        front, front_f, sample_g, done, n_feasible, time.perf_counter() - t0, done == total
    )
