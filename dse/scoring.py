"""The one scorer: a design point (or a batch of them) through the cost model and a calibration.

Every model number in ``dse`` and ``app`` comes from here — the sweep's trials, the
model-level search, ``dse exhaustive`` screening, the build scheduler's predictions,
``dse estimate`` and the dashboard's Design page — so a point scored in two places gets the
same figures. This module is the only caller of ``cost_models.evaluate`` in ``dse`` and
``app`` (``tests/dse_tests/test_scoring.py`` checks it).

- :class:`Model` is what a study scores against: workload, platform, architecture, GPU
  baseline and the fixed ``design:`` keys. :meth:`Model.evaluate` is the one call.
- :class:`Calibration` is frozen and versioned: the corrections fitted on real builds for one
  flow, the clock guard band, and the neighbourhoods measured builds ruled out
  (:class:`Cone`). ``RAW`` is the uncalibrated model (version 0).
- :class:`Scorer` scores a batch of a study's searched points in one vectorised call and
  returns one named :class:`Score` per point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.calibration import Correction, apply_corrections

# Design-point metrics kept with every trial (plus the objective and constraint metrics).
KEY_METRICS = (
    "decode_tokens_per_s",
    "prefill_latency_s",
    "decode_latency_s_per_token",
    "power_w",
    "energy_per_token_j",
    "achievable_clock_mhz",
    "hbm_bw_util",
    *(f"{r}_util" for r in cm.RESOURCES),
    "n_fpga",
    "feasible",
    "violations",
)
# What a build's prediction holds: the quantities a build measures, from the raw model.
PREDICTED_KEYS = (*cm.RESOURCES, *(f"{r}_util" for r in cm.RESOURCES), "achievable_clock_mhz")
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

    def apply(self, df: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """The model's output for ``point`` (a batch), corrected, with the cones applied."""
        if self.corrections and self.flow is not None:
            freq = _freq(point, len(df))
            df = apply_corrections(df, self.by_key, self.flow, freq, clock_margin=self.clock_margin)
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


@dataclass(frozen=True)
class Model:
    """What a study scores against (see the module docstring)."""

    workload: Any
    platform: Any
    arch: str
    baseline: Any
    design: Mapping[str, Any]

    @classmethod
    def of(cls, cfg: Any) -> Model:
        """From a loaded :class:`dse.config.StudyConfig`."""
        return cls(cfg.workload, cfg.platform, cfg.arch, cfg.baseline, dict(cfg.design))

    @classmethod
    def stored(cls, config: Mapping[str, Any]) -> Model:
        """From a study's stored resolved config (``dse:config``). Raises
        ``cost_models.InputError`` or ``ValueError`` when it no longer resolves."""
        workload = cm.load_workload(config["workload"], source="stored study config")
        platform = cm.load_platform(str(config["platform"]))
        if not isinstance(platform, cm.Platform):
            raise ValueError(f"platform {config['platform']!r} is a GPU, not an FPGA platform")
        design = {k: v for k, v in (config.get("design") or {}).items() if v is not None}
        arch = str(config.get("arch", "spatial"))
        return cls(workload, platform, arch, config.get("baseline"), design)

    def evaluate(
        self,
        point: Mapping[str, Any],
        calibration: Calibration = RAW,
        *,
        detail: bool = False,
        baseline: bool = True,
    ) -> pd.DataFrame:
        """The model at ``point`` (scalars or equal-length columns, over ``design``), then
        ``calibration``. Corrections rescale resources above their fixed part, which only
        ``detail=True`` has, so an active correction asks for it."""
        full = {**self.design, **point}
        df = cm.evaluate(
            self.workload,
            self.platform,
            full,
            arch=self.arch,
            baseline=self.baseline if baseline else None,
            detail=detail or bool(calibration.corrections),
        )
        return calibration.apply(df, full) if calibration.active else df

    def predict_build(self, point: Mapping[str, Any]) -> dict[str, float]:
        """The raw model's values of what a build of ``point`` measures.

        Resources are the datapath's share (total minus the ``_fixed`` shell part, which no
        template builds); ``<r>_fixed`` and ``<r>_util`` (of the total) are kept beside them.
        """
        df = self.evaluate(point, detail=True, baseline=False)
        row = df.iloc[0]
        out = {k: float(row[k]) for k in PREDICTED_KEYS if k in df.columns}
        for r in cm.RESOURCES:
            fixed = float(row[f"{r}_fixed"]) if f"{r}_fixed" in df.columns else 0.0
            out[f"{r}_fixed"] = fixed
            out[r] = max(out[r] - fixed, 0.0)
        return out


