"""Three `dse sweep` worker processes share one study on a real PostgreSQL server.

The server is Debian's PostgreSQL, started for the session by the ``postgres`` fixture
(``tests/conftest.py``) on 127.0.0.1. The workers are real subprocesses started together;
afterwards the study must hold trial numbers 0..N-1 exactly once, as many trials as the
workers say they added, and every stored point must re-evaluate to its stored values.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

import cost_models as cm
from dse.config import load_config
from tests._postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
N_TRIALS = 3000
N_WORKERS = 3


def _worker(url: str, study: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dse.cli",
            "sweep",
            str(EXAMPLE),
            "--storage",
            url,
            "--trials",
            str(N_TRIALS),
            "--resume",  # whoever comes first creates the study; the others join it
            "--quiet",
            "--set",
            f"name={study}",
            "--set",
            "sampler=tpe",  # the trial loop's workers (auto would enumerate this grid)
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_three_workers_share_one_study(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database("workers")
    study_name = "pg-workers"
    procs = [_worker(url, study_name, tmp_path) for _ in range(N_WORKERS)]
    reported = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"worker failed ({p.returncode}):\n{out}\n{err}"
        m = re.search(r"\(([\d,]+) new", out)
        assert m, f"no 'N new' in the worker's summary: {out!r}"
        reported.append(int(m.group(1).replace(",", "")))

    study = optuna.load_study(study_name=study_name, storage=url)
    trials = study.get_trials(deepcopy=False)
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(N_TRIALS)), "trial numbers are not 0..N-1 exactly once"
    assert len({t._trial_id for t in trials}) == N_TRIALS
    assert sum(reported) == N_TRIALS, f"workers reported {reported}, study has {N_TRIALS}"
    # Every worker took part (they run concurrently, so the study interleaves their batches).
    assert all(n > 0 for n in reported), f"a worker added nothing: {reported}"
    assert all(t.state.is_finished() for t in trials)

    # Stored values are what the cost model says for the stored point.
    cfg = load_config(EXAMPLE)
    metrics = [o.metric for o in cfg.objectives]
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) > N_TRIALS // 2
    rng = np.random.default_rng(0)
    sample = [done[i] for i in rng.choice(len(done), size=min(200, len(done)), replace=False)]
    points = [t.user_attrs["point"] for t in sample]
    df = cm.evaluate(cfg.workload, cfg.platform, points, arch=cfg.arch, baseline=cfg.baseline)
    stored = np.array([t.values for t in sample])
    np.testing.assert_allclose(df[metrics].to_numpy(np.float64), stored, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql+psycopg://postgres:secret@127.0.0.1:1/nowhere",
        "postgres+nosuchdriver://127.0.0.1:1/x",
    ],
)
def test_unreachable_postgres_is_one_clear_error(bad: str, tmp_path: Path) -> None:
    """A storage URL nobody answers gives exit code 2 and one line, not a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(EXAMPLE), "--storage", bad, "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "127.0.0.1:1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "secret" not in proc.stderr  # the password is never printed
