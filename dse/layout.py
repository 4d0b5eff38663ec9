"""Where everything lives under a results folder (``--results``, default ``results``).

One object names every path, so the sweep, the read commands, promote and the dashboard agree
on one layout (before, each worked the folder out itself, and ``dse sweep --results DIR``
could put the study in ``./results`` and the builds in ``DIR/builds``)::

    <root>/
      <study>/optuna.db          the study (unless a --storage URL puts it elsewhere)
      <study>/<study>.<fmt>      ``dse export`` output
      builds/<hash>/             content-hashed build folders (``runners.build``)
      builds/journal.jsonl       the build farm's journal
      releases/<name>/           promoted, read-only releases
      releases/<name>.sig        a release's HMAC signature
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_RESULTS = Path("results")
STUDY_DB = "optuna.db"
BUILDS = "builds"
RELEASES = "releases"
SQLITE_PREFIX = "sqlite:///"


def sqlite_url(path: Path | str) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"{SQLITE_PREFIX}{path}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL (None for other databases or in-memory)."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url[len(SQLITE_PREFIX) :]
    return None if path in ("", ":memory:") else Path(path)


@dataclass(frozen=True)
class ResultsLayout:
    """The paths under one results root. Nothing is created until a writer asks."""

    root: Path = DEFAULT_RESULTS

    def __init__(self, root: Path | str | None = None) -> None:
        object.__setattr__(self, "root", Path(root) if root is not None else DEFAULT_RESULTS)

    @property
    def is_default(self) -> bool:
        """True for ``results`` (a resume hint need not repeat ``--results``)."""
        return self.root == DEFAULT_RESULTS

    # -- studies --------------------------------------------------------------------------

    def study_dir(self, study: str) -> Path:
        return self.root / study

    def study_db(self, study: str) -> Path:
        """``<root>/<study>/optuna.db``."""
        return self.study_dir(study) / STUDY_DB

    def study_url(self, study: str) -> str:
        """The default storage URL of ``study``: ``sqlite:///<root>/<study>/optuna.db``."""
        return sqlite_url(self.study_db(study))

    def storage_url(self, study: str, *given: str | None) -> str:
        """The first URL given (``--storage``, the config's ``storage:``), else the default."""
        return next((u for u in given if u), None) or self.study_url(study)

    def study_dbs(self) -> list[Path]:
        """Every ``<root>/*/optuna.db``, sorted (a study may share another's file)."""
        return sorted(self.root.glob(f"*/{STUDY_DB}"))

    def export_file(self, study: str, fmt: str) -> Path:
        """``<root>/<study>/<study>.<fmt>``: where ``dse export`` writes by default."""
        return self.study_dir(study) / f"{study}.{fmt}"

    # -- builds ---------------------------------------------------------------------------

    @property
    def builds(self) -> Path:
        """``<root>/builds``: the build cache, one folder per bundle hash."""
        return self.root / BUILDS

    def build_dir(self, bundle_hash: str) -> Path:
        return self.builds / bundle_hash

    # -- releases -------------------------------------------------------------------------

    @property
    def releases(self) -> Path:
        """``<root>/releases``."""
        return self.root / RELEASES

    def release_dir(self, name: str) -> Path:
        return self.releases / name

    def signature(self, name: str) -> Path:
        """``<root>/releases/<name>.sig``."""
        return self.releases / f"{name}.sig"


def layout(results: ResultsLayout | Path | str | None = None) -> ResultsLayout:
    """``results`` as a layout (a path, a layout, or None for the default ``results``)."""
    return results if isinstance(results, ResultsLayout) else ResultsLayout(results)


__all__ = [
    "BUILDS",
    "DEFAULT_RESULTS",
    "RELEASES",
    "STUDY_DB",
    "ResultsLayout",
    "layout",
    "sqlite_path",
    "sqlite_url",
]
