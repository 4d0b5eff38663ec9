"""What a Pareto axis means: labels with units and direction, and where a build puts a trial.

A built trial is drawn at a *measured* position only on axes that the build measured, or
that follow from its measurements by a stated rule (``RULES``):

- resources (``lut``, ``lut_util``, ...): what the build measured is the design's datapath
  without the shell-side fixed logic the model adds (memory ports, controllers:
  ``<resource>_fixed``), so the measured value plus that modelled fixed part is drawn, the
  same convention as the predicted points (shell logic in on both sides);
- ``achievable_clock_mhz``: the measured Fmax (place and route), else the synthesis estimate;
- performance and energy (tok/s, latency, power, energy, speed-ups): the calibrated model
  re-run at the clock the build reached, min(target, measured Fmax), only when it
  measured one;
- anything else is not measured, and a build that measured none of an axis is not drawn as
  a measurement on that plot (the page says so);
- only a build of the whole accelerator (``WHOLE_DESIGN_TEMPLATES``) measures the design: a
  unit template's build is never drawn as the design's measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

import cost_models as cm
from dse.sweep._fit import WHOLE_DESIGN_TEMPLATES

UNITS = {
    "decode_tokens_per_s": "tok/s",
    "prefill_tokens_per_s": "tok/s",
    "prefill_latency_s": "s",
    "decode_latency_s_per_token": "s/token",
    "decode_latency_s": "s",
    "power_w": "W",
    "energy_per_token_j": "J/token",
    "achievable_clock_mhz": "MHz",
    "freq_mhz": "MHz",
    "hbm_bw_gbps": "GB/s",
    "decode_bytes_per_token": "bytes",
    "decode_speedup_vs_gpu": "× GPU",
    "prefill_speedup_vs_gpu": "× GPU",
    "energy_ratio_vs_gpu": "GPU energy ÷ this",
    **{r: "count" for r in cm.RESOURCES},
    **{f"{r}_util": "share of device after shell" for r in cm.RESOURCES},
}
HIGHER_BETTER = {
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "achievable_clock_mhz",
    "decode_speedup_vs_gpu",
    "prefill_speedup_vs_gpu",
    "energy_ratio_vs_gpu",
}
LOWER_BETTER = {
    "prefill_latency_s",
    "decode_latency_s_per_token",
    "decode_latency_s",
    "power_w",
    "energy_per_token_j",
    *cm.RESOURCES,
    *(f"{r}_util" for r in cm.RESOURCES),
}
CLOCK = "achievable_clock_mhz"
# Derived from a measured clock by re-running the calibrated model at it.
AT_CLOCK = {
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "prefill_latency_s",
    "decode_latency_s_per_token",
    "decode_latency_s",
    "power_w",
    "energy_per_token_j",
    "hbm_bw_gbps",
    "hbm_bw_util",
    "decode_speedup_vs_gpu",
    "prefill_speedup_vs_gpu",
    "energy_ratio_vs_gpu",
}
RULES = {
    "resource": "measured datapath + modelled shell-side fixed logic",
    "clock": "measured Fmax (place and route) or synthesis estimate",
    "at_clock": "calibrated model at min(target, measured Fmax)",
}


def metric_name(axis: str) -> str:
    return axis.removeprefix("metric_")


def axis_label(axis: str, directions: Mapping[str, str]) -> str:
    """``name (unit) · ↑ higher is better``; objectives take the study's direction."""
    name = metric_name(axis)
    unit = UNITS.get(name)
    text = name + (f" ({unit})" if unit else "")
    d = directions.get(axis) or directions.get(name)
    if d == "maximize" or (d is None and name in HIGHER_BETTER):
        text += " · ↑ higher is better"
    elif d == "minimize" or (d is None and name in LOWER_BETTER):
        text += " · ↓ lower is better"
    return text


def axis_rule(axis: str) -> str | None:
    """Which rule turns a build's measurements into this axis (None: not measurable)."""
    name = metric_name(axis)
    if name in cm.RESOURCES or name.removesuffix("_util") in cm.RESOURCES:
        return "resource"
    if name == CLOCK:
        return "clock"
    if name in AT_CLOCK:
        return "at_clock"
    return None


def measured_clock(measured: Mapping[str, Any]) -> tuple[float | None, str]:
    """The clock a build reached: (MHz, source) from P&R's Fmax, else synthesis's estimate."""
    for key, source in (("fmax_mhz", "Fmax"), ("estimated_clock_mhz", "synthesis estimate")):
        v = measured.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
            return float(v), source
    return None, ""


def measured_value(
    axis: str,
    measured: Mapping[str, Any],
    raw: pd.Series,
    available: Mapping[str, float],
    at_clock: Callable[[float], pd.Series] | None,
    target_mhz: float | None,
) -> float | None:
    """The value of ``axis`` a build's ``measured`` dict gives (``measured_value`` rules).

    ``raw``: the raw model's detailed row of the point (for its ``<resource>_fixed``);
    ``at_clock(mhz)``: the calibrated model's row at that clock.
    """
    name = metric_name(axis)
    rule = axis_rule(axis)
    if rule == "resource":
        res = name.removesuffix("_util")
        v = measured.get(res)
        if not isinstance(v, int | float) or isinstance(v, bool):
            return None
        total = float(v) + float(raw.get(f"{res}_fixed", 0.0) or 0.0)
        if name.endswith("_util"):
            return total / float(available[res]) if available.get(res) else None
        return total
    clock, _ = measured_clock(measured)
    if clock is None:
        return None
    if rule == "clock":
        return clock
    if rule == "at_clock" and at_clock is not None:
        row = at_clock(min(clock, target_mhz) if target_mhz else clock)
        v = row.get(name)
        return float(v) if isinstance(v, int | float) and math.isfinite(float(v)) else None
    return None


