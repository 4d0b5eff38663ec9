"""``dse sweep`` with a ``build:`` policy, with real parts: OpenSSH sshd build hosts on
127.0.0.1, a local Ray instance, real Yosys builds, SQLite. One sweep per scenario."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import cost_models as cm
from dse.config import load_config
from dse.scoring import Cone
from dse.sweep import load_builds, load_study_data, run_sweep
from dse.sweep._fit import observations
from tests.runners.farm_fixtures import SSHD, SshFarm, dead_entry

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "smollm-135m-ecp5.yaml"


def study_yaml(tmp: Path, name: str, build: dict[str, Any], trials: int = 96) -> Path:
    """The ECP5 example with a small searched engine (Yosys takes seconds per build)."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["name"] = name
    for key in ("mv_n", "mm_k", "mm_n"):
        doc["design"].pop(key, None)
    doc["design"]["sfu_lanes"] = 2  # searched by the example, fixed here
    doc["space"] = {
        "freq_mhz": {"type": "float", "low": 40, "high": 120},
        "mv_n": {"type": "pow2", "low": 2, "high": 8},
        "mm_n": {"type": "pow2", "low": 1, "high": 4},
        "mm_k": {"type": "pow2", "low": 1, "high": 2},
    }
    doc["budget"] = {"trials": trials}
    doc["batch_size"] = 16
    doc["build"] = {"template": "llm_top", **build}  # units: Yosys takes seconds per build
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFarm]:
    if not Path(SSHD).exists():
        pytest.skip("openssh-server not installed")
    farm = SshFarm.start(tmp_path_factory.mktemp("sshd"), 2)
    try:
        yield farm
    finally:
        farm.stop()


def test_sweep_builds_on_ssh_hosts_and_unit_builds_calibrate_nothing(
    sshd: SshFarm, tmp_path: Path
) -> None:
    """Real Yosys builds of llm_top (units, seconds each) on two sshd hosts: recorded with
    their trials and compared with the units' model, but a unit template calibrates nothing
    of the whole-design model, by name (tests/dse_tests/test_calibration_builds.py fits the
    whole accelerator's builds into a sweep)."""
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(yaml.safe_dump(sshd.inventory()))
    path = study_yaml(
        tmp_path,
        "farm-sweep",
        {"flow": "yosys-ecp5", "every": 32, "top_k": 2, "budget": 4, "hosts": str(hosts)},
    )
    cfg = load_config(path)
    lines: list[str] = []
    url = f"sqlite:///{tmp_path / 'study.db'}"
    opts: dict[str, Any] = {
        "storage": url,
        "progress": False,
        "cache_root": tmp_path / "builds",
        "log": lines.append,
    }
    first = run_sweep(cfg, trials=64, **opts)
    assert first.builds is not None and first.builds.done >= 2, lines
    s = run_sweep(cfg, trials=96, resume=True, **opts)
    assert s.n_trials == 96 and s.builds is not None
    assert s.builds.done == s.builds.requested == 4, lines
    builds, calibrations = load_builds(cfg.name, url)
    assert set(builds["state"]) == {"done"} and set(builds["host"]) <= {"b1", "b2"}
    assert builds["spec_key"].is_unique  # the policy never builds the same bundle twice
    for _, b in builds.iterrows():
        assert b["measured"]["lut"] > 0 and b["measured"]["dsp"] >= 1
        # predicted: the units' model of what llm_top builds (DSPs counted exactly)
        assert b["predicted"]["lut"] > 0 and "achievable_clock_mhz" not in b["predicted"]
        assert b["started_at"] <= b["finished_at"]
    assert len(calibrations) == 0 and not s.builds.corrections
    refused = [line for line in lines if "'llm_top' builds units" in line]
    assert refused and all(line.startswith("calibration refused: build trial") for line in refused)
    assert set(s.builds.refused) == {line.removeprefix("calibration refused: ") for line in refused}

    data = load_study_data(cfg.name, url)
    frame = data.frame
    built = frame[frame["build_status"].notna()]
    assert sorted(built["number"]) == sorted(builds["trial_number"])
    assert (built["measured_lut"] > 0).all()
    # every trial scored by the raw model: no version past 0
    store = sqlite3.connect(tmp_path / "study.db")
    rows = store.execute(
        "SELECT t.number, a.value_json FROM trial_user_attributes a "
        "JOIN trials t USING (trial_id) WHERE a.key = 'calibration'"
    ).fetchall()
    assert {json.loads(v) for _, v in rows} <= {0}
    row = frame[frame["number"] == 95].iloc[0]
    point = {k[len("point_") :]: v for k, v in row.items() if k.startswith("point_")}
    point.update({p: row[f"param_{p}"] for p in data.params})
    raw = cm.evaluate(cfg.workload, cfg.platform, point, arch=cfg.arch, detail=True)
    assert row["metric_lut_util"] == pytest.approx(float(raw["lut_util"].iloc[0]))


