"""What one ``dse sweep`` run did, for the CLI's closing lines."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dse.errors import DseError
from dse.sweep._scheduler import BuildSummary


@dataclass(frozen=True)
class SweepSummary:
    n_trials: int
    n_new: int
    n_feasible: int
    pareto_size: int
    elapsed_s: float
    trials_per_s: float
    storage_url: str
    study_name: str
    n_evaluated: int = 0
    n_duplicates: int = 0
    load_s: float = 0.0
    interrupted: bool = False
    builds: BuildSummary | None = None
    search: str = ""  # model-level search (dse.search): what it did, one line


def study_counts(s: SweepSummary) -> SweepSummary:
    """The feasible and Pareto counts of the whole stored study, as ``dse status`` gives
    them: trials other workers added count too, and every command uses one definition."""
    # Column-wise, not one FrozenTrial and one dict per trial: that read of the whole
    # study again cost a 100,000-trial resume about as much as loading the study itself.
    from dse.sweep._table import load_table

    try:
        counts = load_table(s.study_name, s.storage_url).summary()
    except DseError:  # e.g. an in-memory database nobody else can read: this worker's view
        return s
    return dataclasses.replace(s, n_feasible=counts["feasible"], pareto_size=counts["pareto_size"])
