"""Calibration: correct the cost model with what real builds measured.

A build measures the whole accelerator of a point (LUT, FF, DSP, BRAM, Fmax; cycles on the
``sim`` rung); the cost model predicted the same quantities for the same object (the study
model's whole-design figures, the platform's clock curve for Fmax, the cycle model for the
simulated run). Per metric and flow, the corrections are fitted
in log space, because model errors are multiplicative (a LUT rate 20 % off is 20 % off at
every size):

- with fewer than ``SLOPE_MIN_POINTS`` observations, a pure scale: the median of
  ``log(measured / predicted)`` (robust to one bad build);
- with more, a Theil-Sen line ``log m = a + b log p`` (the median of pairwise slopes, then the
  median intercept), which also corrects an error that grows with size; the slope is clamped
  to [0.5, 2] so a few points cannot produce a wild extrapolation.

``apply_corrections`` rescales the model's columns of a batch of design points (``lut`` and
``lut_util`` together, ``achievable_clock_mhz``, ...) and re-checks feasibility for them.

The accelerator template builds the design without the platform shell around it (the
models' ``<resource>_fixed`` columns: memory controllers, clock crossings), so for resources
the prediction paired with a measurement is the model's value *minus its fixed part*, and
the correction rescales only that part: ``corrected = fixed + correction(total - fixed)``.
Which builds calibrate (the whole accelerator, not a unit template) and the ×0.5–×2 sanity
range (``sanity_check``) are applied by the sweep (``dse.sweep._fit``).

Like with like (``not_comparable``, applied by every fit): a metric is calibrated only from
the rung that measures it (``RUNGS``: resources from synthesis or place and route, the clock
from place and route or a synthesis estimate, latency in cycles from the ``sim`` rung, paired
with the cycle model's figure for the same simulated run, ``SAME_RUN``), and only where the
model predicts it (a prediction of 0 for a flow, e.g. URAM on ECP5, is not calibrated).
Latency corrections are pure scales (cycles of a tiny model correct the seconds of a big one
only as a ratio); a study applies them whichever flow it builds on (``applies``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

SLOPE_MIN_POINTS = 5
SLOPE_RANGE = (0.5, 2.0)
SANITY_RANGE = (0.5, 2.0)  # measured / predicted of one object outside it: not comparable
# Measured metric -> the model column it corrects. ``fmax_mhz`` (place and route) and
# ``estimated_clock_mhz`` (synthesis estimate) both correct the achievable clock.
METRIC_COLUMNS = {
    "lut": "lut",
    "ff": "ff",
    "dsp": "dsp",
    "bram36": "bram36",
    "uram": "uram",
    "fmax_mhz": "achievable_clock_mhz",
    "estimated_clock_mhz": "achievable_clock_mhz",
}
# Latency measured by the sim rung -> the column it scales. Kept apart from METRIC_COLUMNS,
# whose pairs read the study model's column: a latency pairs with the run's own figure
# (``SAME_RUN``, ``predicted_for``).
LATENCY_COLUMNS = {"decode_cycles_per_token": "decode_latency_s_per_token"}
_BUILT = ("synth", "place_route", "bitstream")
# Metric -> the fidelities (runners' toolchain ``fidelity``) whose builds measure it.
RUNGS = {
    **{r: _BUILT for r in ("lut", "ff", "dsp", "bram36", "uram")},
    "fmax_mhz": ("place_route", "bitstream"),
    "estimated_clock_mhz": _BUILT,
    "decode_cycles_per_token": ("sim",),
}
# A latency metric is predicted for the simulated run itself (the sim rung's tiny model),
# not read from the study's columns: measured metric -> the prediction the run reports.
SAME_RUN = {"decode_cycles_per_token": "model_decode_cycles_per_token"}
# What a decode latency scale k moves: these columns by k ** power (energy and power follow
# in ``_scale_latency``: only their non-memory part scales).
LATENCY_SCALED = {
    "decode_latency_s_per_token": 1,
    "decode_latency_s": 1,
    "decode_tokens_per_s": -1,
    "decode_speedup_vs_gpu": -1,
    "hbm_bw_util": -1,  # the same bytes per token in k times the time
}


@dataclass(frozen=True)
class Observation:
    """One measured value next to the model's prediction of the same quantity."""

    metric: str
    flow: str
    template: str
    predicted: float
    measured: float
    build: str = ""  # which build measured it (a trial, a bundle hash), for messages


