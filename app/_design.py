"""One design point as the study scored it: the final calibrated model, and what it shows.

``score_point`` is the dashboard's door to the one scorer (``dse.scoring``): the study's
stored config as a ``Model``, then the study's ``Calibration`` — the corrections of its latest
fit for its build flow, with its clock guard band, and the neighbourhoods its measured builds
ruled out — i.e. what ``dse sweep`` did when it re-scored the study at its end. Every page
that shows a model number for a point takes it from here; the raw model is kept beside it as
a secondary view.

The rest turns a scored row into the tables of the Design page: per-operator time, per-SLR
resources, per-channel bandwidth of the memory channel map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

import cost_models as cm
from dse.calibration import Correction, applies
from dse.scoring import Calibration, Model, cones_of


@dataclass(frozen=True)
class Scored:
    """A point scored by the raw model and by the study's final calibrated model."""

    raw: pd.Series
    calibrated: pd.Series
    platform: Any
    arch: str
    flow: str | None  # the flow whose corrections were applied (None: no calibration)
    corrected: tuple[str, ...]  # model columns the calibration changed
    applied: tuple[Correction, ...] = ()  # the corrections in force (metric, its rung's flow)


def latest_corrections(calibrations: pd.DataFrame) -> dict[tuple[str, str], Correction]:
    """The corrections of a study's most recent fit (``dse_calibrations`` rows)."""
    if calibrations is None or calibrations.empty:
        return {}
    last = calibrations[calibrations["fitted_at"] == calibrations["fitted_at"].max()]
    return {
        (str(r["metric"]), str(r["flow"])): Correction(
            str(r["metric"]),
            str(r["flow"]),
            float(r["intercept"]),
            float(r["slope"]),
            int(r["n"]),
            float(r["spread"]),
            str(r["method"]),
        )
        for _, r in last.iterrows()
    }


def study_flow(config: Mapping[str, Any], platform: Any) -> str:
    """The build flow a study calibrates with: its ``build.flow``, else the platform's default
    flow (``dse.buildspec.default_flow``, as the sweep's build scheduler picks it)."""
    from dse.buildspec import default_flow

    flow = _build(config).get("flow")
    return str(flow or default_flow(platform))


def clock_margin(config: Mapping[str, Any]) -> float:
    margin = _build(config).get("clock_margin", 0.05)
    return float(margin) if isinstance(margin, int | float) else 0.05


def study_calibration(
    config: Mapping[str, Any],
    calibrations: pd.DataFrame | None,
    builds: pd.DataFrame | None = None,
) -> Calibration:
    """The study's final calibration from its stored tables: the latest fit's corrections
    for the study's flow, and the cones of its finished builds (``dse_builds`` rows)."""
    model = Model.stored(config)
    flow = study_flow(config, model.platform)
    fitted = latest_corrections(calibrations) if calibrations is not None else {}
    mine = tuple(c for (m, f), c in fitted.items() if applies(m, f, flow))
    cones = cones_of(_build_rows(builds), _max_util(config))
    template, base = None, {}
    if cones:
        from dse.buildspec import default_template, model_defaults
        from runners import load_template

        name = _build(config).get("template") or default_template(model.arch)
        template = load_template(str(name))
        base = {**model_defaults(model), **model.design}  # type: ignore[arg-type]
    return Calibration(
        version=int(bool(mine or cones)),
        flow=flow,
        corrections=mine,
        clock_margin=clock_margin(config),
        cones=cones,
        template=template,
        base=base,
    )


def score_point(
    config: Mapping[str, Any],
    point: Mapping[str, Any],
    calibration: Calibration | Mapping[tuple[str, str], Correction],
    *,
    freq_mhz: float | None = None,
) -> Scored:
    """Score ``point`` with the study's stored config and its final calibration
    (:func:`study_calibration`; bare corrections are taken as a fit without cones).

    ``freq_mhz`` replaces the point's clock (e.g. a build's measured Fmax, to derive what the
    design delivers at the clock it reached). Raises ``cost_models.InputError`` (or
    ``ValueError``) when the stored config or point no longer resolves.
    """
    model = Model.stored(config)
    if not isinstance(calibration, Calibration):
        flow = study_flow(config, model.platform)
        mine = tuple(c for (m, f), c in calibration.items() if applies(m, f, flow))
        calibration = Calibration(int(bool(mine)), flow, mine, clock_margin(config))
    full = {k: v for k, v in point.items() if v is not None and not _nan(v)}
    if freq_mhz is not None:
        full["freq_mhz"] = float(freq_mhz)
    raw = model.evaluate(full, detail=True)
    calibrated = model.evaluate(full, calibration, detail=True)
    changed = tuple(
        c
        for c in raw.columns
        if pd.api.types.is_numeric_dtype(raw[c])
        and not np.allclose(
            raw[c].to_numpy(float), calibrated[c].to_numpy(float), rtol=1e-12, equal_nan=True
        )
    )
    fitted = calibration.flow if calibration.corrections else None
    return Scored(
        raw.iloc[0],
        calibrated.iloc[0],
        model.platform,
        model.arch,
        fitted,
        changed,
        tuple(calibration.corrections),
    )


