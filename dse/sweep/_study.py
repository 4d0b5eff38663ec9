"""A study in storage: create it, or reopen it for ``--resume`` only when it would score the
same way (its config fingerprint and the digests of what the config points to match); put
all its trials under a sweep's final calibration (:func:`rescore_stored`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from optuna.trial import TrialState

from dse.config import StudyConfig
from dse.errors import DseError
from dse.scoring import Scorer
from dse.sweep._store import TrialStore

# Sections whose change makes old trials meaningless for the new config.
FINGERPRINT_KEYS = (
    "workload",
    "platform",
    "arch",
    "baseline",
    "design",
    "space",
    "derived",
    "objectives",
    "constraints",
)


class StudyExists(DseError):
    """The study already has trials and ``--resume`` was not given."""


class StudyMismatch(DseError):
    """``--resume`` on a study created from a different config."""


def fingerprint(cfg: StudyConfig) -> str:
    doc = {k: cfg.resolved.get(k) for k in FINGERPRINT_KEYS}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def input_digests(cfg: StudyConfig) -> dict[str, str]:
    """Digests of what the config points to, as resolved: the workload (the shape a preset,
    a config.json or shape: gives, and the scenario), the platform data and the GPU baseline.

    The fingerprint covers the config's own text, which still reads ``hf_config: config.json``
    or ``platform: board.yaml`` after those files are edited; these digests change with them.
    """
    parts: dict[str, Any] = {"workload": cfg.workload, "platform": cfg.platform}
    if cfg.baseline is not None:
        parts["baseline"] = cfg.baseline
    return {
        k: hashlib.sha256(
            json.dumps(dataclasses.asdict(v), sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        for k, v in parts.items()
    }


def _changed_inputs(cfg: StudyConfig, recorded: Mapping[str, Any]) -> str:
    """Which resolved inputs differ from the ones a study was created with, in words."""
    now = input_digests(cfg)
    words = {
        "workload": f"the workload ({_workload_source(cfg)}) resolves to another model shape",
        "platform": f"the platform data of {cfg.resolved.get('platform')!r}",
        "baseline": f"the GPU baseline data of {cfg.resolved.get('baseline', 'a100')!r}",
    }
    keys = sorted(set(now) | set(recorded))
    return "; ".join(words.get(k, k) for k in keys if now.get(k) != recorded.get(k))


def _workload_source(cfg: StudyConfig) -> str:
    spec = cfg.resolved.get("workload") or {}
    for key in ("hf_config", "model"):
        if isinstance(spec, Mapping) and key in spec:
            return f"{key}: {spec[key]}"
    return "shape:"


def open_study(
    store: TrialStore, cfg: StudyConfig, url: str, resume: bool, attrs: dict[str, Any]
) -> int:
    """The study's id in ``store``: created with ``attrs`` (:func:`study_attrs`), or the
    existing one when ``resume`` and it was created from an equivalent config.

    Raises:
        StudyExists: the study has trials and ``resume`` is False.
        StudyMismatch: the stored study was created from a config that scores differently.
    """
    study_id = store.study_id(cfg.name)
    if study_id is not None and not resume:
        n = store.count(study_id)
        raise StudyExists(
            f"study {cfg.name!r} already exists in {url} with {n:,} trials; pass "
            "--resume to continue it, or change name: (or --storage) for a new study"
        )
    if study_id is None:
        metrics = [o.metric for o in cfg.objectives]
        directions = [o.direction for o in cfg.objectives]
        # what Study.set_metric_names writes
        created = store.create_study(cfg.name, directions, attrs, {"study:metric_names": metrics})
        if created is not None:
            return created
        # Another worker created it between our check and create: share it.
        study_id = store.study_id(cfg.name)
        assert study_id is not None
    stored = store.study_user_attrs(study_id)
    _check_inputs(store, cfg, url, study_id, stored)
    if stored.get("dse:fingerprint") != fingerprint(cfg):
        old = stored.get("dse:config") or {}
        changed = [k for k in FINGERPRINT_KEYS if old.get(k) != cfg.resolved.get(k)]
        raise StudyMismatch(
            f"{cfg.source}: {', '.join(changed) or 'config'}: differs from the config study "
            f"{cfg.name!r} in {url} was created with, so its trials would not be "
            "comparable; restore it or give the study a new name:"
        )
    return study_id


def _check_inputs(
    store: TrialStore, cfg: StudyConfig, url: str, study_id: int, attrs: Mapping[str, Any]
) -> None:
    """A resume must score with the physics the study was created with."""
    recorded = attrs.get("dse:inputs")
    if recorded is None:  # created before the digests were kept: keep them from now on
        store.rdb.set_study_user_attr(study_id, "dse:inputs", input_digests(cfg))
    elif recorded != input_digests(cfg):
        raise StudyMismatch(
            f"{cfg.source}: {_changed_inputs(cfg, recorded)}: changed since study "
            f"{cfg.name!r} in {url} was created, so new trials would be scored "
            "with other physics than its old ones; restore the file, or start a new study "
            "(--set name=NEW, or another --storage)"
        )


def study_attrs(cfg: StudyConfig) -> dict[str, Any]:
    """The study user attributes a new study is created with (what readers rely on)."""
    return {
        "dse:fingerprint": fingerprint(cfg),
        "dse:inputs": input_digests(cfg),
        "dse:config": json.loads(json.dumps(cfg.resolved, default=str)),
        "dse:objectives": [o.metric for o in cfg.objectives],
        "dse:directions": [o.direction for o in cfg.objectives],
        "dse:constraints": cfg.constraints.names(),
        "dse:params": {p.optuna_name: p.name for p in cfg.space.params},
        "dse:arch": cfg.arch,
    }


def rescore_stored(store: TrialStore, study_id: int, cfg: StudyConfig, scorer: Scorer) -> int:
    """Score every complete stored trial again under the final calibration; store it.

    A calibrated sweep scored its early trials with the raw model; at its end the whole
    study is put under the final calibration, so its front (``dse pareto``, ``dse
    promote best:``, the dashboard, Optuna's own tools) means the same thing for every
    trial. Returns the number of trials rewritten.
    """
    got = store.load(study_id, user_attrs=("point",))
    todo = [
        (tid, t.user_attrs["point"])
        for tid, t in zip(got.trial_ids, got.trials, strict=True)
        if t.state == TrialState.COMPLETE and isinstance(t.user_attrs.get("point"), dict)
    ]
    if not todo:
        return 0
    names = [p.name for p in cfg.space.params]
    rows = [{n: pt[n] for n in names if pt.get(n) is not None} for _, pt in todo]
    ids, values, cons, attrs = [], [], [], []
    version = scorer.calibration.version
    for (tid, _), s in zip(todo, scorer.score(rows), strict=True):
        if s.error is not None or s.values is None:
            continue  # a point the model can no longer score keeps its old values
        ids.append(tid)
        values.append(s.values)
        cons.append(s.constraints)
        attrs.append({"metrics": s.metrics, "calibration": version})
    has_cons = bool(cfg.constraints.names())
    store.rescore(ids, values, cons if has_cons else None, attrs)
    return len(ids)