@dataclass(frozen=True)
class Correction:
    """``corrected = exp(intercept) * predicted ** slope`` for one metric and flow."""

    metric: str
    flow: str
    intercept: float
    slope: float
    n: int
    spread: float  # median absolute deviation of the log residuals after correcting
    method: str  # "scale" | "theil-sen"

    def __call__(self, predicted: np.ndarray | float) -> np.ndarray:
        p = np.maximum(np.asarray(predicted, dtype=float), 1e-12)
        return np.exp(self.intercept) * p**self.slope

    @property
    def scale_at_one(self) -> float:
        """The multiplicative correction for a prediction of 1 (the pure-scale factor)."""
        return math.exp(self.intercept)

    def to_dict(self) -> dict[str, object]:
        """JSON-able record."""
        return asdict(self)


def column_of(metric: str) -> str | None:
    """The model column a measured metric corrects (None: not a calibrated metric)."""
    return METRIC_COLUMNS.get(metric) or LATENCY_COLUMNS.get(metric)


def flow_fidelity(flow: str) -> str | None:
    """The fidelity of a registered flow (None for a name runners does not know)."""
    from runners import TOOLCHAINS

    toolchain = TOOLCHAINS.get(flow)
    return toolchain.fidelity if toolchain is not None else None


def applies(metric: str, fitted_on: str, flow: str) -> bool:
    """Whether a correction of ``metric`` fitted on ``fitted_on``'s builds corrects a study
    scored for ``flow``: resources and clock only from that flow's own builds; latency (the
    ``sim`` rung's cycles, a ratio) whichever flow the study's resources come from."""
    return fitted_on == flow or metric in LATENCY_COLUMNS


def predicted_for(
    metric: str, measured: Mapping[str, object], predicted: Mapping[str, object]
) -> float | None:
    """The model's prediction of the object a build measured as ``metric``: the run's own
    figure for a latency metric (``SAME_RUN``), else the study model's column."""
    if metric in SAME_RUN:
        value = measured.get(SAME_RUN[metric])
    else:
        column = METRIC_COLUMNS.get(metric)
        value = predicted.get(column) if column else None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None  # type: ignore[arg-type]


def not_comparable(ob: Observation) -> str | None:
    """Why ``ob`` cannot calibrate its metric (None when it can): measured by a rung that
    does not measure it, or not predicted by the model for that flow."""
    if ob.metric not in RUNGS:
        return None  # not a calibrated metric: left out quietly, as before
    fidelity = flow_fidelity(ob.flow)
    who = f"build {ob.build or ob.template}: {ob.metric} ({ob.flow})"
    if fidelity is not None and fidelity not in RUNGS[ob.metric]:
        return (
            f"{who} measured {ob.measured:g} at {fidelity} fidelity; it is calibrated only "
            f"from {' / '.join(RUNGS[ob.metric])} builds"
        )
    if not ob.predicted > 0:
        return f"{who} measured {ob.measured:g}; the model predicts none for it: not calibrated"
    return None