POSITION_COLUMNS = [
    "number",
    "build_id",
    "flow",
    "state",
    "failure_class",
    "drawn_at",
    "rule",
]


def build_positions(
    model: pd.DataFrame,
    builds: pd.DataFrame,
    axes: Sequence[str],
    raw_of: Callable[[pd.Series], pd.Series | None],
    at_clock_of: Callable[[pd.Series, float], pd.Series],
    available: Mapping[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured, failed): where finished builds are drawn on ``axes``.

    ``raw_of(build)``: the raw model's row of what the build built (its stored point, else
    its trial's); ``at_clock_of(build, mhz)``: the calibrated model's row of it at a clock.
    ``measured``: one row per successful build that measured (or lets a rule derive) every
    axis, at that position. ``failed``: every failed build, at its measured position when it
    has one (a timing failure measured Fmax and resources), else at its trial's *model*
    position (``model`` indexed by trial number); ``drawn_at`` says which. Successful builds
    that measured none of an axis are left out (the caller counts them); ``rule`` says how
    each measured axis was obtained.
    """
    measured_rows: list[dict[str, Any]] = []
    failed_rows: list[dict[str, Any]] = []
    for _, b in builds.iterrows():
        if b.get("state") not in ("done", "failed") or pd.isna(b.get("trial_number")):
            continue
        n = int(b["trial_number"])
        base: dict[str, Any] = {
            "number": n,
            "build_id": int(b["build_id"]),
            "flow": str(b["flow"]),
            "state": str(b["state"]),
            "failure_class": str(b.get("failure_class") or ""),
        }
        got = b.get("measured")
        values: dict[str, float] = {}
        # A unit template (e.g. llm_top) measured a few units, not this design: it is drawn
        # as a measurement of nothing here (the Design page shows it against its units' model).
        whole = str(b.get("template") or "") in WHOLE_DESIGN_TEMPLATES
        if isinstance(got, Mapping) and got and whole:
            raw = raw_of(b)
            point = b.get("point") if isinstance(b.get("point"), Mapping) else {}
            target = point.get("freq_mhz") if isinstance(point, Mapping) else None
            if raw is not None:

                def at_clock(mhz: float, b: pd.Series = b) -> pd.Series:
                    return at_clock_of(b, mhz)

                for axis in axes:
                    v = measured_value(
                        axis,
                        got,
                        raw,
                        available,
                        at_clock,
                        float(target) if isinstance(target, int | float) else None,
                    )
                    if v is not None:
                        values[axis] = v
        if len(values) == len(axes):
            clock, source = measured_clock(got) if isinstance(got, Mapping) else (None, "")
            rules = []
            for axis in axes:
                rule = axis_rule(axis)
                text = RULES.get(rule or "", "")
                if rule in ("clock", "at_clock") and clock is not None:
                    text += f" ({source} {clock:.4g} MHz)"
                rules.append(f"{metric_name(axis)}: {text}")
            row = {**base, **values, "drawn_at": "measured", "rule": "; ".join(rules)}
            # Where the model puts what was built (at its target clock): the line's origin.
            if target is not None and raw is not None:
                model_row = at_clock(float(target))
                for axis in axes:
                    v = model_row.get(metric_name(axis))
                    row[f"model_{axis}"] = float(v) if isinstance(v, int | float) else math.nan
            (measured_rows if b["state"] == "done" else failed_rows).append(row)
        elif b["state"] == "failed" and n in model.index:
            at = model.loc[[n]].iloc[0]
            pos = {a: float(at[a]) for a in axes if a in at.index}
            why = (
                "nothing measured on these axes"
                if whole
                else f"nothing measured of this design: {b.get('template')} builds units"
            )
            if len(pos) == len(axes):
                failed_rows.append({**base, **pos, "drawn_at": f"model ({why})", "rule": ""})
    cols = [*POSITION_COLUMNS, *axes, *(f"model_{a}" for a in axes)]
    return pd.DataFrame(measured_rows, columns=cols), pd.DataFrame(failed_rows, columns=cols)


def group_ties(front: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """One row per distinct objective vector of ``front``, its first trial, with ``ties``
    (how many designs share those values) and ``tied`` (their trial numbers, up to 12)."""
    if front.empty:
        return front.assign(ties=pd.Series(dtype="int64"), tied=pd.Series(dtype=object))
    key = front[list(objectives)].round(12)
    groups = front.groupby([key[c] for c in objectives], sort=False)["number"]
    ties = groups.transform("size")
    tied = groups.transform(
        lambda s: ", ".join(map(str, s.head(12))) + (" …" if len(s) > 12 else "")
    )
    out = front.assign(ties=ties.to_numpy(), tied=tied.to_numpy())
    return out.loc[~key.duplicated().to_numpy()]
