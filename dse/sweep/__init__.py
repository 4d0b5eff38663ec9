"""Sweeps: batched ask/tell over the cost models, persisted in bulk to an Optuna RDB.

``run_sweep(cfg, trials=..., resume=...)`` runs one worker; several processes may share a
study through one storage URL. ``load_trials`` reads a study back as a DataFrame for the
read commands (``dse status``, ``pareto``, ``export``); ``load_table`` / ``load_trial_attrs``
read it column-wise for the dashboard (fast on 100,000 trials).
"""

from dse.sweep._builds import BuildsTable
from dse.sweep._engine import (
    StudyExists,
    StudyMismatch,
    SweepSummary,
    batch_seed,
    run_sweep,
)
from dse.sweep._read import load_builds, load_study_data
from dse.sweep._store import TrialStore, default_storage
from dse.sweep._table import load_table, load_trial_attrs, study_times

__all__ = [
    "BuildsTable",
    "StudyExists",
    "StudyMismatch",
    "SweepSummary",
    "TrialStore",
    "batch_seed",
    "default_storage",
    "load_builds",
    "load_study_data",
    "load_table",
    "load_trial_attrs",
    "run_sweep",
    "study_times",
]
