"""What the promote form offers: the flows a study's board allows and the trials worth
building."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

import cost_models as cm
from app._data_studies import front_mask
from dse.sweep import StudyData


def promote_flows(
    config: Mapping[str, Any], release_flows: Sequence[str]
) -> tuple[str, list[str], str]:
    """(default flow, flows allowed, part) for promoting a trial of a study on ``config``'s
    platform: only the flows its board file lists (``build.flows``); the default is what
    ``dse promote`` picks without ``--flow`` (``dse.buildspec.promote_choices``)."""
    from dse.buildspec import promote_choices

    plat = cm.load_platform(str(config.get("platform")))
    default, allowed = promote_choices(plat, release_flows)
    return default, allowed, str(getattr(plat, "part", "") or "")


def promote_templates(config: Mapping[str, Any]) -> list[str]:
    """Templates the Releases page offers, default first: what ``dse promote`` builds without
    ``--template`` (the arch's whole accelerator), then the study's own ``build.template``
    when it named another (units, as ``dse promote --template`` allows)."""
    from dse.buildspec import ACCELERATORS

    out = [t for t in (ACCELERATORS.get(str(config.get("arch"))),) if t]
    build = config.get("build")
    named = build.get("template") if isinstance(build, Mapping) else None
    if isinstance(named, str) and named not in out:
        out.append(named)
    return out


def promote_candidates(data: StudyData, builds: pd.DataFrame) -> pd.DataFrame:
    """Trials worth promoting: the front and every built trial, with their builds' timing.

    One row per trial: ``number``, ``on front``, ``builds`` (e.g. ``2 done, 1 failed``),
    ``fmax MHz`` / ``target MHz`` / ``slack ns`` of its best place-and-route build (slack =
    target period - critical path delay; negative: timing missed), and ``label``.
    """
    front = set(int(n) for n in data.frame.loc[front_mask(data), "number"])
    built: dict[int, list[Any]] = {}
    for _, b in builds.iterrows():
        if pd.notna(b.get("trial_number")):
            built.setdefault(int(b["trial_number"]), []).append(b)
    rows = []
    for n in sorted(front | set(built)):
        mine = built.get(n, [])
        states = pd.Series([str(b["state"]) for b in mine]).value_counts()
        fmax = target = slack = math.nan
        for b in mine:
            m = b.get("measured") if isinstance(b.get("measured"), Mapping) else {}
            point = b.get("point") if isinstance(b.get("point"), Mapping) else {}
            f, t = m.get("fmax_mhz"), point.get("freq_mhz")
            if isinstance(f, int | float) and isinstance(t, int | float) and f > 0 and t > 0:
                s = 1e3 / float(t) - 1e3 / float(f)
                if math.isnan(slack) or s > slack:
                    fmax, target, slack = float(f), float(t), s
        text = ", ".join(f"{k} {v}" for k, v in states.items()) or "not built"
        timing = "" if math.isnan(slack) else f", slack {slack:+.2f} ns"
        rows.append(
            {
                "number": n,
                "on front": n in front,
                "builds": text,
                "fmax MHz": fmax,
                "target MHz": target,
                "slack ns": slack,
                "label": f"trial {n} ({'front' if n in front else 'off front'}; {text}{timing})",
            }
        )
    cols = ["number", "on front", "builds", "fmax MHz", "target MHz", "slack ns", "label"]
    return pd.DataFrame(rows, columns=cols)
