"""Sweeps: batched ask/tell over the cost models, persisted in bulk to an Optuna RDB.

``run_sweep(cfg, trials=..., resume=...)`` runs one worker; several processes may share a
study through one storage URL. ``load_trials`` reads a study back as a DataFrame for the
read commands (``dse status``, ``pareto``, ``export``).
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
    "run_sweep",
]