def held_out(builds: pd.DataFrame | None) -> dict[tuple[str, str], list[float]]:
    """Per (metric, flow): leave-one-out errors (%) over the study's whole-design builds,
    each build predicted by the correction fitted on the others (none for a group of one);
    unit-template builds calibrate nothing of the design, so they are left out."""
    from dse.calibration import held_out_errors
    from dse.sweep._fit import WHOLE_DESIGN_TEMPLATES, observations

    obs = observations(_build_rows(builds))  # type: ignore[arg-type]
    return held_out_errors(o for o in obs if o.template in WHOLE_DESIGN_TEMPLATES)


def _build(config: Mapping[str, Any]) -> Mapping[str, Any]:
    build = config.get("build") or {}
    return build if isinstance(build, Mapping) else {}


def _max_util(config: Mapping[str, Any]) -> dict[str, float]:
    cons = config.get("constraints") or {}
    caps = cons.get("max_util") if isinstance(cons, Mapping) else None
    return {str(k): float(v) for k, v in (caps or {}).items()}


def _build_rows(builds: pd.DataFrame | None) -> list[SimpleNamespace]:
    """``dse_builds`` frame rows as the objects ``cones_of`` reads, in build order."""
    if builds is None or builds.empty:
        return []
    out = []
    for r in builds.sort_values("build_id").to_dict("records"):
        number = r.get("trial_number")
        r["trial_number"] = None if number is None or _nan(number) else int(number)
        r["failure_class"] = None if _nan(r.get("failure_class")) else r.get("failure_class")
        out.append(SimpleNamespace(**{str(k): v for k, v in r.items()}))
    return out


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def headline(s: Scored) -> list[tuple[str, str, str]]:
    """(label, value, note) of the figures a user asks for first, from the calibrated model."""
    r = s.calibrated
    target = float(r["freq_mhz"])
    achievable = float(r["achievable_clock_mhz"])
    out = [
        ("decode", f"{r['decode_tokens_per_s']:,.4g} tok/s", f"{r['bound_decode']}-bound"),
        (
            "time to first token",
            _seconds(float(r["prefill_latency_s"])),
            f"prompt prefill, {r['bound_prefill']}-bound",
        ),
        (
            "clock target / achievable",
            f"{target:,.0f} / {achievable:,.0f} MHz",
            f"{target:.4g} MHz target; the calibrated model reaches {achievable:.4g} MHz"
            + ("" if target <= achievable else " (target above achievable)"),
        ),
    ]
    speed = r.get("decode_speedup_vs_gpu")
    if isinstance(speed, int | float) and math.isfinite(speed):
        out.append(
            (
                "decode vs GPU baseline",
                f"{speed:,.3g}× speed",
                f"GPU: {float(r['gpu_decode_tokens_per_s']):,.4g} tok/s",
            )
        )
    energy = r.get("energy_ratio_vs_gpu")
    if isinstance(energy, int | float) and math.isfinite(energy):
        out.append(
            (
                "energy per token",
                f"{float(r['energy_per_token_j']):.3g} J",
                f"the GPU baseline uses {energy:,.3g}× this per token",
            )
        )
    return out


def _seconds(t: float) -> str:
    if t >= 1:
        return f"{t:,.3g} s"
    if t >= 1e-3:
        return f"{t * 1e3:,.3g} ms"
    return f"{t * 1e6:,.3g} µs"


def operator_breakdown(row: pd.Series, arch: str) -> pd.DataFrame:
    """Per operator and phase: seconds, time as a share of the phase's latency, what bounds it.

    Operators are not simply additive: in the spatial architecture they are concurrent
    pipeline stages (the phase takes as long as its slowest stage, so shares add up to more
    than 100 %); in the temporal one each operator's time already overlaps its own compute
    and memory. ``share`` is therefore ``seconds / phase latency``, never a share of a sum,
    and ``critical`` marks the operator that sets the phase's pace (the slowest stage).
    """
    out = []
    for phase in ("prefill", "decode"):
        prefix = f"op_{phase}_"
        names = [
            k[len(prefix) : -2] for k in row.index if k.startswith(prefix) and k.endswith("_s")
        ]
        times = {n: float(row[f"{prefix}{n}_s"]) for n in names}
        latency = float(row[f"{phase}_latency_s"]) or 1.0
        slowest = max(times, key=lambda n: times[n]) if times else None
        verdict = str(row.get(f"bound_{phase}", ""))
        for n, t in times.items():
            if n in ("memory", "link"):
                kind = n
            elif n == "overhead" or "fill" in n:
                kind = "overhead"
            else:
                kind = "compute"
            out.append(
                {
                    "phase": phase,
                    "operator": n,
                    "seconds": t,
                    "share": t / latency,
                    "bound": kind,
                    "critical": f"slowest ({verdict}-bound phase)" if n == slowest else "",
                }
            )
    return pd.DataFrame(out, columns=["phase", "operator", "seconds", "share", "bound", "critical"])


