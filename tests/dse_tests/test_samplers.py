"""Samplers by name, their options and errors, the no-repeat wrapper, exhaustive screening."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

import cost_models as cm
from dse.config import load_config
from dse.errors import ConfigError
from dse.exhaustive import screen
from dse.pareto import pareto_mask
from dse.samplers import (
    DEFAULT_OPTIONS,
    DEFAULT_SAMPLER,
    NoRepeatSampler,
    grid_values,
    make_sampler,
)
from dse.sweep import run_sweep
from dse.sweep._samplers import DEFAULT_BATCH

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
HAS_GP = all(importlib.util.find_spec(m) is not None for m in ("torch", "scipy"))

SMALL = """\
version: 1
name: small
workload: {model: gpt2-medium, batch: 1, prompt_len: 64, gen_len: 64}
platform: u280
arch: spatial
design: {quant: w4a8, tile_tokens: 64}
space:
  m_qkv: {type: pow2, low: 64, high: 1024}
  m_ffn: {type: pow2, low: 128, high: 2048}
  layers_per_fpga: {type: int, low: 1, high: 4}
  freq_mhz: {type: float, low: 200, high: 300, step: 50}
  hbm_placement: [local, global]
derived:
  m_attn: "max(1, m_qkv // 8)"
objectives:
  - {metric: decode_tokens_per_s, direction: maximize}
  - {metric: power_w, direction: minimize}
