"""The in-memory Optuna study a sweep samples from, mirroring the persisted trials."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from dse._optuna import HistoryStorage


def memory_study(name: str, directions: Sequence[str]) -> optuna.Study:
    """An in-memory study whose storage takes finished trials in bulk (``append_finished``)."""
    return optuna.create_study(
        storage=HistoryStorage(),
        study_name=name,
        directions=[str(d) for d in directions],  # type: ignore[misc]
    )


__all__ = ["HistoryStorage", "memory_study"]
