"""The contract of a sampler, checked for every name in ``dse.samplers.SAMPLERS``: adding a
name adds its tests.

A study config accepts the name. An Optuna sampler (what ``make_sampler`` returns) has
its tuned defaults in ``DEFAULT_OPTIONS``, proposes only points of the study's space,
repeats itself for a seed, and refuses a misspelt option with a "did you mean". A name
that is not an Optuna sampler (the model-level search, exhaustive enumeration) says where
it runs instead, and that place takes it. Search quality per sampler is measured in
``benchmarks/search_quality.py``; the engine run per sampler is in ``test_samplers.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from dse.config import load_config
from dse.errors import ConfigError
from dse.samplers import DEFAULT_OPTIONS, SAMPLERS, make_sampler
from tests.dse_tests.test_samplers import HAS_GP, SMALL  # one small study for both


def _config(tmp_path: Path, name: str) -> Any:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return load_config(path, [f"sampler={name}", "seed=3"])


def _sampler(cfg: Any, name: str) -> optuna.samplers.BaseSampler | None:
    """The Optuna sampler of ``name``, or None when the name is not one (and says so)."""
    if name == "gp" and not HAS_GP:
        pytest.skip("gp needs torch and scipy (pip install .[gp])")
    try:
        return make_sampler(name, cfg.space, 3, len(cfg.objectives))
    except ConfigError as exc:
        assert "not an Optuna sampler" in str(exc) or "enumerates" in str(exc), str(exc)
        return None


def _ask_tell(cfg: Any, sampler: optuna.samplers.BaseSampler, n: int) -> list[dict[str, Any]]:
    """``n`` trials of a stand-in objective (the sampler's contract, not the model's)."""
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    points = []
    for _ in range(n):
        trial = study.ask()
        point = cfg.space.suggest(trial)
        points.append(point)
        size = float(point["m_qkv"]) * float(point["m_ffn"])
        study.tell(trial, [size * float(point["freq_mhz"]), size / point["layers_per_fpga"]])
    return points


@pytest.mark.parametrize("name", SAMPLERS)
def test_sampler_proposes_points_of_the_space_repeatably(name: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, name)
    assert cfg.sampler.name == name
    sampler = _sampler(cfg, name)
    if sampler is None:
        return  # the next test covers where it runs
    points = _ask_tell(cfg, sampler, 12)
    for point in points:
        assert point["m_qkv"] in {64, 128, 256, 512, 1024}
        assert 1 <= point["layers_per_fpga"] <= 4 and point["freq_mhz"] in (200, 250, 300)
        assert point["hbm_placement"] in ("local", "global")
        assert point["m_attn"] == max(1, point["m_qkv"] // 8)  # derived keys come along
    again = _sampler(cfg, name)
    assert again is not None and _ask_tell(cfg, again, 12) == points, "same seed, same points"


@pytest.mark.parametrize("name", SAMPLERS)
def test_sampler_has_defaults_or_runs_elsewhere(name: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, name)
    sampler = _sampler(cfg, name)
    if sampler is not None:
        assert name in DEFAULT_OPTIONS or name == "auto", f"{name}: add its DEFAULT_OPTIONS"
        if name != "auto":
            with pytest.raises(ConfigError, match="did you mean"):
                make_sampler({"name": name, "avoid_repeat": True}, cfg.space, 3, 2)
    elif name == "exhaustive":
        from dse.exhaustive import screen

        front = screen(cfg)
        assert len(front) and front["pareto"].any()
    else:
        from dse.search import uses_model_search

        assert uses_model_search(cfg, builds=False)