def resources_table(s: Scored) -> pd.DataFrame:
    """Each resource: calibrated and raw model use, device (after the shell), utilisation."""
    avail = s.platform.available().as_dict()
    rows = []
    for r in cm.RESOURCES:
        rows.append(
            {
                "resource": r,
                "used (calibrated)": float(s.calibrated[r]),
                "used (raw model)": float(s.raw[r]),
                "of which shell-side fixed logic": float(s.raw.get(f"{r}_fixed", 0.0)),
                "available": float(avail[r]),
                "util": float(s.calibrated[f"{r}_util"]),
            }
        )
    return pd.DataFrame(rows)


def slr_table(s: Scored) -> pd.DataFrame:
    """Calibrated use per SLR: units (layers or cores) dealt round-robin, the design's fixed
    logic in the shell's SLR (the rule of ``cost_models._evaluate._slr_violation``)."""
    r, raw = s.calibrated, s.raw
    slrs = s.platform.slr_available()
    k = len(slrs)
    units = float(r["layers_built"])
    q, rem = math.floor(units / k), units - math.floor(units / k) * k
    rows = []
    for i, slr in enumerate(slrs):
        here = q + (1 if rem > i else 0)
        row: dict[str, Any] = {"SLR": i, "units": here}
        for res in cm.RESOURCES:
            fixed = float(raw.get(f"{res}_fixed", 0.0))
            # The calibration rescales the per-unit part (total - fixed) as a whole.
            var_raw = float(raw[res]) - fixed
            scale = (float(r[res]) - fixed) / var_raw if var_raw > 0 else 1.0
            need = here * float(raw[f"{res}_per_layer"]) * scale
            if i == s.platform.shell_slr:
                need += fixed
            have = float(getattr(slr, res))
            row[res] = need
            row[f"{res} %"] = 100.0 * need / have if have > 0 else (0.0 if need == 0 else math.inf)
        rows.append(row)
    return pd.DataFrame(rows)


def channel_map(point: Mapping[str, Any], channels: int) -> pd.DataFrame:
    """Which tensor group uses each memory channel (``docs/models.md``, Memory channels).

    Groups take contiguous channel ranges in the order of ``cost_models.GROUPS``, wrapping
    around; a channel listed under two groups is shared (the groups contend for it).
    """
    rows = []
    start = 0
    for g in cm.GROUPS:
        n = int(point.get(f"hbm_ch_{g}", 0) or 0)
        for i in range(n):
            rows.append({"channel": (start + i) % channels, "group": g})
        start += n
    df = pd.DataFrame(rows, columns=["channel", "group"])
    users = df.groupby("channel")["group"].transform("size") if len(df) else df["group"]
    return df.assign(shared=users > 1)


def channel_bandwidth(row: pd.Series, platform: Any) -> pd.DataFrame:
    """Per memory channel during decode: GB/s each group needs there, against what it gives.

    A group's bytes per decoded token (``bytes_<group>``) are spread evenly over its
    channels and moved in one token's decode latency; a channel's usable bandwidth is its
    peak times the platform's efficiency for the point's placement (local or global).
    """
    mem = platform.memory
    local = str(row.get("hbm_placement", 0)) in ("0", "0.0", "local")
    channels = int(mem.channels)
    mapping = channel_map({str(k): v for k, v in row.items()}, channels)
    latency = float(row["decode_latency_s_per_token"]) or math.inf
    usable = float(mem.channel_gbps) * float(mem.eff_local if local else mem.eff_global)
    need = {c: 0.0 for c in range(channels)}
    groups: dict[int, list[str]] = {c: [] for c in range(channels)}
    for g in cm.GROUPS:
        mine = mapping.loc[mapping["group"] == g, "channel"].tolist()
        per = float(row.get(f"bytes_{g}", 0.0) or 0.0) / max(1, len(mine)) / latency / 1e9
        for c in mine:
            need[int(c)] += per
            groups[int(c)].append(g)
    return pd.DataFrame(
        {
            "channel": list(range(channels)),
            "groups": [", ".join(groups[c]) or "-" for c in range(channels)],
            "needed GB/s": [need[c] for c in range(channels)],
            "usable GB/s": [usable] * channels,
            "load %": [100.0 * need[c] / usable if usable else math.nan for c in range(channels)],
        }
    )
