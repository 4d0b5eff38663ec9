"""The public way to run a sweep: the study and its builds under one results root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dse.config import StudyConfig
from dse.layout import ResultsLayout, layout
from dse.sweep import _engine


def run_sweep(
    cfg: StudyConfig,
    *,
    results: ResultsLayout | Path | str | None = None,
    storage: str | None = None,
    cache_root: Path | str | None = None,
    **options: Any,
) -> _engine.SweepSummary:
    """Run (or resume) ``cfg``'s study with its files under ``results`` (default ``results``).

    The study goes to ``storage`` (else the config's ``storage:``, else
    ``<results>/<name>/optuna.db``) and the builds to ``cache_root`` (else
    ``<results>/builds``), so ``dse status --results`` finds what this run wrote. Other
    options are those of :func:`dse.sweep._engine.run_sweep` (trials, resume, builds, ...).
    """
    lay = layout(results)
    return _engine.run_sweep(
        cfg,
        storage=lay.storage_url(cfg.name, storage, cfg.storage),
        cache_root=cache_root if cache_root is not None else lay.builds,
        **options,
    )
