"""The sweep engine: what it persists, deduplication, constraints, enumeration, read
commands, and several workers on one SQLite study."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from sweep_cases import BASE, cli, sub

import cost_models as cm
from dse.config import load_config
from dse.pareto import pareto_mask
from dse.sweep import StudyExists, StudyMismatch, run_sweep


def _config(tmp_path: Path, text: str = BASE, name: str = "study.yaml") -> Any:
    p = tmp_path / name
    p.write_text(text)
    return load_config(p)


def _url(tmp_path: Path, name: str = "s.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_sweep_persists_a_study_optuna_reads_back(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    s = run_sweep(cfg, trials=150, storage=_url(tmp_path), progress=False)
    assert (s.n_trials, s.n_new) == (150, 150)
    assert s.n_evaluated + s.n_duplicates == 150
    study = optuna.load_study(study_name="t", storage=_url(tmp_path))
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(150))
    assert study.metric_names == ["decode_tokens_per_s", "power_w"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    names = cfg.constraints.names()
    assert study.user_attrs["dse:constraints"] == names
    for t in trials:
        assert t.state == TrialState.COMPLETE
        assert set(t.params) == set(t.distributions)
        for name, value in t.params.items():
            assert t.distributions[name]._contains(t.distributions[name].to_internal_repr(value))
        point = t.user_attrs["point"]
        assert point["quant"] == "w4a8"  # the fixed design travels with every trial
        assert point["m_qkv"] == 2 ** t.params["log2_m_qkv"]
        assert point["m_attn"] == max(1, point["m_qkv"] // 8)  # derived
        assert ("density_ffn" in t.params) == (point["sparsity"] == "nm")
        metrics = t.user_attrs["metrics"]
        assert t.values == [metrics["decode_tokens_per_s"], metrics["power_w"]]
        cons = t.system_attrs["constraints"]
        assert len(cons) == len(names) == len(t.constraints)
        assert (metrics["dsp_util"] - 0.9) == pytest.approx(cons[names.index("dsp_util<=0.9")])
    # The stored values are what the cost model says for the stored point.
    t = trials[-1]
    df = cm.evaluate(cfg.workload, cfg.platform, t.user_attrs["point"], arch=cfg.arch)
    assert df["decode_tokens_per_s"].iloc[0] == pytest.approx(t.values[0], rel=1e-12)
    assert study.best_trials  # Optuna's own Pareto logic works on the stored trials


def test_optuna_dashboard_reads_the_study(tmp_path: Path) -> None:
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.util import setup_testing_defaults

    run_sweep(_config(tmp_path), trials=60, storage=_url(tmp_path), progress=False)
    app = dashboard.wsgi(optuna.storages.RDBStorage(_url(tmp_path)))

    def get(path: str) -> Any:
        env: dict[str, Any] = {"PATH_INFO": path}
        setup_testing_defaults(env)
        status: list[str] = []
        body = b"".join(app(env, lambda s, h, exc=None: status.append(s)))
        assert status[0].startswith("200"), (path, status, body[:300])
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["t"]
    detail = get(f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == 60
    assert detail["objective_names"] == ["decode_tokens_per_s", "power_w"]
    assert detail["trials"][0]["constraints"]


def test_duplicates_are_not_re_evaluated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[int] = []
    real = cm.evaluate

    def counting(*args: Any, **kw: Any) -> pd.DataFrame:
        df = real(*args, **kw)
        rows.append(len(df))
        return df

    monkeypatch.setattr(cm, "evaluate", counting)  # dse.scoring makes the one model call
    cfg = _config(tmp_path)  # 360 points, 400 trials: duplicates are certain
    first = run_sweep(cfg, trials=200, storage=_url(tmp_path), progress=False)
    second = run_sweep(cfg, trials=400, storage=_url(tmp_path), resume=True, progress=False)
    trials = optuna.load_study(study_name="t", storage=_url(tmp_path)).get_trials()
    keys = [tuple(sorted(t.params.items())) for t in trials]
    distinct = len(set(keys))
    assert sum(rows) == first.n_evaluated + second.n_evaluated == distinct < len(trials)
    assert first.n_duplicates + second.n_duplicates == len(trials) - distinct > 0
    first_of: dict[tuple[Any, ...], int] = {}
    for t, k in zip(trials, keys, strict=True):
        if k in first_of:
            orig = trials[first_of[k]]
            assert t.user_attrs["duplicate_of"] == orig.number
            assert t.values == orig.values
            assert t.system_attrs["constraints"] == orig.system_attrs["constraints"]
            assert t.user_attrs["metrics"] == orig.user_attrs["metrics"]
        else:
            first_of[k] = t.number
            assert "duplicate_of" not in t.user_attrs


def test_constraints_steer_the_sampler(tmp_path: Path) -> None:
    # Tight caps leave ≈19 % of this space feasible while both objectives pull towards big,
    # infeasible designs; the sampler only stays feasible if it reads the constraints.
    text = sub("{lut: 0.8, dsp: 0.9}", "{lut: 0.3, dsp: 0.15}")
    grid_cfg = _config(tmp_path, text)
    g = grid_cfg.space.grid()
    df = cm.evaluate(grid_cfg.workload, grid_cfg.platform, {**grid_cfg.design, **g}, arch="spatial")
    base_share = grid_cfg.constraints.feasible_mask(df).mean()
    assert 0.1 < base_share < 0.3
    shares = {}
    for sampler in ("nsga2", "random"):
        cfg = _config(tmp_path, text.replace("sampler: nsga2", f"sampler: {sampler}"), sampler)
        cfg = dataclasses.replace(cfg, name=sampler)
        run_sweep(cfg, trials=600, storage=_url(tmp_path), progress=False)
        trials = optuna.load_study(study_name=sampler, storage=_url(tmp_path)).get_trials()
        late = trials[300:]
        shares[sampler] = np.mean(
            [all(c <= 0 for c in t.system_attrs["constraints"]) for t in late]
        )
    assert shares["random"] < 0.35  # random sampling sees the space's own share
    assert shares["nsga2"] > max(0.5, 2 * shares["random"]), shares


@pytest.mark.parametrize("sampler", ["grid", "exhaustive"])
def test_enumerating_samplers_visit_every_point_once(tmp_path: Path, sampler: str) -> None:
    cfg = _config(tmp_path, sub("sampler: nsga2", f"sampler: {sampler}"))
    s = run_sweep(cfg, trials=1000, storage=_url(tmp_path), progress=False)
    assert s.n_trials == 360 and s.n_duplicates == 0
    trials = optuna.load_study(study_name="t", storage=_url(tmp_path)).get_trials()
    points = {json.dumps(t.user_attrs["point"], sort_keys=True) for t in trials}
    g = cfg.space.grid()
    assert len(points) == len(g["m_qkv"]) == 360
    order = [t.user_attrs["point"]["m_qkv"] for t in trials[:20]]
    assert (order == sorted(order)) == (sampler == "exhaustive")  # grid shuffles


def test_existing_study_needs_resume_and_the_same_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = tmp_path / "study.yaml"
    cfg_path.write_text(BASE)
    url = _url(tmp_path)
    code, out, _ = cli(["sweep", str(cfg_path), "--trials", "60", "--storage", url, "-q"], capsys)
    assert code == 0 and "60 trials" in out
    code, _, err = cli(["sweep", str(cfg_path), "--trials", "90", "--storage", url], capsys)
    assert code == 2
    assert "study 't' already exists" in err and "60 trials" in err and "--resume" in err
    assert optuna.load_study(study_name="t", storage=url).get_trials()[-1].number == 59
    args = ["sweep", str(cfg_path), "--trials", "90", "--storage", url, "--resume"]
    code, _, err = cli([*args, "--set", "space.m_ffn.high=8192"], capsys)
    assert code == 2 and "space: differs from the config study 't'" in err
    with pytest.raises(StudyMismatch):
        cfg = _config(tmp_path, sub("min_clock_mhz: 200", "min_clock_mhz: 210"), "b.yaml")
        run_sweep(cfg, trials=90, storage=url, resume=True, progress=False)
    with pytest.raises(StudyExists):
        run_sweep(_config(tmp_path), trials=90, storage=url, progress=False)
    code, out, _ = cli([*args, "--set", "sampler=random"], capsys)  # sampler may change
    assert code == 0 and "90 trials (30 new" in out


def test_timeout_budget_stops_the_sweep(tmp_path: Path) -> None:
    cfg = _config(tmp_path, sub("budget: {trials: 300}", "budget: {timeout_s: 0.5}"))
    s = run_sweep(cfg, storage=_url(tmp_path), progress=False)
    assert s.n_trials > 0 and s.n_trials % 30 == 0 and s.elapsed_s < 30


def test_status_pareto_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "study.yaml").write_text(BASE)
    results = tmp_path / "results"
    url = f"sqlite:///{results / 't' / 'optuna.db'}"
    run_sweep(_config(tmp_path), trials=240, storage=url, progress=False)
    code, out, _ = cli(["status", "--results", str(results), "--json"], capsys)
    assert code == 0
    (st,) = json.loads(out)
    trials = optuna.load_study(study_name="t", storage=url).get_trials()
    feasible = [t for t in trials if all(c <= 0 for c in t.system_attrs["constraints"])]
    assert st["study"] == "t" and st["trials"] == 240 and st["feasible"] == len(feasible)
    best = max(feasible, key=lambda t: t.values[0])
    assert st["best"]["decode_tokens_per_s"]["value"] == best.values[0]
    assert st["last_update"]
    code, out, _ = cli(["status", "--results", str(results)], capsys)
    assert code == 0 and "t " in out and "240" in out

    code, out, _ = cli(["pareto", "t", "--results", str(results), "--json", "--all"], capsys)
    front = json.loads(out)["front"]
    originals = [t for t in feasible if "duplicate_of" not in t.user_attrs]
    vals = np.array([t.values for t in originals])
    expect = {
        t.number
        for t, m in zip(originals, pareto_mask(vals, ["maximize", "minimize"]), strict=True)
        if m
    }
    assert {r["number"] for r in front} == expect and expect
    assert all(set(r) >= {"decode_tokens_per_s", "power_w", "param_m_qkv"} for r in front)
    code, out, _ = cli(["pareto", "t", "--results", str(results)], capsys)
    assert code == 0 and "Pareto-optimal" in out and "m_qkv" in out

    pq = tmp_path / "t.parquet"
    code, out, _ = cli(
        ["export", "t", "--format", "parquet", "-o", str(pq), "--results", str(results)], capsys
    )
    assert code == 0 and pq.exists()
    df = pd.read_parquet(pq)
    assert len(df) == 240 and list(df["number"]) == list(range(240))
    for col in (
        "feasible",
        "pareto",
        "decode_tokens_per_s",
        "power_w",
        "param_m_qkv",
        "param_density_ffn",
        "point_m_attn",
        "metric_dsp_util",
        "metric_violations",
    ):
        assert col in df.columns, col
    assert set(df.loc[df["pareto"], "number"]) == expect
    assert df["feasible"].sum() == len(feasible)
    code, _, _ = cli(["export", "t", "--format", "csv", "--results", str(results)], capsys)
    csv = pd.read_csv(results / "t" / "t.csv")
    assert len(csv) == 240 and csv["param_m_qkv"].tolist() == df["param_m_qkv"].tolist()
    code, _, err = cli(["export", "t", "--format", "xlsx", "--results", str(results)], capsys)
    assert code == 2 and "expected csv or parquet" in err
    code, _, err = cli(["pareto", "nope", "--results", str(results)], capsys)
    assert code == 2 and "study 'nope'" in err and "studies under" in err


def test_two_workers_share_one_sqlite_study(tmp_path: Path) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        sub("batch_size: 30", "batch_size: 20").replace("{trials: 300}", "{trials: 400}")
    )
    url = _url(tmp_path)
    cmd = [sys.executable, "-m", "dse.cli", "sweep", str(cfg), "--storage", url, "--resume", "-q"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trials = optuna.load_study(study_name="t", storage=url).get_trials()
    numbers = Counter(t.number for t in trials)
    assert len(trials) == 400 and sorted(numbers) == list(range(400))  # none lost or doubled
    new = [int(o.split("new")[0].rsplit("(", 1)[1].replace(",", "")) for o, _ in outs]
    # Both usually share the work; under heavy load one may start after the other finished,
    # so only the total is a guarantee.
    assert sum(new) == 400, outs
