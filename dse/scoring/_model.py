"""The one scorer: a design point (or a batch of them) through the cost model and a calibration.

Every model number in ``dse`` and ``app`` comes from here — the sweep's trials, the
model-level search, ``dse exhaustive`` screening, the build scheduler's predictions,
``dse estimate`` and the dashboard's Design page — so a point scored in two places gets the
same figures. This module is the only caller of ``cost_models.evaluate`` in ``dse`` and
``app`` (``tests/dse_tests/test_scoring.py`` checks it), in :meth:`Model.evaluate`.

- :class:`Model` is what a study scores against: workload, platform, architecture, GPU
  baseline and the fixed ``design:`` keys. :meth:`Model.evaluate` is the one call.
- :class:`~dse.scoring._calibration.Calibration` (frozen, versioned) is what builds taught it.
- :class:`Scorer` scores a batch of a study's searched points in one vectorised call and
  returns one named :class:`Score` per point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.scoring._calibration import RAW, Calibration

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
        if not calibration.active:
            return df
        return calibration.apply(df, full, self.platform.memory.pj_per_byte)

    def predict_build(
        self, point: Mapping[str, Any], units: Sequence[tuple[str, Mapping[str, int]]] | None = None
    ) -> dict[str, float]:
        """The raw model's values of what a build of ``point`` measures.

        The whole accelerator (``units`` None): the study model's figures, resources without
        the ``_fixed`` part (the platform shell, which the accelerator template does not
        build), ``<r>_fixed`` and ``<r>_util`` (of the total) beside them, and the clock.
        A unit template (``units``: its ``model_terms``): the sum of those units' models
        (``cost_models.unit_resources``), their utilisation of the device and no clock, the
        model predicting none for a few units alone.
        """
        if units is not None:
            return self._predict_units(units)
        df = self.evaluate(point, detail=True, baseline=False)
        row = df.iloc[0]
        out = {k: float(row[k]) for k in PREDICTED_KEYS if k in df.columns}
        for r in cm.RESOURCES:
            fixed = float(row[f"{r}_fixed"]) if f"{r}_fixed" in df.columns else 0.0
            out[f"{r}_fixed"] = fixed
            out[r] = max(out[r] - fixed, 0.0)
        return out

    def _predict_units(self, units: Sequence[tuple[str, Mapping[str, int]]]) -> dict[str, float]:
        avail = self.platform.available()
        out = dict.fromkeys(cm.RESOURCES, 0.0)
        for unit, params in units:
            for r, v in cm.unit_resources(unit, params, self.platform.dsp_kind).items():
                out[r] += float(np.asarray(v).reshape(-1)[0])
        for r in cm.RESOURCES:
            cap = float(getattr(avail, r))
            out[f"{r}_fixed"] = 0.0
            out[f"{r}_util"] = out[r] / cap if cap > 0 else 0.0
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


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = {c: df[c].to_numpy() for c in df.columns}
    return [{c: plain(v[i]) for c, v in cols.items()} for i in range(len(df))]
