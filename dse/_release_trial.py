"""Choosing the trial ``dse promote`` builds: a trial number or ``best:<metric>`` of a study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cost_models as cm
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


def select_trial(study: str, selector: str, storage: str | None, results: Path) -> StudyTrial:
    """Trial ``selector`` (a number, or ``best:<metric>``) of ``study``, with its point."""
    from dse.sweep._read import load_study_data, open_study

    with open_study(study, storage, results) as (store, sid, url):
        attrs = store.study_user_attrs(sid)
        objectives = list(attrs.get("dse:objectives") or [])
        if selector.startswith("best:"):
            metric = selector[len("best:") :]
            if metric not in objectives:
                hint = cm.did_you_mean(metric, objectives)
                raise ReleaseError(
                    f"TRIAL {selector!r}: {metric!r} is not an objective of study {study!r} "
                    f"(objectives: {', '.join(objectives) or 'none'})"
                    + (f"; {hint}" if hint else "")
                )
            best = load_study_data(study, url, results, full=False).summary()["best"][metric]
            if best is None:
                raise ReleaseError(f"TRIAL {selector!r}: study {study!r} has no feasible trial")
            number = int(best["trial"])
        elif selector.isdigit():
            number = int(selector)
        else:
            raise ReleaseError(
                f"TRIAL {selector!r}: expected a trial number or best:<metric> with an objective "
                f"of study {study!r} ({', '.join(f'best:{m}' for m in objectives) or 'none'})"
            )
        try:
            tid = store.rdb.get_trial_id_from_study_id_trial_number(sid, number)
        except KeyError:
            count = store.count(sid)
            have = f"it has trials 0..{count - 1}" if count else "it has no trials yet"
            raise ReleaseError(
                f"TRIAL {selector!r}: study {study!r} has no trial {number} ({have})"
            ) from None
        trial = store.rdb.get_trial(tid)
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
    cons = trial.system_attrs.get("constraints") or []
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
