"""The in-memory Optuna study a sweep samples from, mirroring the persisted trials."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial, TrialState


class HistoryStorage(InMemoryStorage):
    """``InMemoryStorage`` plus a bulk append of finished trials.

    ``Study.add_trials`` deep-copies and re-validates every trial (≈140 µs each, 14 s for a
    100,000-trial resume); trials read back from the database are fresh objects already, so
    they are appended as they are. This touches InMemoryStorage's private fields (Optuna
    5.0); the resume tests compare a resumed run with an uninterrupted one and catch drift.
    """

    def append_finished(self, study_id: int, trials: Sequence[FrozenTrial]) -> None:
        with self._lock:
            info = self._studies[study_id]
            for t in trials:
                trial_id = self._max_trial_id + 1
                self._max_trial_id = trial_id
                t.number = len(info.trials)
                t._trial_id = trial_id
                self._trial_id_to_study_id_and_number[trial_id] = (study_id, t.number)
                info.trials.append(t)
                for name, dist in t.distributions.items():
                    info.param_distribution.setdefault(name, dist)
                if len(info.directions) == 1 and t.state == TrialState.COMPLETE:
                    self._update_cache(trial_id, study_id)


def memory_study(name: str, directions: Sequence[str]) -> optuna.Study:
    return optuna.create_study(
        storage=HistoryStorage(),
        study_name=name,
        directions=[str(d) for d in directions],  # type: ignore[misc]
    )
