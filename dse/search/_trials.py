"""Between genomes and stored Optuna trials: what the model-level search reads and writes.

``persist`` scores genomes with the sweep engine's own scorer (so a stored trial carries
exactly what a trial-loop trial does: params, values, ``constraints``, ``point``,
``metrics``) and appends them in one transaction; ``stored`` turns a study's complete
trials back into genomes, minimised objectives and violations (to resume a search).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from dse.search._codec import Codec
from dse.search._score import Scorer


def stored(codec: Codec, scorer: Scorer, trials: list[FrozenTrial]) -> Any:
    """Genomes, minimised objectives and violations of the stored complete trials."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]
    k = len(scorer.metrics)
    g = codec.from_params([t.params for t in done])
    f = np.asarray([t.values for t in done], dtype=np.float64).reshape(-1, k) * scorer.signs
    cv = np.asarray(
        [float(np.clip(t.system_attrs.get("constraints") or [0.0], 0, None).sum()) for t in done]
    )
    on_grid = (g >= -1).all(axis=1)
    return g[on_grid], f[on_grid], cv[on_grid].reshape(-1)


def persist(sweep: Any, codec: Codec, genomes: np.ndarray, kinds: list[str]) -> tuple[int, int]:
    """Score ``genomes`` with the engine's scorer and store them as one batch of trials."""
    from dse.scoring import plain
    from dse.sweep._engine import CONSTRAINTS_KEY

    if len(genomes) == 0:
        return 0, 0
    rows = codec.rows(genomes)
    dists = {p.optuna_name: p.distribution() for p in codec.params}
    names = {p.name: p.optuna_name for p in codec.params}
    now = dt.datetime.now()
    trials: list[FrozenTrial] = []
    n_feasible = 0
    for row, kind, s in zip(rows, kinds, sweep.scorer.score(rows), strict=True):
        point = {**sweep.cfg.design, **row, **s.derived}
        attrs: dict[str, Any] = {"point": {k: plain(v) for k, v in point.items()}, "search": kind}
        system: dict[str, Any] = {}
        if s.error is not None or s.values is None:
            attrs["error"] = s.error or "not evaluated"
        else:
            attrs["metrics"] = s.metrics
            if sweep.cfg.constraints.names():
                system[CONSTRAINTS_KEY] = s.constraints
            n_feasible += s.feasible
        params = codec.params_of(row)
        trials.append(
            FrozenTrial(
                number=-1,
                state=TrialState.COMPLETE if "metrics" in attrs else TrialState.FAIL,
                value=None,
                values=s.values if "metrics" in attrs else None,
                datetime_start=now,
                datetime_complete=now,
                params=params,
                distributions={names[k]: dists[names[k]] for k in row},
                user_attrs=attrs,
                system_attrs=system,
                intermediate_values={},
                trial_id=-1,
            )
        )
    _, ids = sweep.store.append(sweep.study_id, trials)
    return len(ids), n_feasible
