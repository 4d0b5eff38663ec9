"""One answer per question about a study, wherever it is asked (issue 12, item 13): where
its files go, how many trials are feasible and Pareto-optimal, which trial is best, when a
trial finished, what unit utilisation is in, and how to resume an interrupted sweep."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from sweep_cases import BASE, cli, sub

import dse.sweep
from dse.config import load_config
from dse.sweep import SweepSummary, run_sweep
from dse.sweep._read import StudyData, load_study_data


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_sweep_results_folder_holds_the_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "study.yaml").write_text(BASE)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(
        ["sweep", "study.yaml", "--trials", "30", "--results", "elsewhere", "-q"], capsys
    )
    assert code == 0, err
    assert (tmp_path / "elsewhere" / "t" / "optuna.db").is_file()
    assert not (tmp_path / "results").exists()
    code, out, _ = cli(["status", "t", "--results", "elsewhere", "--json"], capsys)
    assert code == 0 and json.loads(out)["trials"] == 30


def test_results_that_is_a_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "results.txt"
    file.write_text("not a folder")
    for args in (["status"], ["status", "--json"], ["pareto", "t"], ["export", "t"]):
        code, _out, err = cli([*args, "--results", str(file)], capsys)
        assert code == 2 and re.search(r"--results .*results\.txt: is a file", err), (args, err)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, SweepSummary]:
    root = tmp_path_factory.mktemp("counts")
    (root / "study.yaml").write_text(BASE)
    url = _url(root / "results" / "t" / "optuna.db")
    s = run_sweep(load_config(root / "study.yaml"), trials=240, storage=url, progress=False)
    return root, url, s


def test_one_pareto_size_everywhere(
    study: tuple[Path, str, SweepSummary], capsys: pytest.CaptureFixture[str]
) -> None:
    root, url, summary = study
    results = str(root / "results")
    _, out, _ = cli(["status", "t", "--results", results, "--json"], capsys)
    st = json.loads(out)
    _, out, _ = cli(["pareto", "t", "--results", results, "--json"], capsys)
    rows = json.loads(out)["front"]
    best = optuna.load_study(study_name="t", storage=url).best_trials
    optuna_points = {tuple(t.values) for t in best}
    assert st["pareto_size"] == len(rows) == summary.pareto_size == len(optuna_points) > 0
    assert st["feasible"] == summary.n_feasible
    _, out, _ = cli(["pareto", "t", "--results", results], capsys)
    assert f"{len(rows)} Pareto-optimal points" in out
    _, out, _ = cli(["status", "--results", results], capsys)
    line = next(ln for ln in out.splitlines() if ln.split()[:1] == ["t"])
    assert f" {st['pareto_size']} " in f" {line} "
    # Optuna's own front (what optuna-dashboard draws) holds feasible trials only.
    assert all(all(c <= 0 for c in t.system_attrs["constraints"]) for t in best)


def test_status_best_is_never_a_dominated_tie() -> None:
    frame = pd.DataFrame(
        {
            "number": [0, 1, 2],
            "state": ["COMPLETE"] * 3,
            "feasible": [True, True, True],
            "duplicate_of": pd.array([None, None, None], dtype="Int64"),
            "tok": [10.0, 10.0, 4.0],
            "power": [5.0, 3.0, 1.0],
        }
    )
    data = StudyData("s", "sqlite://", ["tok", "power"], ["maximize", "minimize"], [], frame)
    best = data.summary()["best"]
    assert best["tok"]["trial"] == 1  # trial 0 reaches the same tok at more power
    assert best["power"]["trial"] == 2
    assert data.summary()["pareto_size"] == 2


def test_export_keeps_trial_times_and_a_normal_mode(
    study: tuple[Path, str, SweepSummary], capsys: pytest.CaptureFixture[str]
) -> None:
    root, url, _ = study
    out = root / "t.csv"
    old = os.umask(0o022)
    try:
        code, _, err = cli(
            ["export", "t", "-o", str(out), "--results", str(root / "results")], capsys
        )
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    df = pd.read_csv(out)
    trials = {t.number: t for t in optuna.load_study(study_name="t", storage=url).trials}
    for number, text in zip(df["number"], df["datetime_complete"], strict=True):
        assert pd.Timestamp(text) == pd.Timestamp(trials[number].datetime_complete)
    data = load_study_data("t", url)
    assert data.frame["datetime_complete"].max() <= pd.Timestamp.now()


def test_concurrent_workers_print_the_study_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        sub("batch_size: 30", "batch_size: 20").replace("{trials: 300}", "{trials: 200}")
    )
    url = _url(tmp_path / "s.db")
    cmd = [sys.executable, "-m", "dse.cli", "sweep", str(cfg), "--storage", url, "--resume", "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    _, out, _ = cli(["status", "t", "--storage", url, "--json"], capsys)
    st = json.loads(out)
    assert st["trials"] == 200
    for text in outs:
        m = re.search(r": ([\d,]+) trials .*; ([\d,]+) feasible, Pareto front (\d+)", text)
        assert m, text
        if m.group(1) == "200":  # a worker that stopped at the full budget sees all of it
            assert int(m.group(2)) == st["feasible"] and int(m.group(3)) == st["pareto_size"]


def test_interrupted_sweep_hint_keeps_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A storage URL longer than the console's 80 columns: the hint is a command to paste,
    # printed unwrapped (rich would otherwise fold the path mid-word).
    monkeypatch.chdir(tmp_path)
    cfg = Path("my study.yaml")
    cfg.write_text(BASE)
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4)
    deep.mkdir()
    url = _url(deep / "s.db")
    assert len(url) > 100

    def interrupted(cfg: object, **kw: object) -> SweepSummary:
        return SweepSummary(30, 30, 20, 3, 1.0, 30.0, str(kw["storage"]), "t", interrupted=True)

    monkeypatch.setattr(dse.sweep, "run_sweep", interrupted)
    args = ["sweep", str(cfg), "--set", "seed=3", "--set", "sampler=random", "--storage", url]
    code, _, err = cli([*args, "--trials", "90"], capsys)
    assert code == 130
    hint = re.search(r"continue with `(.*)`", err)
    assert hint, err
    import shlex

    again = shlex.split(hint.group(1))
    assert again[:4] == ["dse", "sweep", str(cfg), "--resume"]
    assert again[4:] == [*args[2:], "--trials", "90"]


def test_release_show_json_gives_utilisation_as_fractions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results" / "releases" / "r1"
    folder.mkdir(parents=True)
    manifest = {
        "name": "r1",
        "study": "t",
        "trial": 3,
        "flow": "vivado",
        "predicted": {"lut_util": 0.42, "fmax_mhz": 300.0},
        "measured": {"lut_util": 41.5, "dsp_util": 7.0, "fmax_mhz": 287.0},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = cli(
        ["release", "show", "r1", "--results", str(tmp_path / "results"), "--json"], capsys
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["util_unit"] == "fraction"
    assert shown["predicted"]["lut_util"] == 0.42
    assert np.isclose(shown["measured"]["lut_util"], 0.415)
    assert np.isclose(shown["measured"]["dsp_util"], 0.07)
    assert shown["measured"]["fmax_mhz"] == 287.0
