"""The calibration the one scorer applies: frozen, versioned, built from a study's builds.

A :class:`Calibration` holds the corrections fitted on real builds for one flow
(``dse.calibration``), the clock guard band, and the neighbourhoods measured builds ruled out
(:class:`Cone`). ``RAW`` is the uncalibrated model (version 0). The sweep's build scheduler
makes a new version after every build that changes what the model knows; the dashboard
rebuilds the study's final one from its stored tables (``app._design.study_calibration``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dse.calibration import Correction, apply_corrections

INFEASIBLE_FAILURES = ("over_utilization", "timing_not_met", "routing_congestion")


@dataclass(frozen=True)
class Cone:
    """The neighbourhood a measured-infeasible build rules out: every point whose template
    parameters are all at least as large (a template's parameters are sizes: lanes, rows,
    bits) and, for a timing failure, whose clock target is at least as high."""

    template: str
    params: dict[str, Any]
    clock_mhz: float | None  # set for a timing failure: only clocks >= this are ruled out
    why: str

    def covers(self, params: Mapping[str, Any], clock_mhz: float | None) -> bool:
        for k, v in self.params.items():
            q = params.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                if not isinstance(q, int | float) or q < v:
                    return False
            elif q != v:
                return False
        if self.clock_mhz is not None:
            return clock_mhz is not None and clock_mhz >= self.clock_mhz
        return True


def cone_of(build: Any, max_util: Mapping[str, float]) -> Cone | None:
    """The cone a finished build rules out, if any (``build``: a ``BuildRow`` or a row of the
    builds frame with the same fields; ``max_util``: the study's ``constraints.max_util``)."""
    clock = clock_target(build.point or {})
    if build.state == "failed" and build.failure_class in INFEASIBLE_FAILURES:
        timing = build.failure_class == "timing_not_met"
        why = f"measured {build.failure_class} (trial {build.trial_number})"
        return Cone(build.template, dict(build.params), clock if timing else None, why)
    if build.state != "done" or not build.measured:
        return None
    pred = build.predicted or {}
    for r, cap in max_util.items():
        m, pu = build.measured.get(r), pred.get(f"{r}_util")
        fixed = pred.get(f"{r}_fixed", 0.0)
        total = pred.get(r, 0.0) + fixed
        # Measured datapath + the shell part the template does not build, over the device's
        # capacity (the model's total / its utilisation).
        if isinstance(m, int | float) and total and pu and (m + fixed) * pu / total > cap:
            why = f"measured {r} over {cap:g} of the device (trial {build.trial_number})"
            return Cone(build.template, dict(build.params), None, why)
    return None


def cones_of(builds: Iterable[Any], max_util: Mapping[str, float]) -> tuple[Cone, ...]:
    """The cones of a study's builds, in the order given (the sweep's scheduler and the
    dashboard both use this, so they rule out the same points)."""
    found = (cone_of(b, max_util) for b in builds)
    return tuple(c for c in found if c is not None)


@dataclass(frozen=True)
class Calibration:
    """What real builds taught the model, frozen; ``version`` counts the refits of a sweep.

    ``template`` (a loaded ``runners`` template, for ``resolve_params``) and ``base`` (the
    point a template resolves from: model defaults and ``design:``) are needed only when
    there are ``cones``.
    """

    version: int = 0
    flow: str | None = None
    corrections: tuple[Correction, ...] = ()
    clock_margin: float = 0.0
    cones: tuple[Cone, ...] = ()
    template: Any = None
    base: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.corrections or self.cones)

    @property
    def by_key(self) -> dict[tuple[str, str], Correction]:
        return {(c.metric, c.flow): c for c in self.corrections}

    def refit(self, corrections: Iterable[Correction], cones: Iterable[Cone]) -> Calibration:
        """The next version, with these corrections and cones."""
        return replace(
            self, version=self.version + 1, corrections=tuple(corrections), cones=tuple(cones)
        )

    def apply(
        self, df: pd.DataFrame, point: Mapping[str, Any], mem_pj_per_byte: float = 0.0
    ) -> pd.DataFrame:
        """The model's output for ``point`` (a batch), corrected, with the cones applied
        (``mem_pj_per_byte``: the platform's memory energy, which a latency correction
        leaves as it is)."""
        if self.corrections and self.flow is not None:
            freq = _freq(point, len(df))
            df = apply_corrections(
                df, self.by_key, self.flow, freq, self.clock_margin, mem_pj_per_byte
            )
        if self.cones and self.template is not None:
            df = self._apply_cones(df, point)
        return df

    def _apply_cones(self, df: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        n = len(df)
        freq = _freq(point, n)
        bad = np.zeros(n, dtype=bool)
        why = [""] * n
        for i in range(n):
            row = {**self.base, **{k: _at(v, i) for k, v in point.items()}}
            try:
                params = self.template.resolve_params(row)
            except Exception:  # a point the template cannot express: no cone covers it
                continue
            clock = None if freq is None else float(np.asarray(freq)[i])
            for cone in self.cones:
                if cone.template == self.template.name and cone.covers(params, clock):
                    bad[i], why[i] = True, cone.why
                    break
        if not bad.any():
            return df
        out = df.copy()
        out["feasible"] = out["feasible"].to_numpy(dtype=bool) & ~bad
        base = out["violations"].astype(str).replace("nan", "")
        joined = (base + "; " + pd.Series(why, index=out.index)).str.strip("; ")
        out["violations"] = joined.where(bad, out["violations"].astype(str))
        return out


RAW = Calibration()


def clock_target(point: Mapping[str, Any]) -> float | None:
    for key in ("clock_mhz", "freq_mhz"):
        v = point.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
            return float(v)
    return None


def _freq(point: Mapping[str, Any], n: int) -> np.ndarray | None:
    v = point.get("freq_mhz")
    if v is None:
        return None
    arr = np.asarray(v, dtype=np.float64)
    return np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr


def _at(v: Any, i: int) -> Any:
    if isinstance(v, np.ndarray):
        x = v[i] if v.ndim else v
        return x.item() if isinstance(x, np.generic) else x
    return v
