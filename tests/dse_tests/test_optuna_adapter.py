"""dse._optuna reaches into Optuna's private API. These tests pin the Optuna series it was
read against and check each private name it uses still exists and means what it did, so an
Optuna upgrade fails here, loudly and by name, instead of somewhere inside a sweep."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from dse import _optuna as adapter

ROOT = Path(__file__).resolve().parents[2]


def test_installed_optuna_is_a_checked_series() -> None:
    assert adapter.is_checked(), (
        f"optuna {optuna.__version__} is installed; dse/_optuna.py was checked against "
        f"{adapter.CHECKED_SERIES} only. Read every function there against this release "
        "(RDB models, InMemoryStorage fields, BaseGASampler hooks), then widen "
        "CHECKED_SERIES and the optuna pin in pyproject.toml together."
    )


@pytest.mark.parametrize(
    ("version", "checked"), [("5.1.0", True), ("5.1.7", True), ("5.0.0", False), ("5.2.0", False)]
)
def test_other_series_are_refused(version: str, checked: bool) -> None:
    assert adapter.is_checked(version) is checked


def test_pyproject_pins_the_checked_series() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pin = re.search(r'"optuna(>=[^"]+)"', text)
    assert pin is not None, "pyproject.toml: no optuna pin"
    lows = [s.strip()[2:] for s in pin.group(1).split(",") if s.strip().startswith(">=")]
    highs = [s.strip()[1:] for s in pin.group(1).split(",") if s.strip().startswith("<")]
    assert lows and highs, f"optuna pin {pin.group(1)!r} needs a lower and an upper bound"
    assert adapter.series(lows[0]) in adapter.CHECKED_SERIES, pin.group(1)
    major, minor = (int(x) for x in adapter.CHECKED_SERIES[-1].split("."))
    assert highs[0] == f"{major}.{minor + 1}", f"optuna pin {pin.group(1)!r} allows unchecked"


def test_private_names_still_mean_the_same() -> None:
    from optuna.study._constrained_optimization import _CONSTRAINTS_KEY

    assert adapter.CONSTRAINTS_KEY == _CONSTRAINTS_KEY
    nsga2 = optuna.samplers.NSGAIISampler(seed=0)
    nsga3 = optuna.samplers.NSGAIIISampler(seed=0)
    assert adapter.is_ga(nsga2) and adapter.ga_batchable(nsga2) and adapter.ga_batchable(nsga3)
    assert adapter.generation_key(nsga2) == adapter.generation_key("nsga2")
    assert adapter.generation_key(nsga3) == adapter.generation_key("nsga3")
    assert adapter.PARENT_TAG in nsga2._get_parent_cache_key_prefix()
    assert not adapter.is_ga(optuna.samplers.RandomSampler())
    assert callable(nsga2._child_generation_strategy)
    assert {c.name for c in adapter.TABLES.trials.columns} >= {
        "trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"
    }  # fmt: skip
    assert adapter.stored_value(float("inf"))[0] is None
    assert adapter.stored_value(1.5) == (1.5, adapter.stored_value(2.0)[1])


def test_history_storage_appends_finished_trials_in_bulk() -> None:
    """The bulk append gives the same study as Optuna's own add_trials."""
    directions = ["minimize", "maximize"]
    ours = optuna.create_study(storage=adapter.HistoryStorage(), directions=directions)
    theirs = optuna.create_study(directions=directions)
    dist = optuna.distributions.IntDistribution(0, 9)
    made = [
        optuna.trial.create_trial(params={"x": i}, distributions={"x": dist}, values=[i, -i])
        for i in range(5)
    ]
    adapter.HistoryStorage.append_finished(
        adapter.study_storage(ours), adapter.study_id(ours), made
    )
    theirs.add_trials(made)
    got, want = ours.get_trials(deepcopy=False), theirs.get_trials(deepcopy=False)
    assert [(t.number, t.params, t.values) for t in got] == [
        (t.number, t.params, t.values) for t in want
    ]
    assert [adapter.trial_id(t) for t in got] == [0, 1, 2, 3, 4]
    assert len(ours.best_trials) == len(theirs.best_trials)


@pytest.mark.parametrize(
    ("make", "replaced"),
    [
        (lambda: optuna.samplers.NSGAIISampler(seed=0), True),
        (lambda: optuna.samplers.GPSampler(seed=0), True),
        (lambda: optuna.samplers.TPESampler(seed=0, multivariate=True), False),  # pruned-aware
    ],
)
def test_shared_search_space_replaces_the_samplers_own(make: object, replaced: bool) -> None:
    from optuna.search_space import IntersectionSearchSpace

    sampler = make()  # type: ignore[operator]
    shared = IntersectionSearchSpace()
    adapter.share_search_space(sampler, shared)
    assert any(v is shared for v in vars(sampler).values()) is replaced
