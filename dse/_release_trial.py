"""Choosing the trial ``dse promote`` builds: a trial number or ``best:<metric>`` of a study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cost_models as cm
from dse._optuna import CONSTRAINTS_KEY
from dse.layout import ResultsLayout
from dse.release import ReleaseError


@dataclass(frozen=True)
class StudyTrial:
    number: int
    selector: str
    state: str
    feasible: bool
    point: dict[str, Any]
    metrics: dict[str, Any]
    values: dict[str, float | None]
    duplicate_of: int | None
    config: dict[str, Any]
    storage: str


def select_trial(
    study: str, selector: str, storage: str | None, results: ResultsLayout | Path
) -> StudyTrial:
    """Trial ``selector`` (a number, or ``best:<metric>``) of ``study``, with its point."""
    from dse.sweep import read_trial

    found = read_trial(study, 0, storage, results)  # the study's attributes, or StudyNotFound
    attrs, url = found.attrs, found.url
    objectives = list(attrs.get("dse:objectives") or [])
    number = _trial_number(study, selector, objectives, url)
    got = read_trial(study, number, url)
    trial = got.trial
    if trial is None:
        have = f"it has trials 0..{got.count - 1}" if got.count else "it has no trials yet"
        raise ReleaseError(f"TRIAL {selector!r}: study {study!r} has no trial {number} ({have})")
    if trial.state.name != "COMPLETE":
        why = trial.user_attrs.get("error")
        raise ReleaseError(
            f"TRIAL {selector!r}: trial {number} of study {study!r} is {trial.state.name}"
            + (f" ({why})" if why else "")
            + "; promote a complete trial (see `dse pareto`)"
        )
    config = attrs.get("dse:config")
    if not isinstance(config, dict):
        raise ReleaseError(
            f"study {study!r} in {url} has no dse:config attribute (not made by `dse sweep`)"
        )
    cons = trial.system_attrs.get(CONSTRAINTS_KEY) or []
    values = list(trial.values or [])
    return StudyTrial(
        number=number,
        selector=selector,
        state=trial.state.name,
        feasible=all(c <= 0 for c in cons),
        point=dict(trial.user_attrs.get("point") or trial.params),
        metrics=dict(trial.user_attrs.get("metrics") or {}),
        values={m: (values[i] if i < len(values) else None) for i, m in enumerate(objectives)},
        duplicate_of=trial.user_attrs.get("duplicate_of"),
        config={"name": study, **config},
        storage=url,
    )


def _trial_number(study: str, selector: str, objectives: list[str], url: str) -> int:
    """The number ``selector`` names: itself, or the best trial of ``best:<metric>``."""
    from dse.sweep import load_study_data

    if selector.isdigit():
        return int(selector)
    if not selector.startswith("best:"):
        raise ReleaseError(
            f"TRIAL {selector!r}: expected a trial number or best:<metric> with an objective "
            f"of study {study!r} ({', '.join(f'best:{m}' for m in objectives) or 'none'})"
        )
    metric = selector[len("best:") :]
    if metric not in objectives:
        hint = cm.did_you_mean(metric, objectives)
        raise ReleaseError(
            f"TRIAL {selector!r}: {metric!r} is not an objective of study {study!r} "
            f"(objectives: {', '.join(objectives) or 'none'})" + (f"; {hint}" if hint else "")
        )
    best = load_study_data(study, url, full=False).summary()["best"][metric]
    if best is None:
        raise ReleaseError(f"TRIAL {selector!r}: study {study!r} has no feasible trial")
    return int(best["trial"])
