"""The build policy: which scored trials a round builds (``choose``) and build identity.

**Picking candidates.** The feasible trials are sorted into Pareto layers by their (corrected)
predicted objectives; within a layer the NSGA-II crowding distance orders them, extremes
first. A candidate is skipped when its build (template parameters, flow options, part) was
already requested, or when it lies within ``diversity`` of a build already picked, in
objective space normalised to [0, 1] per objective (the builds so far placed by the current
model). Hardware not built yet (template parameters) comes first, then new hardware the
model cannot tell apart from a pick (ties hide what the model is blind to), and the same
hardware at another clock only fills what is left.

The scheduler (:mod:`dse.sweep._scheduler`) calls the policy through one injectable
function with ``choose``'s signature.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from dse.buildspec import BuildSpec
from dse.pareto import pareto_mask

# What a build measures (the keys of ``measured``; dse.calibration.METRIC_COLUMNS maps them).
MEASURED_KEYS = ("lut", "ff", "dsp", "bram36", "uram", "fmax_mhz", "estimated_clock_mhz")


def spec_key(spec: BuildSpec, params: Mapping[str, Any]) -> str:
    """Identity of a build: same key, same bundle (template parameters, flow options, part)."""
    from runners import get_toolchain

    facts = {
        "template": spec.template,
        "params": dict(params),
        "options": get_toolchain(spec.flow).options(spec.point),
        "flow": spec.flow,
        "part": spec.part,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def choose(
    u: np.ndarray,
    built: np.ndarray,
    want: int,
    diversity: float,
    keys: Callable[[int], tuple[str, str] | None],
    taken_specs: set[str],
    taken_hw: set[str],
    *,
    layers: list[np.ndarray] | None = None,
) -> list[int]:
    """The build policy's choice: up to ``want`` rows of ``u`` (objectives, all minimised).

    ``built`` holds the objectives of the builds so far (same orientation); ``keys(j)`` gives
    row ``j``'s (build key, hardware key), or None when it cannot be built. Rows go by Pareto
    layer, crowding order within a layer; a row is skipped when its build key is taken, and
    in the passes that ask for it when its hardware is taken or it lies within ``diversity``
    (objective space normalised to [0, 1], scaled by sqrt(#objectives)) of a build or pick.
    Passes: new hardware, spread; new hardware, not spread (rows the model cannot tell
    apart may differ in what it is blind to); any hardware, spread. ``taken_specs`` and
    ``taken_hw`` are updated with the picks.
    """
    if len(u) == 0 or want <= 0:
        return []
    lo, hi = u.min(axis=0), u.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (u - lo) / span
    placed = [(b - lo) / span for b in built]
    radius = diversity * math.sqrt(u.shape[1])
    layers = layers if layers is not None else layers_of(u, want * 50)
    chosen: list[int] = []
    for new_hw, spread in ((True, True), (True, False), (False, True)):
        for layer in layers:
            for j in (int(k) for k in layer):
                if len(chosen) >= want:
                    return chosen
                if j in chosen:
                    continue
                if spread and any(np.linalg.norm(norm[j] - p) < radius for p in placed):
                    continue
                got = keys(j)
                if got is None or got[0] in taken_specs or (new_hw and got[1] in taken_hw):
                    continue
                chosen.append(j)
                taken_specs.add(got[0])
                taken_hw.add(got[1])
                placed.append(norm[j])
    return chosen


def hw_key(template: str, params: Mapping[str, Any]) -> str:
    """The hardware of a build: its template parameters without the flow's options."""
    return json.dumps([template, dict(params)], sort_keys=True, default=str)


def layers_of(u: np.ndarray, limit: int) -> list[np.ndarray]:
    """Row indices of ``u`` (minimise all) by Pareto layer, each in crowding order."""
    out: list[np.ndarray] = []
    remaining = np.arange(len(u))
    taken = 0
    directions = ["minimize"] * u.shape[1]
    while len(remaining) and taken < limit:
        mask = pareto_mask(u[remaining], directions)
        layer = remaining[mask]
        out.append(layer[np.argsort(-_crowding(u[layer]), kind="stable")])
        taken += len(layer)
        remaining = remaining[~mask]
    return out


def _crowding(v: np.ndarray) -> np.ndarray:
    n, m = v.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(v[:, k], kind="stable")
        span = v[order[-1], k] - v[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (v[order[2:], k] - v[order[:-2], k]) / span
    return dist
