"""What a resume restores: the cached batches (dse_trial_batches) give exactly the trials
Optuna's own tables give, a stale or partial cache is never trusted, and the NSGA-II parents
the engine computes per batch are those Optuna's sampler computes from scratch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from sweep_cases import sub

from dse.config import load_config
from dse.sweep import TrialStore, run_sweep
from tests._postgres import PostgresServer

TRIALS, BATCH = 240, 30  # 8 batches; NSGA-II generations span batches
POPULATION = 64  # the engine's NSGA-II default (dse.samplers.DEFAULT_OPTIONS)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    d = tmp_path_factory.mktemp("resume")
    (d / "study.yaml").write_text(sub("{trials: 300}", f"{{trials: {TRIALS}}}"))
    cfg = load_config(d / "study.yaml")
    url = f"sqlite:///{d / 's.db'}"
    assert run_sweep(cfg, storage=url, progress=False).n_trials == TRIALS
    return cfg, url


def _view(got: Any) -> list[tuple[Any, ...]]:
    return [
        (tid, t.number, t.state, t.params, t.distributions, t.values, t.system_attrs, t.user_attrs)
        for tid, t in zip(got.trial_ids, got.trials, strict=True)
    ]


def _copy(url: str, tmp_path: Path) -> str:
    src = Path(sa.engine.make_url(url).database or "")
    dst = tmp_path / "copy.db"
    dst.write_bytes(src.read_bytes())
    return f"sqlite:///{dst}"


def _rows(store: TrialStore) -> list[tuple[int, int]]:
    with store.engine.begin() as conn:
        return list(conn.exec_driver_sql("SELECT batch_id, study_id FROM dse_trial_batches"))


def test_every_batch_is_cached_and_reads_back_as_optunas_tables(study: tuple[Any, str]) -> None:
    _, url = study
    store = TrialStore(url)
    try:
        assert len(_rows(store)) == TRIALS // BATCH
        fast = store.load_history(1)
        slow = store.load(1, user_attrs=("duplicate_of",))
        assert len(fast.trials) == TRIALS
        assert any("duplicate_of" in t.user_attrs for t in fast.trials)
        assert _view(fast) == _view(slow)
    finally:
        store.close()


@pytest.fixture
def copied(study: tuple[Any, str], tmp_path: Path) -> Iterator[TrialStore]:
    """A store on a copy of the module's study, to damage or re-score."""
    store = TrialStore(_copy(study[1], tmp_path))
    yield store
    store.close()


@pytest.mark.parametrize("damage", ["stale-number", "half-missing", "no-table"])
def test_a_damaged_cache_is_not_trusted(copied: TrialStore, damage: str) -> None:
    with copied.engine.begin() as conn:
        if damage == "stale-number":  # as if the trials had been renumbered since
            conn.exec_driver_sql("UPDATE trials SET number = number + 1000")
        elif damage == "half-missing":
            conn.exec_driver_sql("DELETE FROM dse_trial_batches WHERE batch_id % 2 = 0")
        else:
            conn.exec_driver_sql("DROP TABLE dse_trial_batches")
    assert _view(copied.load_history(1)) == _view(copied.load(1, user_attrs=("duplicate_of",)))


def test_rescoring_drops_the_cache_and_a_resume_sees_the_new_values(copied: TrialStore) -> None:
    got = copied.load(1)
    ids = [tid for tid, t in zip(got.trial_ids, got.trials, strict=True) if t.values][:5]
    copied.rescore(ids, [[1.0, 2.0]] * 5, [[-1.0]] * 5, [{"calibration": 1}] * 5)
    assert _rows(copied) == []
    fast = copied.load_history(1)
    assert [t.values for t in fast.trials if t._trial_id in ids] == [[1.0, 2.0]] * 5
    assert _view(fast) == _view(copied.load(1, user_attrs=("duplicate_of",)))


def test_resume_continues_from_the_cache_like_an_uninterrupted_run(
    study: tuple[Any, str], tmp_path: Path
) -> None:
    cfg, url = study
    resumed = _copy(url, tmp_path)
    r = run_sweep(cfg, trials=TRIALS + BATCH, storage=resumed, resume=True, progress=False)
    assert (r.n_trials, r.n_new) == (TRIALS + BATCH, BATCH)
    (tmp_path / "whole").mkdir()
    whole = f"sqlite:///{tmp_path / 'whole' / 's.db'}"
    run_sweep(cfg, trials=TRIALS + BATCH, storage=whole, progress=False)

    def trials(u: str) -> list[tuple[Any, ...]]:
        s = optuna.load_study(study_name="t", storage=u)
        return [(t.params, t.values, t.system_attrs, t.user_attrs) for t in s.get_trials()]

    assert trials(resumed) == trials(whole)


def test_batched_parents_are_the_ones_optuna_selects(study: tuple[Any, str]) -> None:
    """The engine's per-batch parents (cached by generation in the study, as database ids)
    equal those a fresh NSGAIISampler selects from the same trials without any cache."""
    _, url = study
    stored = optuna.load_study(study_name="t", storage=url)
    trials = stored.get_trials()
    number_of = {t._trial_id: t.number for t in trials}
    fresh = optuna.create_study(directions=["maximize", "minimize"])
    fresh.add_trials(trials)
    sampler = optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=0)
    prefix = sampler._get_parent_cache_key_prefix()
    cached = {
        int(k[len(prefix) :]): v
        for k, v in stored._storage.get_study_system_attrs(stored._study_id).items()
        if k.startswith(prefix)
    }
    assert len(cached) >= 2 and sorted(cached) == list(range(1, len(cached) + 1))
    for generation, ids in cached.items():
        ours = sorted(number_of[i] for i in ids)
        theirs = sorted(t.number for t in sampler.get_parent_population(fresh, generation))
        assert ours == theirs and len(ours) == POPULATION, generation


def test_a_study_made_again_under_a_reused_id_does_not_read_the_old_cache(
    study: tuple[Any, str], tmp_path: Path
) -> None:
    cfg, url = study
    url = _copy(url, tmp_path)
    optuna.delete_study(study_name="t", storage=url)  # SQLite gives its id to the next study
    again = load_config(Path(cfg.source), ["seed=1"])
    assert run_sweep(again, trials=2 * BATCH, storage=url, progress=False).n_new == 2 * BATCH
    store = TrialStore(url)
    try:
        assert store.study_id("t") == 1 and len(_rows(store)) == 2
        fast = store.load_history(1)
        assert len(fast.trials) == 2 * BATCH
        assert _view(fast) == _view(store.load(1, user_attrs=("duplicate_of",)))
    finally:
        store.close()


def test_postgres_resume_reads_the_cache(postgres: PostgresServer, study: tuple[Any, str]) -> None:
    """The same on PostgreSQL: cached batches match Optuna's tables, and a resume continues."""
    cfg, _ = study
    url = postgres.create_database("resume_cache")
    run_sweep(cfg, trials=3 * BATCH, storage=url, progress=False)
    store = TrialStore(url)
    try:
        assert len(_rows(store)) == 3
        sid = store.study_id("t")
        assert sid is not None
        fast = store.load_history(sid)
        assert len(fast.trials) == 3 * BATCH
        assert _view(fast) == _view(store.load(sid, user_attrs=("duplicate_of",)))
    finally:
        store.close()
    r = run_sweep(cfg, trials=4 * BATCH, storage=url, resume=True, progress=False)
    assert (r.n_trials, r.n_new) == (4 * BATCH, BATCH)
