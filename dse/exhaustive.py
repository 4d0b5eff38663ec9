"""Exhaustive screening: score every point of a finite space and return the exact front.

``screen(cfg)`` enumerates ``cfg.space.grid()``, evaluates it with the one scorer's model
(``dse.scoring.Model``, uncalibrated) in fixed-size chunks (only the feasible rows' few columns are
kept, so memory stays bounded by the grid itself), applies the study's constraints with
the same :meth:`~dse.config.Constraints.feasible_mask` the sweep engine uses, and marks the
Pareto-optimal rows. A few million points take seconds; it is the ground truth the search
benchmark (``benchmarks/search_quality.py``) measures samplers against.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.pareto import pareto_mask
from dse.scoring import Model
from dse.scoring import valid as _valid  # dse.search._score imports it from here

__all__ = ["CHUNK", "screen"]

CHUNK = 1 << 16  # points per evaluate call: large enough to amortise, small enough for cache

# Metrics kept beside the objectives, for the front's readers.
_KEEP = (
    "decode_tokens_per_s",
    "prefill_latency_s",
    "power_w",
    "energy_per_token_j",
    "achievable_clock_mhz",
)


def screen(cfg: Any, *, limit: int = 5_000_000, chunk: int = CHUNK) -> pd.DataFrame:
    """Every feasible point of ``cfg.space`` with its metrics and a ``pareto`` column.

    Args:
        cfg: a :class:`dse.config.StudyConfig` with a finite ``space`` and ``objectives``.
        limit: refuse spaces with more points than this (``SearchSpace.grid`` raises).
        chunk: points per ``cost_models.evaluate`` call.

    Returns:
        One row per feasible point: the searched and derived parameters (design units;
        absent conditionals NaN/None), the objective metrics and a few key metrics, and
        ``pareto`` (True on the exact model front). ``df.attrs`` holds ``n_points``,
        ``n_feasible`` and ``elapsed_s``.

    Raises:
        SpaceError: the space is infinite or larger than ``limit``.
        ValueError: the config has no objectives.
    """
    if not cfg.objectives:
        raise ValueError(f"{cfg.source}: objectives: missing; screening needs at least one")
    t0 = time.perf_counter()
    grid = cfg.space.grid(limit=limit)
    n = len(next(iter(grid.values()))) if grid else 1
    metrics = [o.metric for o in cfg.objectives]
    directions = [o.direction for o in cfg.objectives]
    keep = list(dict.fromkeys([*metrics, *(m for m in _KEEP if m not in metrics)]))
    specs = cm.param_specs(cfg.arch, cfg.platform)
    model = Model.of(cfg)
    derived = [name for name, _ in cfg.space.derived]
    parts: list[pd.DataFrame] = []
    for lo in range(0, n, chunk):
        cols = {k: v[lo : lo + chunk] for k, v in grid.items()}
        m = len(next(iter(cols.values()))) if cols else 1
        # A derived value outside its parameter's range is a failed trial in the engine.
        ok = np.ones(m, dtype=bool)
        for name in derived:
            ok &= _valid(specs[name], cols[name])
        if not ok.any():
            continue
        df = model.evaluate({k: v[ok] for k, v in cols.items()})
        good = cfg.constraints.feasible_mask(df)
        good &= ~np.isnan(df[metrics].to_numpy(np.float64)).any(axis=1)
        if not good.any():
            continue
        out = pd.DataFrame({k: v[ok][good] for k, v in cols.items()})
        for c in keep:
            out[c] = df[c].to_numpy()[good]
        parts.append(out)
    if parts:
        result = pd.concat(parts, ignore_index=True)
    else:
        names = [*grid.keys(), *keep]
        result = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in names})
    result["pareto"] = (
        pareto_mask(result[metrics].to_numpy(np.float64), directions)
        if len(result)
        else np.zeros(0, dtype=bool)
    )
    result.attrs.update(n_points=n, n_feasible=len(result), elapsed_s=time.perf_counter() - t0)
    return result
