"""A sweep killed with SIGKILL (or stopped with SIGINT) and resumed ends exactly like an
uninterrupted run with the same seed: same trial count, same points, same values."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from sweep_cases import sub

from dse.config import load_config
from dse.sweep import run_sweep

TRIALS, BATCH = 360, 30
TEXT = sub("batch_size: 30", f"batch_size: {BATCH}").replace(
    "{trials: 300}", f"{{trials: {TRIALS}}}"
)


def _trials(url: str) -> list[tuple[Any, ...]]:
    study = optuna.load_study(study_name="t", storage=url)
    return [
        (t.number, t.state.name, t.params, t.values, t.system_attrs, t.user_attrs)
        for t in study.get_trials()
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    d = tmp_path_factory.mktemp("ref")
    (d / "study.yaml").write_text(TEXT)
    url = f"sqlite:///{d / 'ref.db'}"
    s = run_sweep(load_config(d / "study.yaml"), storage=url, progress=False)
    assert s.n_trials == TRIALS
    return _trials(url)


def _count(db: Path) -> int | None:
    """Trials persisted so far; None while the study does not exist yet."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            if not con.execute("SELECT count(*) FROM studies").fetchone()[0]:
                return None
            return int(con.execute("SELECT count(*) FROM trials").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def _start(cfg: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dse.cli", "sweep", str(cfg), "--storage", url, "-q", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], db: Path, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        n = _count(db)
        if n is not None and n >= at_least:
            return n
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before {at_least} trials: {proc.communicate()}")
        time.sleep(0.005)
    pytest.fail("sweep too slow")


def _check_same(url: str, reference: list[tuple[Any, ...]]) -> None:
    got = _trials(url)
    assert len(got) == TRIALS
    assert [g[0] for g in got] == list(range(TRIALS))  # no gap, no duplicate number
    for g, r in zip(got, reference, strict=True):
        assert g == r, (g[0], g[2], r[2])


@pytest.mark.parametrize("batches", [0, 3, 9], ids=["after-0", "after-3", "after-9"])
def test_sigkill_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, reference: list[tuple[Any, ...]], batches: int
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(TEXT)
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    proc = _start(cfg, url)
    _wait_for(proc, db, batches * BATCH)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    n = _count(db)
    assert n is not None and n < TRIALS and n % BATCH == 0  # only whole batches on disk
    if batches:
        assert n >= batches * BATCH
    if batches == 3:  # without --resume the study is refused, untouched
        refused = subprocess.run(
            [sys.executable, "-m", "dse.cli", "sweep", str(cfg), "--storage", url, "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2 and "--resume" in refused.stderr and _count(db) == n
    res = subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(cfg), "--storage", url, "--resume", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert f"{TRIALS:,} trials ({TRIALS - n:,} new" in res.stdout
    _check_same(url, reference)


def test_sigint_saves_the_batch_and_resume_continues(
    tmp_path: Path, reference: list[tuple[Any, ...]]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(TEXT)
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    proc = _start(cfg, url)
    _wait_for(proc, db, 4 * BATCH)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    n = _count(db)
    assert n is not None and 4 * BATCH <= n < TRIALS and n % BATCH == 0
    assert f"{n:,} trials" in out
    s = run_sweep(load_config(cfg), storage=url, resume=True, progress=False)
    assert (s.n_trials, s.n_new) == (TRIALS, TRIALS - n)
    _check_same(url, reference)