@dataclass(frozen=True)
class Score:
    """One scored point. ``values`` is None when the model could not score it (``error``
    says why); ``derived`` holds the space's derived parameters at the point."""

    values: list[float] | None
    constraints: list[float]
    metrics: dict[str, Any] | None
    derived: dict[str, Any]
    error: str | None = None

    @property
    def feasible(self) -> bool:
        return self.values is not None and all(c <= 0 for c in self.constraints)


class Scorer:
    """Scores batches of a study's searched points (``space`` names) under a calibration.

    ``calibration`` is replaced, never mutated, when the builds refit the model.
    """

    def __init__(self, cfg: Any, calibration: Calibration = RAW) -> None:
        self.cfg, self.model, self.calibration = cfg, Model.of(cfg), calibration
        self.space = cfg.space
        self.metrics = [o.metric for o in cfg.objectives]
        self.specs = cm.param_specs(cfg.arch, cfg.platform)
        extra = [*self.metrics, *cfg.constraints.max, *cfg.constraints.min]
        self.keep = list(dict.fromkeys([*KEY_METRICS, *extra]))

    def score(self, rows: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Score ``rows`` (searched parameters in design units) in one model call."""
        if not rows:
            return []
        n = len(rows)
        cols = columns(rows, self.space)
        derived = self.space.derive(cols, n)
        errors = self._derived_errors(derived, n)
        ok = np.array([e is None for e in errors])
        derived_rows = [{k: plain(v[i]) for k, v in derived.items()} for i in range(n)]
        values = cons = np.empty((0, 0))
        records: list[dict[str, Any]] = []
        if ok.any():
            point = {k: v[ok] for k, v in {**cols, **derived}.items()}
            df = self.model.evaluate(point, self.calibration)
            values = df[self.metrics].to_numpy(np.float64)
            cons = self.cfg.constraints.evaluate(df)
            records = _records(df[[m for m in self.keep if m in df.columns]])
        out: list[Score] = []
        j = 0
        for i in range(n):
            if not ok[i]:
                out.append(Score(None, [], None, derived_rows[i], errors[i]))
                continue
            v = values[j]
            if np.isnan(v).any():
                out.append(Score(None, [], records[j], derived_rows[i], "objective is NaN"))
            else:
                out.append(Score(v.tolist(), cons[j].tolist(), records[j], derived_rows[i]))
            j += 1
        return out

    def derive_one(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The derived parameters at one point (no model call)."""
        cols = columns([row], self.space)
        return {k: plain(v[0]) for k, v in self.space.derive(cols, 1).items()}

    def _derived_errors(self, derived: Mapping[str, np.ndarray], n: int) -> list[str | None]:
        errors: list[str | None] = [None] * n
        for name, arr in derived.items():
            spec = self.specs[name]
            for bad in np.flatnonzero(~valid(spec, arr)):
                i = int(bad)
                errors[i] = errors[i] or (
                    f"derived {name} = {plain(arr[i])!r}: expected {spec.expected()}"
                )
        return errors


def valid(spec: cm.Param, arr: np.ndarray) -> np.ndarray:
    """Where a (derived) column holds an acceptable value for its cost-model parameter."""
    if spec.kind == "cat":
        return np.isin(arr.astype(object), list(spec.choices))
    try:
        v = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        return np.zeros(len(arr), dtype=bool)
    if spec.kind == "bool":
        return np.isin(v, (0.0, 1.0))
    good = np.isfinite(v)
    if spec.low is not None:
        good &= v >= spec.low
    if spec.high is not None:
        good &= v <= spec.high
    if spec.kind == "int":
        good &= v == np.round(v)
    return np.asarray(good)


def columns(rows: Sequence[Mapping[str, Any]], space: Any) -> dict[str, np.ndarray]:
    """Rows of searched parameters as one column per parameter (absent ones NaN/None)."""
    from dse.space import is_numeric

    cols: dict[str, np.ndarray] = {}
    for p in space.params:
        vals = [r.get(p.name) for r in rows]
        if p.type != "categorical" or is_numeric(p.choices):
            cols[p.name] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        else:
            cols[p.name] = np.array(vals, dtype=object)
    return cols


def plain(v: Any) -> Any:
    """A JSON-friendly Python scalar (NaN -> None)."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else v
    return v


def clock_target(point: Mapping[str, Any]) -> float | None:
    for key in ("clock_mhz", "freq_mhz"):
        v = point.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
            return float(v)
    return None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = {c: df[c].to_numpy() for c in df.columns}
    return [{c: plain(v[i]) for c, v in cols.items()} for i in range(len(df))]


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
