"""The model-level search (dse.search): exact enumeration, the vectorised search, and both
inside `dse sweep` (stored as Optuna trials, readable by optuna.load_study, resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from sweep_cases import BASE, cli

from dse.config import load_config
from dse.exhaustive import screen
from dse.pareto import pareto_mask
from dse.search import SEARCH_ATTR, Codec, Scorer, VectorSearch, enumerate_exact

# BASE's space (360 points) widened to ~46,000 points: big enough that a search must
# search, small enough to enumerate for the ground truth in a fraction of a second.
WIDE = BASE.replace(
    "  layers_per_fpga: {type: int, low: 1, high: 4}\n",
    "  layers_per_fpga: {type: int, low: 1, high: 4}\n"
    "  hbm_ch_kv: {type: int, low: 1, high: 8}\n"
    "  hbm_ch_wo: {type: int, low: 1, high: 8}\n"
    "  hbm_placement: [local, global]\n",
).replace("sampler: nsga2\n", "sampler: {name: moea, batch: 2048}\n")


def _config(tmp_path: Path, text: str, *overrides: str) -> Any:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return load_config(path, list(overrides))


def _state(study: optuna.Study) -> dict[str, Any]:
    """The search's record in the study (Optuna 5 reads study system attrs this way)."""
    return dict(study._storage.get_study_system_attrs(study._study_id)[SEARCH_ATTR])


def _objectives(cfg: Any, frame: Any) -> set[tuple[float, ...]]:
    return {tuple(r) for r in frame[[o.metric for o in cfg.objectives]].to_numpy().tolist()}


def test_enumeration_visits_every_grid_point_once(tmp_path: Path) -> None:
    cfg = _config(tmp_path, WIDE)
    codec = Codec(cfg.space)
    seen = [codec.columns(g) for g in codec.enumerate(chunk=4096)]
    got = {
        tuple(str(c[name][i]) for name in cfg.space.names)
        for c in seen
        for i in range(len(c[cfg.space.names[0]]))
    }
    grid = cfg.space.grid()
    want = {
        tuple(str(grid[name][i]) for name in cfg.space.names)
        for i in range(len(grid[cfg.space.names[0]]))
    }
    assert sum(len(c[cfg.space.names[0]]) for c in seen) == cfg.space.size() == len(want)
    assert got == want


def test_exact_front_is_the_brute_force_front(tmp_path: Path) -> None:
    cfg = _config(tmp_path, WIDE)
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    ex = enumerate_exact(codec, scorer, sample=50, chunk=5000)
    brute = screen(cfg)
    assert ex.complete and ex.n_points == cfg.space.size()
    assert ex.n_feasible == len(brute)
    front = {tuple(r) for r in (ex.front_f * scorer.signs).tolist()}
    assert front == _objectives(cfg, brute[brute["pareto"]])
    assert len(ex.front) == int(brute["pareto"].sum())  # ties included
    assert 45 <= len(ex.sample) <= 50


def test_sweep_auto_stores_the_exact_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(WIDE.replace("sampler: {name: moea, batch: 2048}", "sampler: auto"))
    url = f"sqlite:///{tmp_path}/s.db"
    code, out, _ = cli(["sweep", str(path), "--storage", url], capsys)
    assert code == 0, out
    assert "exhaustive: all" in out
    cfg = load_config(path)
    brute = screen(cfg)
    study = optuna.load_study(study_name="t", storage=url)
    trials = study.get_trials(deepcopy=False)
    front = [t for t in trials if t.user_attrs["search"] == "front"]
    assert {tuple(t.values) for t in front} == _objectives(cfg, brute[brute["pareto"]])
    assert any(t.user_attrs["search"] == "sample" for t in trials)
    assert _state(study)["mode"] == "exact"
    # A resume finds the exact front stored and adds nothing.
    code, out, _ = cli(["sweep", str(path), "--storage", url, "--resume"], capsys)
    assert code == 0 and "already stored" in out
    assert len(optuna.load_study(study_name="t", storage=url).trials) == len(trials)