def test_measured_infeasible_rules_out_its_neighbourhood() -> None:
    failed = Cone("llm_top", {"GEMV_LANES": 4, "SYS_MT": 2, "HAS_SOFTMAX": True}, None, "why")
    assert failed.covers({"GEMV_LANES": 8, "SYS_MT": 2, "HAS_SOFTMAX": True}, None)
    assert not failed.covers({"GEMV_LANES": 2, "SYS_MT": 4, "HAS_SOFTMAX": True}, None)
    assert not failed.covers({"GEMV_LANES": 8, "SYS_MT": 2, "HAS_SOFTMAX": False}, None)
    timing = Cone("llm_top", {"GEMV_LANES": 4}, 100.0, "why")
    assert timing.covers({"GEMV_LANES": 4}, 120.0)
    assert not timing.covers({"GEMV_LANES": 4}, 90.0)


def test_resume_after_kill_requeues_running_builds_and_loses_none(tmp_path: Path) -> None:
    """kill -9 while builds run; --resume finishes them without a second row or rebuild."""
    path = study_yaml(
        tmp_path,
        "killed",
        {"flow": "yosys-ecp5", "every": 16, "top_k": 2, "budget": 3, "max_concurrent": 1},
        trials=48,
    )
    db = tmp_path / "results" / "killed" / "optuna.db"
    argv = [
        sys.executable,
        "-m",
        "dse.cli",
        "sweep",
        str(path),
        "--results",
        str(tmp_path / "results"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        running = []
        while time.monotonic() < deadline and not running:
            time.sleep(0.5)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        running = conn.execute(
                            "SELECT build_id FROM dse_builds WHERE state = 'running'"
                        ).fetchall()
                    except sqlite3.OperationalError:
                        continue
        assert running, "no build started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("SELECT build_id, state FROM dse_builds").fetchall())
    assert "running" in before.values()
    done = subprocess.run(
        [*argv, "--resume", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    builds, _ = load_builds("killed", None, tmp_path / "results")
    assert set(builds["build_id"]) >= set(before)  # the killed rows were kept
    assert len(builds) == 3 and set(builds["state"]) == {"done"}, builds[["state", "first_error"]]
    assert builds["spec_key"].is_unique
    assert "builds: 3 requested, 3 done, 0 failed" in done.stdout


def test_a_build_that_missed_timing_still_calibrates_the_clock() -> None:
    from dse.sweep._builds import BuildRow

    def row(state: str, fmax: float, failure: str | None) -> BuildRow:
        return BuildRow(
            1, 1, 0, "k", "llm_top", "ecp5", "LFE5UM5G-85F", {}, {}, state,
            {"achievable_clock_mhz": 86.0, "lut": 4000.0}, {"fmax_mhz": fmax, "lut": 1800.0},
            0, failure_class=failure,
        )  # fmt: skip

    obs = observations([row("failed", 36.9, "timing_not_met"), row("queued", 99.0, None)])
    assert [(o.metric, o.predicted, o.measured) for o in obs] == [
        ("fmax_mhz", 86.0, 36.9),
        ("lut", 4000.0, 1800.0),
    ]


def test_resume_with_wait_waits_for_the_requeued_builds_first(tmp_path: Path) -> None:
    """kill -9 while a ``wait: true`` round builds: the resumed sweep finishes those builds
    (and calibrates) before its next trial and its next round, as the uninterrupted run."""
    path = study_yaml(
        tmp_path,
        "waited",
        {"flow": "yosys-ecp5", "every": 16, "top_k": 2, "budget": 4, "wait": True},
        trials=48,
    )
    db = tmp_path / "results" / "waited" / "optuna.db"
    argv = [
        sys.executable,
        "-m",
        "dse.cli",
        "sweep",
        str(path),
        "--results",
        str(tmp_path / "results"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        running: list[Any] = []
        while time.monotonic() < deadline and not running:
            time.sleep(0.5)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        running = conn.execute(
                            "SELECT build_id FROM dse_builds WHERE state = 'running'"
                        ).fetchall()
                    except sqlite3.OperationalError:
                        continue
        assert running, "no build started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with sqlite3.connect(db) as conn:
        killed_at = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
        first_round = dict(conn.execute("SELECT build_id, state FROM dse_builds").fetchall())
    assert killed_at == 16 and "running" in first_round.values()  # paused in round 0
    done = subprocess.run(
        [*argv, "--resume", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    builds, _ = load_builds("waited", None, tmp_path / "results")
    assert set(builds["state"]) == {"done"}, builds[["state", "first_error"]]
    old = builds[builds["build_id"].isin(first_round)]
    later = builds[~builds["build_id"].isin(first_round)]
    assert len(old) == len(first_round) and len(later) >= 1
    # The next round was picked only after the re-queued builds were in...
    assert later["queued_at"].min() >= old["finished_at"].max()
    # ...and so was every trial after the kill (llm_top's units calibrate nothing of the
    # design, so the model is the same; the order is what a calibration would rely on).
    with sqlite3.connect(db) as conn:
        starts = conn.execute(
            "SELECT datetime_start FROM trials WHERE number >= ?", (killed_at,)
        ).fetchall()
    assert len(starts) == 48 - killed_at
    first_new = min(datetime.fromisoformat(t) for (t,) in starts)
    assert first_new.timestamp() >= old["finished_at"].max()


def test_builds_no_host_could_run_do_not_spend_the_budget(sshd: SshFarm, tmp_path: Path) -> None:
    """Every host unreachable: each round's build fails ``host_error`` after the farm's
    tries, and the next round still gets its build (the budget counts design outcomes)."""
    hosts = tmp_path / "hosts.yaml"
    like = sshd.inventory()["hosts"][0]  # type: ignore[index]
    hosts.write_text(yaml.safe_dump({"hosts": [dead_entry(like, "gone")]}))
    path = study_yaml(
        tmp_path,
        "no-hosts",
        {"flow": "yosys-ecp5", "every": 16, "top_k": 1, "budget": 1, "wait": True},
        trials=32,
    )
    # Clocks the model reaches at these points (56-62 MHz, with SPAD and XBUF sized for
    # SmolLM's program): every round then has feasible designs not yet tried.
    doc = yaml.safe_load(path.read_text())
    doc["space"]["freq_mhz"]["high"] = 55
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lines: list[str] = []
    s = run_sweep(
        load_config(path),
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        progress=False,
        hosts=hosts,
        cache_root=tmp_path / "builds",
        log=lines.append,
    )
    assert s.builds is not None
    rows = s.builds.rows
    assert len(rows) == 3, lines  # rounds at 16 and 32 trials, and the last one
    assert {(r.state, r.failure_class) for r in rows} == {("failed", "host_error")}
