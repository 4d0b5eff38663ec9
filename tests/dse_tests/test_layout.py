"""The results layout: every path under ``--results`` comes from one object, and a sweep
given a results folder keeps its study, its builds and what the read commands find there."""

from __future__ import annotations

import json
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


def test_sweep_given_a_results_folder_is_found_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The --results bug: a sweep given a results folder wrote its study to ./results (and
    only its builds under the folder), so `dse status --results DIR` found no study. The
    public run_sweep takes the folder and keeps the study there."""
    from dse.config import load_config
    from dse.sweep import run_sweep
    from tests.dse_tests.sweep_cases import BASE, run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(BASE)
    cfg = load_config(tmp_path / "t.yaml", ["budget.trials=12", "batch_size=6"])
    s = run_sweep(cfg, results=tmp_path / "DIR", progress=False)
    lay = ResultsLayout(tmp_path / "DIR")
    assert s.storage_url == lay.study_url("t")
    assert lay.study_db("t").is_file() and not (tmp_path / "results").exists()
    code, out, err = run(["status", "--results", str(lay.root), "--json"], capsys)
    assert code == 0, err
    assert [row["study"] for row in json.loads(out)] == ["t"]


def test_cli_sweep_results_holds_study_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dse sweep --results DIR`, then status/export with the same --results: one folder."""
    from tests.dse_tests.sweep_cases import BASE, run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(BASE)
    argv = ["sweep", "t.yaml", "--trials", "12", "--no-builds", "-q", "--results", "DIR"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    lay = ResultsLayout("DIR")
    code, out, err = run(["status", "t", "--results", "DIR", "--json"], capsys)
    assert code == 0 and json.loads(out)["trials"] == 12, err
    code, _, err = run(["export", "t", "--results", "DIR"], capsys)
    assert code == 0 and lay.export_file("t", "csv").is_file(), err
    assert not Path("results").exists()
