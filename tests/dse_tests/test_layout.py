"""The results layout: every path under ``--results`` comes from one object, and a sweep
given a results folder keeps its study, its builds and what the read commands find there."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.layout import ResultsLayout, layout, sqlite_path, sqlite_url


def test_paths_under_one_root(tmp_path: Path) -> None:
    lay = ResultsLayout(tmp_path / "r")
    root = tmp_path / "r"
    assert lay.study_db("s") == root / "s" / "optuna.db"
    assert lay.study_url("s") == f"sqlite:///{root}/s/optuna.db"
    assert sqlite_path(lay.study_url("s")) == lay.study_db("s")
    assert lay.export_file("s", "csv") == root / "s" / "s.csv"
    assert lay.build_dir("abc") == root / "builds" / "abc"
    assert lay.release_dir("v1") == root / "releases" / "v1"
    assert lay.signature("v1") == root / "releases" / "v1.sig"
    assert not root.exists()  # naming a path creates nothing


def test_storage_url_prefers_what_was_given(tmp_path: Path) -> None:
    lay = ResultsLayout(tmp_path)
    assert lay.storage_url("s") == lay.study_url("s")
    assert lay.storage_url("s", None, "sqlite:///cfg.db") == "sqlite:///cfg.db"
    assert lay.storage_url("s", "sqlite:///cli.db", "sqlite:///cfg.db") == "sqlite:///cli.db"


def test_layout_accepts_paths_and_layouts(tmp_path: Path) -> None:
    assert layout(None).is_default and layout("results").is_default
    lay = ResultsLayout(tmp_path)
    assert layout(lay) is lay and layout(str(tmp_path)) == lay
    assert not lay.is_default


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///", "postgresql://h/db"])
def test_sqlite_path_of_other_urls_is_none(url: str) -> None:
    assert sqlite_path(url) is None
    assert sqlite_url("a/b.db") == "sqlite:///a/b.db"


def test_study_dbs_lists_every_study_file(tmp_path: Path) -> None:
    lay = ResultsLayout(tmp_path)
    for name in ("b", "a"):
        lay.study_dir(name).mkdir()
        lay.study_db(name).write_bytes(b"")
    (tmp_path / "builds").mkdir()
    assert lay.study_dbs() == [lay.study_db("a"), lay.study_db("b")]