constraints: {max_util: {lut: 0.8, dsp: 0.9}}
budget: {trials: 100}
"""


@pytest.fixture
def small(tmp_path: Path) -> Any:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return load_config(path)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("nsga2", optuna.samplers.NSGAIISampler),
        ("nsga3", optuna.samplers.NSGAIIISampler),
        ("random", optuna.samplers.RandomSampler),
        ("grid", optuna.samplers.GridSampler),
        ("tpe", optuna.samplers.TPESampler),
    ],
)
def test_names_give_their_sampler(name: str, cls: type, small: Any) -> None:
    s = make_sampler(name, small.space, 0, 2, None)
    inner = s.inner if isinstance(s, NoRepeatSampler) else s
    assert isinstance(inner, cls)


def test_defaults_reach_the_sampler(small: Any) -> None:
    s = make_sampler("nsga2", small.space, 0, 2)
    assert isinstance(s, optuna.samplers.NSGAIISampler)
    assert s.population_size == 64
    s = make_sampler({"name": "nsga2", "population_size": 24}, small.space, 0, 2)
    assert isinstance(s, optuna.samplers.NSGAIISampler) and s.population_size == 24
    tpe = make_sampler("tpe", small.space, 0, 2)
    assert isinstance(tpe, NoRepeatSampler)
    plain = make_sampler({"name": "tpe", "avoid_repeats": False}, small.space, 0, 2)
    assert isinstance(plain, optuna.samplers.TPESampler)


def test_unknown_name_suggests_the_closest(small: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown sampler 'nsga'.*did you mean"):
        make_sampler("nsga", small.space, 0, 2)


def test_unknown_option_suggests_the_closest(small: Any) -> None:
    with pytest.raises(ConfigError, match=r"sampler\.populaton_size: unknown option for nsga2.*"):
        make_sampler({"name": "nsga2", "populaton_size": 10}, small.space, 0, 2)
    with pytest.raises(ConfigError, match=r"did you mean 'population_size'"):
        make_sampler({"name": "nsga2", "populaton_size": 10}, small.space, 0, 2)


def test_bad_option_values_are_config_errors(small: Any) -> None:
    with pytest.raises(ConfigError, match=r"sampler\.nsga2: invalid option"):
        make_sampler({"name": "nsga2", "population_size": 1}, small.space, 0, 2)
    with pytest.raises(ConfigError, match=r"unknown crossover 'sbxx'.*did you mean 'sbx'"):
        make_sampler({"name": "nsga2", "crossover": "sbxx"}, small.space, 0, 2)
    with pytest.raises(ConfigError, match=r"avoid_repeats: expected true or false"):
        make_sampler({"name": "tpe", "avoid_repeats": "yes"}, small.space, 0, 2)


def test_exhaustive_is_not_a_sampler(small: Any) -> None:
    with pytest.raises(ConfigError, match=r"dse\.exhaustive\.screen"):
        make_sampler("exhaustive", small.space, 0, 2)


def test_gp_without_torch_says_how_to_install(small: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a)
    )
    with pytest.raises(ConfigError, match=re.escape("pip install 'dse[gp]'")):
        make_sampler("gp", small.space, 0, 2)


@pytest.mark.skipif(not HAS_GP, reason="gp needs torch and scipy: pip install 'dse[gp]'")
def test_gp_builds_when_installed(small: Any) -> None:
    s = make_sampler("gp", small.space, 0, 2)
    assert isinstance(s, NoRepeatSampler)
    assert isinstance(s.inner, optuna.samplers.GPSampler)


def test_default_sampler_is_known() -> None:
    assert DEFAULT_SAMPLER == "auto"  # the model-level search (dse.search)
    # Where a sweep needs a trial-by-trial sampler (it builds), auto is TPE.
    assert isinstance(make_sampler("auto", None, 0, 2), NoRepeatSampler)


def test_grid_values_follow_the_optuna_encoding(small: Any) -> None:
    vals = grid_values(small.space)
    assert vals["log2_m_qkv"] == [6, 7, 8, 9, 10]  # pow2 is searched as its exponent
    assert vals["layers_per_fpga"] == [1, 2, 3, 4]
    assert vals["freq_mhz"] == [200.0, 250.0, 300.0]
    assert vals["hbm_placement"] == ["local", "global"]
    n = int(np.prod([len(v) for v in vals.values()]))
    assert n == small.space.size()


def test_grid_needs_a_finite_space(tmp_path: Path) -> None:
    path = tmp_path / "cont.yaml"
    path.write_text(SMALL.replace("step: 50", "log: false"))
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=r"space\.freq_mhz: the grid sampler needs a finite"):
        make_sampler("grid", cfg.space, 0, 2)


def _tiny_study(sampler: optuna.samplers.BaseSampler, n: int) -> optuna.Study:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def f(t: optuna.Trial) -> tuple[float, float]:
        x = t.suggest_int("x", 0, 9)
        y = t.suggest_int("y", 0, 9)
        c = t.suggest_categorical("c", ["a", "b"])
        return float((x - 2) ** 2 + y + (c == "b")), float((y - 6) ** 2 + x)

    study.optimize(f, n_trials=n)
    return study


def test_no_repeat_sampler_never_repeats_after_startup() -> None:
    inner = optuna.samplers.TPESampler(seed=3, n_startup_trials=5, multivariate=True)
    study = _tiny_study(NoRepeatSampler(inner, seed=3), 150)  # of 200 points
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    for i in range(5, len(keys)):
        assert keys[i] not in keys[:i], f"trial {i} repeats {keys[i]}"
    # Plain TPE does repeat here: the wrapper is what prevents it.
    plain = _tiny_study(
        optuna.samplers.TPESampler(seed=3, n_startup_trials=5, multivariate=True), 150
    )
    plain_keys = [tuple(sorted(t.params.items())) for t in plain.trials]
    assert len(set(plain_keys)) < len(plain_keys)


def test_same_seed_same_proposals() -> None:
    a = _tiny_study(make_sampler("tpe", None, 7, 2), 40)
    b = _tiny_study(make_sampler("tpe", None, 7, 2), 40)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def _first_gp_trial() -> int:
    """Number of the first trial GP proposes: the first engine batch asked once its random
    start-up trials are finished (a batch is asked before any of it is told)."""
    startup, batch = DEFAULT_OPTIONS["gp"]["n_startup_trials"], DEFAULT_BATCH["gp"]
    return -(-startup // batch) * batch


SWEEP_SAMPLERS = ["nsga2", "nsga3", "tpe", "random", "grid"] + (["gp"] if HAS_GP else [])


@pytest.mark.parametrize("name", SWEEP_SAMPLERS)
def test_each_sampler_runs_through_the_engine(name: str, small: Any, tmp_path: Path) -> None:
    """Every sampler drives a real sweep, and nothing it finds beats the exhaustive front."""
    cfg = load_config(Path(small.source), [f"sampler={name}", "seed=1"])
    n = 100
    if name == "gp":  # each GP proposal is a GP fit (seconds): two of them, after start-up
        n = _first_gp_trial() + 2
    s = run_sweep(cfg, trials=n, storage=f"sqlite:///{tmp_path}/o.db", progress=False)
    assert s.n_trials == n
    study = optuna.load_study(study_name=cfg.name, storage=f"sqlite:///{tmp_path}/o.db")
    feasible = [
        t.values
        for t in study.trials
        if t.values is not None and all(c <= 0 for c in t.system_attrs.get("constraints", []))
    ]
    assert feasible
    ex = screen(cfg)
    front = ex.loc[ex["pareto"], ["decode_tokens_per_s", "power_w"]].to_numpy()
    both = np.vstack([front, np.asarray(feasible)])
    mask = pareto_mask(both, ["maximize", "minimize"])
    # A sampled point may tie the front but never dominate it.
    assert mask[: len(front)].all()


def test_screen_matches_the_model_and_the_constraints(small: Any) -> None:
    ex = screen(small)
    assert ex.attrs["n_points"] == small.space.size() == 5 * 5 * 4 * 3 * 2
    assert 0 < len(ex) <= ex.attrs["n_points"]
    # Chunking does not change the answer.
    again = screen(small, chunk=37)
    assert ex.equals(again)
    # The rows re-evaluate to their stored metrics and satisfy every constraint.
    cols = ["m_qkv", "m_ffn", "layers_per_fpga", "freq_mhz", "hbm_placement", "m_attn"]
    df = cm.evaluate(
        small.workload,
        small.platform,
        {**small.design, **{c: ex[c].to_numpy() for c in cols}},
        arch=small.arch,
        baseline=small.baseline,
    )
    assert small.constraints.feasible_mask(df).all()
    np.testing.assert_array_equal(df["power_w"].to_numpy(), ex["power_w"].to_numpy())
    # Exactly the non-dominated feasible points are marked.
    v = ex[["decode_tokens_per_s", "power_w"]].to_numpy()
    assert (ex["pareto"].to_numpy() == pareto_mask(v, ["maximize", "minimize"])).all()


def test_screen_refuses_an_infinite_space(tmp_path: Path) -> None:
    path = tmp_path / "cont.yaml"
    path.write_text(SMALL.replace("step: 50", "log: false"))
    with pytest.raises(ValueError, match=r"space\.freq_mhz"):
        screen(load_config(path))