def _run_search(cfg: Any, seed: int, generations: int) -> VectorSearch:
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    search = VectorSearch(codec, len(cfg.objectives), seed, batch=1024)
    for _ in range(generations):
        g = search.ask()
        assert len(np.unique(codec.keys(g))) == len(g)  # no repeats within a batch
        search.tell(g, *scorer(g))
    return search


def test_search_is_deterministic_per_seed(tmp_path: Path) -> None:
    cfg = _config(tmp_path, WIDE)
    a, b = _run_search(cfg, 3, 6), _run_search(cfg, 3, 6)
    np.testing.assert_array_equal(a.archive_g, b.archive_g)
    np.testing.assert_array_equal(a.archive_f, b.archive_f)
    assert a.evaluated == b.evaluated
    c = _run_search(cfg, 4, 6)
    assert c.evaluated != a.evaluated or not np.array_equal(c.archive_g, a.archive_g)


def test_search_front_is_feasible_and_never_beats_the_exact_front(tmp_path: Path) -> None:
    cfg = _config(tmp_path, WIDE)
    search = _run_search(cfg, 0, 15)
    codec = Codec(cfg.space)
    f, cv = Scorer(cfg, codec)(search.archive_g)
    assert (cv <= 0).all()  # re-scored: every archive point is feasible
    np.testing.assert_array_equal(f, search.archive_f)
    brute = screen(cfg)
    exact = brute[brute["pareto"]][[o.metric for o in cfg.objectives]].to_numpy()
    signs = Scorer(cfg, codec).signs
    both = np.vstack([exact * signs, f])
    on_front = pareto_mask(both, ["minimize"] * 2)
    # Nothing found dominates an exact-front point; what is on the joint front is exact.
    assert on_front[: len(exact)].all()
    exact_set = {tuple(r) for r in (exact * signs).tolist()}
    assert all(tuple(r) in exact_set for r in both[len(exact) :][on_front[len(exact) :]].tolist())


def test_duplicates_are_never_scored_twice(tmp_path: Path) -> None:
    cfg = _config(tmp_path, BASE)  # 360 points
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    search = VectorSearch(codec, 2, 0, batch=256)
    asked: list[int] = []
    for _ in range(40):
        g = search.ask()
        asked += codec.keys(g).tolist()
        search.tell(g, *scorer(g))
    assert len(asked) == len(set(asked))
    assert len(asked) <= cfg.space.size()
    assert search.duplicates > 0  # the space ran out: later asks were all repeats


def test_sweep_moea_persists_an_archive_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(WIDE)
    url = f"sqlite:///{tmp_path}/s.db"
    code, out, _ = cli(["sweep", str(path), "--storage", url, "--trials", "6000"], capsys)
    assert code == 0, out
    assert "model-level search (moea)" in out
    study = optuna.load_study(study_name="t", storage=url)
    first = study.get_trials(deepcopy=False)
    state = _state(study)
    assert state["mode"] == "moea" and state["evaluated"] == 6000
    assert first and all(t.user_attrs["search"] == "archive" for t in first)
    assert all(max(t.system_attrs["constraints"]) <= 0 for t in first)
    code, out, _ = cli(
        ["sweep", str(path), "--storage", url, "--trials", "12000", "--resume"], capsys
    )
    assert code == 0, out
    study = optuna.load_study(study_name="t", storage=url)
    assert _state(study)["evaluated"] == 12000
    assert len(study.trials) >= len(first)
    assert [t.params for t in study.trials[: len(first)]] == [t.params for t in first]


def test_auto_searches_when_the_grid_is_too_slow_to_enumerate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(WIDE.replace("{name: moea, batch: 2048}", "{name: auto, exact_s: 0}"))
    url = f"sqlite:///{tmp_path}/s.db"
    code, out, _ = cli(["sweep", str(path), "--trials", "3000", "--storage", url], capsys)
    assert code == 0 and "model-level search (moea)" in out


def test_bad_search_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(WIDE.replace("batch: 2048", "batchsize: 2048"))
    url = f"sqlite:///{tmp_path}/s.db"
    code, _, err = cli(["sweep", str(path), "--storage", url], capsys)
    assert code == 2
    assert "sampler.batchsize: unknown option for moea" in err and "did you mean" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s.db").exists()  # refused before anything was written
