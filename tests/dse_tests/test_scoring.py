"""The one scorer (``dse.scoring``): the only model call, a named result, a frozen versioned
calibration, and the dashboard's figures of a calibrated study equal to what the sweep stored."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

import cost_models as cm
from dse.calibration import Correction
from dse.config import load_config
from dse.scoring import RAW, Calibration, Cone, Model, Score, Scorer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "smollm-135m-ecp5.yaml"


def _evaluate_calls(path: Path) -> list[int]:
    """Lines of ``path`` that call ``cost_models.evaluate`` (through any import alias)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, funcs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "cost_models"}
        elif isinstance(node, ast.ImportFrom) and node.module == "cost_models":
            funcs |= {a.asname or a.name for a in node.names if a.name == "evaluate"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "evaluate":
            if isinstance(f.value, ast.Name) and f.value.id in modules:
                lines.append(node.lineno)
        elif isinstance(f, ast.Name) and f.id in funcs:
            lines.append(node.lineno)
    return lines


def test_only_the_scorer_calls_the_cost_model() -> None:
    calls = {
        str(p.relative_to(REPO)): lines
        for root in ("dse", "app")
        for p in sorted((REPO / root).rglob("*.py"))
        if (lines := _evaluate_calls(p))
    }
    one = "dse/scoring/_model.py"
    assert calls == {one: calls.get(one, [])}, calls
    assert len(calls[one]) == 1  # Model.evaluate


def test_the_check_sees_an_aliased_call(tmp_path: Path) -> None:
    src = tmp_path / "x.py"
    src.write_text("import cost_models as m\nfrom cost_models import evaluate as ev\n"
                   "m.evaluate(1)\nev(2)\n")  # fmt: skip
    assert _evaluate_calls(src) == [3, 4]


def _cfg(tmp_path: Path) -> Any:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc.pop("build")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_config(path)


def test_a_batch_scores_to_named_results_equal_to_the_model(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    scorer = Scorer(cfg)
    rows = [
        {"freq_mhz": 40.0, "mv_n": 4, "mm_n": 2, "mm_k": 1, "tile_tokens": 8, "sparsity": "none",
         "overlap": True},
        {"freq_mhz": 110.0, "mv_n": 8, "mm_n": 4, "mm_k": 4, "tile_tokens": 16, "sparsity": "log",
         "density_ffn": 0.25, "density_qk": 0.5, "overlap": False},
    ]  # fmt: skip
    got = scorer.score(rows)
    assert all(isinstance(s, Score) for s in got) and len(got) == 2
    metrics = [o.metric for o in cfg.objectives]
    for row, s in zip(rows, got, strict=True):
        want = cm.evaluate(cfg.workload, cfg.platform, {**cfg.design, **row}, arch=cfg.arch,
                           baseline=cfg.baseline).iloc[0]  # fmt: skip
        assert s.error is None and s.values == pytest.approx([float(want[m]) for m in metrics])
        assert s.metrics is not None and s.metrics["lut_util"] == pytest.approx(want["lut_util"])
        assert s.feasible == (bool(want["feasible"]) and s.metrics["lut_util"] <= 0.85)
    assert got[1].feasible is False  # 110 MHz is above what the model reaches on an ECP5


def test_calibration_is_frozen_and_each_refit_is_a_new_version(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    lut = Correction("lut", "ecp5", 0.4, 1.0, 1, 0.0, "scale")  # measured = 1.49 x predicted
    cal = Calibration(flow="ecp5").refit([lut], [])
    assert (RAW.version, cal.version, cal.refit([lut], []).version) == (0, 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.version = 7  # type: ignore[misc]
    model = Model.of(cfg)
    raw = model.evaluate(cfg.point, detail=True).iloc[0]
    got = model.evaluate(cfg.point, cal).iloc[0]
    datapath = raw["lut"] - raw["lut_fixed"]
    assert got["lut"] == pytest.approx(raw["lut_fixed"] + datapath * float(lut(1.0)))
    assert got["lut_util"] / raw["lut_util"] == pytest.approx(got["lut"] / raw["lut"])
    cone = Cone("overlay", {}, None, "measured over_utilization (trial 3)")
    assert cone.covers({"GEMV_LANES": 2}, 50.0)  # no parameters: every point of its template


def test_design_page_of_a_calibrated_study_is_what_the_sweep_stored(tmp_path: Path) -> None:
    """A real place-and-route build misses its clock: the sweep rules out the build's
    neighbourhood (its units calibrate nothing of the whole-design model), then re-scores
    the study. The dashboard's scorer gives every stored trial the same LUT use, feasibility
    and violations (before, it applied the corrections but not the measured neighbourhood)."""
    from app import _design
    from dse.sweep import load_builds, run_sweep

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["name"] = "calibrated"
    for key in ("mv_n", "mm_k", "mm_n"):
        doc["design"].pop(key, None)
    doc["design"].update(
        {"mm_k": 1, "tile_tokens": 8, "sparsity": "none", "overlap": True, "sfu_lanes": 2}
    )
    # The model reaches 55-76 MHz at these points; the routed units reach under 40.
    doc["space"] = {
        "freq_mhz": {"type": "float", "low": 45, "high": 52},
        "mv_n": {"type": "pow2", "low": 2, "high": 4},
        "mm_n": {"type": "pow2", "low": 1, "high": 2},
    }
    doc["budget"] = {"trials": 32}
    doc["batch_size"] = 16
    # A unit template (seconds of Yosys); place and route by nextpnr gives its real Fmax.
    doc["build"] = {"template": "llm_top", "flow": "ecp5", "every": 16, "top_k": 1,
                    "budget": 1, "wait": True}  # fmt: skip
    path = tmp_path / "calibrated.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    cfg = load_config(path)
    url = f"sqlite:///{tmp_path}/study.db"
    run_sweep(cfg, storage=url, progress=False, cache_root=tmp_path / "builds")

    builds, calibrations = load_builds(cfg.name, url)
    assert list(builds["failure_class"]) == ["timing_not_met"], builds[["state", "first_error"]]
    assert len(calibrations) == 0  # llm_top builds units: no correction of the design
    config = optuna.load_study(study_name=cfg.name, storage=url).user_attrs["dse:config"]
    calibration = _design.study_calibration(config, calibrations, builds)
    assert len(calibration.cones) == 1 and not calibration.corrections
    trials = optuna.load_study(study_name=cfg.name, storage=url).get_trials()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    ruled_out = 0
    for t in done:
        stored = t.user_attrs["metrics"]
        got = _design.score_point(config, t.user_attrs["point"], calibration).calibrated
        assert got["lut_util"] == pytest.approx(stored["lut_util"]), t.number
        assert bool(got["feasible"]) == stored["feasible"], t.number
        assert str(got["violations"]) == (stored["violations"] or ""), t.number
        assert [got[o.metric] for o in cfg.objectives] == pytest.approx(t.values)
        ruled_out += "measured timing_not_met" in (stored["violations"] or "")
    assert ruled_out > 0  # the measured neighbourhood is part of what was compared
