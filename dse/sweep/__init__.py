"""Sweeps: batched ask/tell over the cost models, persisted in bulk to an Optuna RDB.

Running: ``run_sweep(cfg, results=..., trials=..., resume=...)`` runs one worker with the
study and its builds under one results root (:class:`dse.layout.ResultsLayout`); several
processes may share a study through one storage URL.

Reading (the one study reader of the CLI, the dashboard and promote): ``list_studies``,
``open_study``, ``load_study_data`` (a study as a DataFrame: ``dse status``, ``pareto``,
``export``, promote), ``load_table`` / ``load_trial_attrs`` (column-wise, fast on 100,000
trials: the dashboard), ``load_builds``, ``study_stamp`` and ``violation_reasons``.
Nothing outside ``dse.sweep`` imports its private modules.
"""

from dse.sweep._buildloop import spec_key
from dse.sweep._builds import BuildsTable
from dse.sweep._engine import (
    StudyExists,
    StudyMismatch,
    SweepSummary,
    batch_seed,
)
from dse.sweep._peek import study_stamp, violation_reasons
from dse.sweep._read import (
    StoredTrial,
    StudyData,
    list_studies,
    load_builds,
    load_study_data,
    open_study,
    read_trial,
    resolve_storage,
)
from dse.sweep._run import run_sweep
from dse.sweep._store import StorageError, TrialStore, default_storage
from dse.sweep._table import load_table, load_trial_attrs, study_times

__all__ = [
    "BuildsTable",
    "StorageError",
    "StoredTrial",
    "StudyData",
    "StudyExists",
    "StudyMismatch",
    "SweepSummary",
    "TrialStore",
    "batch_seed",
    "default_storage",
    "list_studies",
    "load_builds",
    "load_study_data",
    "load_table",
    "load_trial_attrs",
    "open_study",
    "read_trial",
    "resolve_storage",
    "run_sweep",
    "spec_key",
    "study_stamp",
    "study_times",
    "violation_reasons",
]