def _log_pairs(
    observations: Iterable[Observation],
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Per (metric, flow): (log predicted, log measured); non-positive values are skipped."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for ob in observations:
        if column_of(ob.metric) and ob.predicted > 0 and ob.measured > 0:
            if not_comparable(ob):
                continue
            groups[(ob.metric, ob.flow)].append((math.log(ob.predicted), math.log(ob.measured)))
    return {
        key: (np.array([p for p, _ in v]), np.array([m for _, m in v])) for key, v in groups.items()
    }


def sanity_check(
    observations: Iterable[Observation], bounds: tuple[float, float] = SANITY_RANGE
) -> tuple[list[Observation], list[str]]:
    """Split observations into those a correction may use and one refusal line per other.

    A measurement more than ``bounds`` away from its prediction (×0.5–×2 by default; a
    measured 0 too) says the two are not the same object (a few units against a whole
    design, another flow's report) or that the model is broken there: either way it is
    refused, by name, instead of silently rescaling a study, and the model is what to fix.
    So is one that ``not_comparable`` rules out (another rung's metric, a metric the model
    does not predict). Each line names the build, the metric and flow, the measured and the
    predicted value.
    """
    kept, refused = [], []
    lo, hi = bounds
    for ob in observations:
        why = not_comparable(ob)
        if why is not None:
            refused.append(why)
        elif ob.predicted > 0 and not lo <= ob.measured / ob.predicted <= hi:
            refused.append(
                f"build {ob.build or ob.template}: {ob.metric} ({ob.flow}) measured "
                f"{ob.measured:g}, the model predicted {ob.predicted:g} "
                f"(x{ob.measured / ob.predicted:.3g}, outside x{lo:g}-x{hi:g})"
            )
        else:
            kept.append(ob)
    return kept, refused


def held_out_errors(observations: Iterable[Observation]) -> dict[tuple[str, str], list[float]]:
    """Per (metric, flow): leave-one-out relative errors (%) of the corrected prediction.

    Each observation is predicted by the correction fitted to the others of its group, so
    the figures are held out, not in-sample; a group of one has no figure.
    """
    groups: dict[tuple[str, str], list[Observation]] = defaultdict(list)
    for ob in observations:
        ok = column_of(ob.metric) is not None and ob.predicted > 0 and ob.measured > 0
        if ok and not not_comparable(ob):
            groups[(ob.metric, ob.flow)].append(ob)
    out: dict[tuple[str, str], list[float]] = {}
    for key, obs in groups.items():
        errs = []
        for i, ob in enumerate(obs):
            fit = fit_corrections(obs[:i] + obs[i + 1 :]).get(key)
            if fit is not None:
                pred = float(fit(ob.predicted))
                errs.append(100.0 * abs(pred - ob.measured) / ob.measured)
        if errs:
            out[key] = errs
    return out


def fit_corrections(
    observations: Iterable[Observation], sanity: tuple[float, float] | None = None
) -> dict[tuple[str, str], Correction]:
    """Fit one correction per (metric, flow); observations with non-positive values are skipped.

    With ``sanity`` (e.g. ``SANITY_RANGE``), observations outside it are left out (see
    ``sanity_check``, which also says which and why), and a line whose factor leaves the
    range somewhere over the builds' predictions falls back to the pure scale (the median of
    ratios that are all inside it, so inside too).
    """
    if sanity is not None:
        observations, _ = sanity_check(observations, sanity)
    out: dict[tuple[str, str], Correction] = {}
    for (metric, flow), (lp, lm) in _log_pairs(observations).items():
        scale_only = metric in LATENCY_COLUMNS
        slope, method = 1.0, "scale"
        if not (scale_only or len(lp) < SLOPE_MIN_POINTS or np.ptp(lp) < 1e-9):
            i, j = np.triu_indices(len(lp), 1)
            dx = lp[j] - lp[i]
            ok = np.abs(dx) > 1e-9
            slope = float(np.median((lm[j] - lm[i])[ok] / dx[ok]))
            slope = float(np.clip(slope, *SLOPE_RANGE))
            method = "theil-sen"
            factor = np.median(lm - slope * lp) + (slope - 1.0) * lp  # log(corrected / p)
            inside = sanity is None or (
                np.all(factor >= math.log(sanity[0])) and np.all(factor <= math.log(sanity[1]))
            )
            if not inside:
                slope, method = 1.0, "scale"
        intercept = float(np.median(lm - slope * lp))
        resid = lm - (intercept + slope * lp)
        spread = float(np.median(np.abs(resid - np.median(resid))))
        out[(metric, flow)] = Correction(metric, flow, intercept, slope, len(lp), spread, method)
    return out


def calibration_errors(
    observations: Iterable[Observation], corrections: Mapping[tuple[str, str], Correction]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (metric, flow): median |log(measured / predicted)| before and after correcting."""
    out = {}
    for key, (lp, lm) in _log_pairs(observations).items():
        before = float(np.median(np.abs(lm - lp)))
        corr = corrections.get(key)
        after = float(np.median(np.abs(lm - np.log(corr(np.exp(lp)))))) if corr else before
        out[key] = (before, after)
    return out


def apply_corrections(
    df: pd.DataFrame,
    corrections: Mapping[tuple[str, str], Correction],
    flow: str,
    freq_mhz: np.ndarray | float | None = None,
    clock_margin: float = 0.0,
    mem_pj_per_byte: float = 0.0,
) -> pd.DataFrame:
    """Return a copy of ``evaluate``'s output with the corrections that apply to a study
    built on ``flow`` (``applies``: that flow's, and the sim rung's latency scale).

    Resource columns and their ``*_util`` scale together (only the part above a
    ``<resource>_fixed`` column when ``df`` has one, i.e. from ``evaluate(detail=True)``);
    a resource pushed over the device makes the point infeasible (``violations`` says
    "<res> over device (calibrated)"). When the clock is corrected and ``freq_mhz`` is
    given, a design clock above the corrected achievable clock does the same;
    ``clock_margin`` (e.g. 0.05) lowers the corrected clock by that share first, a guard
    band for place and route's run-to-run spread. A latency correction scales decode time,
    what follows from it (``LATENCY_SCALED``) and the energy per token but for its memory
    part (``decode_bytes_per_token`` x ``mem_pj_per_byte``, the same bytes whatever the time).
    """
    out = df.copy()
    newly = pd.Series("", index=out.index)
    chosen: dict[str, Correction] = {}
    for (metric, cflow), corr in corrections.items():
        column = column_of(metric)
        if not applies(metric, cflow, flow) or column is None or column not in out:
            continue
        if column in chosen and metric != "fmax_mhz":
            continue  # place and route wins over a synthesis estimate of the clock
        chosen[column] = corr
    for column, corr in chosen.items():
        if column in LATENCY_COLUMNS.values():  # a ratio measured on another model
            _scale_latency(out, corr.scale_at_one, mem_pj_per_byte)
            continue
        before = out[column].to_numpy(dtype=float)
        fixed_col = f"{column}_fixed"
        fixed = out[fixed_col].to_numpy(dtype=float) if fixed_col in out else 0.0
        after = fixed + corr(np.maximum(before - fixed, 0.0))
        if column == "achievable_clock_mhz":
            after = after * (1.0 - clock_margin)
        out[column] = after
        util = f"{column}_util"
        if util in out:
            ratio = np.divide(after, before, out=np.ones_like(after), where=before > 0)
            out[util] = out[util].to_numpy(dtype=float) * ratio
            over = out[util].to_numpy() > 1.0
            newly = newly.where(~over, newly + f"; {column} over device (calibrated)")
        elif column == "achievable_clock_mhz" and freq_mhz is not None:
            over = np.asarray(freq_mhz, dtype=float) > after
            newly = newly.where(~over, newly + "; clock above achievable (calibrated)")
    bad = newly != ""
    if "feasible" in out and bad.any():
        out["feasible"] = out["feasible"].to_numpy(dtype=bool) & ~bad.to_numpy()
        if "violations" in out:
            base = out["violations"].astype(str).replace("nan", "")
            joined = (base + newly).str.lstrip("; ")
            out["violations"] = joined.where(bad, out["violations"].astype(str))
    return out


def _scale_latency(out: pd.DataFrame, k: float, mem_pj_per_byte: float) -> None:
    """Decode time x ``k`` in ``out`` (in place), and what follows from it."""
    if "energy_per_token_j" in out:
        energy = out["energy_per_token_j"].to_numpy(dtype=float)
        bpt = out.get("decode_bytes_per_token", 0.0)
        mem = np.asarray(bpt, dtype=float) * mem_pj_per_byte * 1e-12
        after = k * (energy - mem) + mem
        ratio = np.divide(after, energy, out=np.ones_like(after), where=energy > 0)
        out["energy_per_token_j"] = after
        if "power_w" in out:  # energy per token / time per token
            out["power_w"] = out["power_w"].to_numpy(dtype=float) * ratio / k
        if "energy_ratio_vs_gpu" in out:
            out["energy_ratio_vs_gpu"] = out["energy_ratio_vs_gpu"].to_numpy(dtype=float) / ratio
    for column, power in LATENCY_SCALED.items():
        if column in out:
            out[column] = out[column].to_numpy(dtype=float) * k**power
