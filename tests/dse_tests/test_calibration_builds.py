"""What a sweep's builds calibrate, from stored build rows (no tool runs): each measurement is
paired with the model's prediction of the object that build made, a unit template calibrates
nothing of the design, latency comes from the sim rung alone, and the sweep's summary gives
held-out errors and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from dse.calibration import Observation, applies, fit_corrections, held_out_errors
from dse.scoring import Calibration
from dse.sweep._builds import BuildRow
from dse.sweep._fit import Fitter, observations

REPO = Path(__file__).resolve().parents[2]


def row(
    bid: int,
    template: str,
    flow: str,
    predicted: dict[str, float],
    measured: dict[str, float],
    state: str = "done",
) -> BuildRow:
    return BuildRow(
        bid, 1, bid, f"k{bid}", template, flow, "LFE5U-85F-6BG381C", {}, {}, state,
        predicted, measured, 0,
    )  # fmt: skip


WHOLE = {"lut": 10000.0, "ff": 5000.0, "dsp": 40.0, "uram": 0.0, "achievable_clock_mhz": 80.0}


def test_each_measurement_is_paired_with_the_prediction_of_the_object_built() -> None:
    rows = [
        # whole accelerator, synthesis: the stored whole-design figures
        row(1, "overlay", "yosys-ecp5", WHOLE, {"lut": 12000.0, "dsp": 44.0, "uram": 0.0}),
        # the sim rung: cycles against the run's own cycle-model figure, not a study column
        row(
            2,
            "overlay",
            "sim-verilator",
            {**WHOLE, "decode_latency_s": 0.5},
            {"decode_cycles_per_token": 1100.0, "model_decode_cycles_per_token": 1000.0},
        ),
        # a sim run that was not bit-exact did not run what the model predicts
        row(
            3,
            "overlay",
            "sim-verilator",
            WHOLE,
            {"decode_cycles_per_token": 9e9, "model_decode_cycles_per_token": 1000.0},
            "failed",
        ),
    ]
    got = {(o.build, o.metric): (o.predicted, o.measured) for o in observations(rows)}
    assert got == {
        ("trial 1 (overlay, yosys-ecp5)", "lut"): (10000.0, 12000.0),
        ("trial 1 (overlay, yosys-ecp5)", "dsp"): (40.0, 44.0),
        ("trial 2 (overlay, sim-verilator)", "decode_cycles_per_token"): (1000.0, 1100.0),
    }  # uram: 0 measured, 0 predicted says nothing


def test_unit_template_builds_calibrate_nothing_of_the_design() -> None:
    """llm_top measured against its units' model, far below the whole design: refused, the
    corrections come from the whole accelerator alone."""
    units = {"lut": 2500.0, "ff": 1500.0, "dsp": 19.0}
    rows = [
        row(1, "llm_top", "yosys-ecp5", units, {"lut": 2649.0, "ff": 1672.0, "dsp": 19.0}),
        row(2, "overlay", "yosys-ecp5", WHOLE, {"lut": 11000.0, "ff": 6000.0, "dsp": 40.0}),
    ]
    lines: list[str] = []
    kept = Fitter(lines.append).sane(observations(rows))
    assert {o.template for o in kept} == {"overlay"}
    fitted = fit_corrections(kept)
    assert fitted[("lut", "yosys-ecp5")].scale_at_one == pytest.approx(1.1)
    assert fitted[("dsp", "yosys-ecp5")].scale_at_one == pytest.approx(1.0)
    assert len(lines) == 3 and all("'llm_top' builds units" in line for line in lines)
    assert "lut (yosys-ecp5) measured 2649, its template's model 2500" in lines[0]


def test_a_whole_design_measurement_outside_the_range_is_refused_not_applied() -> None:
    rows = [
        row(1, "overlay", "yosys-ecp5", WHOLE, {"lut": 12000.0, "ff": 15000.0}),
        row(2, "overlay", "yosys-ecp5", WHOLE, {"lut": 11000.0, "ff": 14000.0, "dsp": 0.0}),
    ]
    lines: list[str] = []
    kept = Fitter(lines.append).sane(observations(rows))
    fitted = fit_corrections(kept)
    assert set(fitted) == {("lut", "yosys-ecp5")}  # no FF or DSP correction at all
    assert len(lines) == 3
    assert (
        "trial 2 (overlay, yosys-ecp5): dsp (yosys-ecp5) measured 0, the model predicted 40"
        in (lines[2])
    )
    assert "build trial 1 (overlay, yosys-ecp5): ff (yosys-ecp5) measured 15000" in lines[0]
    assert "the model predicted 5000 (x3, outside x0.5-x2)" in lines[0]


def test_latency_from_the_sim_rung_applies_to_a_study_built_on_another_flow() -> None:
    corrections = fit_corrections(
        [
            Observation("decode_cycles_per_token", "sim-verilator", "overlay", 1000.0, 1250.0),
            Observation("lut", "sim-verilator", "overlay", 1000.0, 1250.0),  # not its rung
            Observation("lut", "ecp5", "overlay", 1000.0, 1500.0),  # another flow's builds
            Observation("lut", "yosys-ecp5", "overlay", 1000.0, 1100.0),
        ]
    )
    assert set(corrections) == {
        ("decode_cycles_per_token", "sim-verilator"),
        ("lut", "ecp5"),
        ("lut", "yosys-ecp5"),
    }
    assert applies("decode_cycles_per_token", "sim-verilator", "yosys-ecp5")
    assert not applies("lut", "ecp5", "yosys-ecp5")
    cal = Calibration(1, "yosys-ecp5", tuple(corrections.values()))
    df = pd.DataFrame(
        {
            "decode_latency_s_per_token": [0.02],
            "decode_tokens_per_s": [50.0],
            "decode_bytes_per_token": [1e6],
            "energy_per_token_j": [0.01],  # 0.002 J of it moving 1 MB at 2000 pJ/byte
            "power_w": [0.5],
            "lut": [3000.0],
            "lut_fixed": [1000.0],
            "lut_util": [0.3],
            "feasible": [True],
            "violations": [""],
        }
    )
    out = cal.apply(df, {}, mem_pj_per_byte=2000.0)
    assert float(out["decode_latency_s_per_token"].iloc[0]) == pytest.approx(0.025)
    assert float(out["decode_tokens_per_s"].iloc[0]) == pytest.approx(40.0)
    # the compute part of the energy takes 1.25x the time, the memory part is the same bytes
    assert float(out["energy_per_token_j"].iloc[0]) == pytest.approx(0.008 * 1.25 + 0.002)
    assert float(out["power_w"].iloc[0]) == pytest.approx(0.012 / 0.025)
    assert float(out["lut"].iloc[0]) == pytest.approx(1000.0 + 1.1 * 2000.0)  # yosys-ecp5's


def test_a_fitted_line_leaving_the_range_falls_back_to_the_scale() -> None:
    """Five builds, each inside x0.5-x2, whose Theil-Sen line leaves the range at the
    largest one (x0.35): with the range given, the pure scale is fitted instead."""
    preds = [150.0, 150.0, 200.0, 400.0, 3200.0]
    ratios = [1.64, 1.21, 1.07, 0.81, 1.23]
    obs = [
        Observation("lut", "yosys-ecp5", "overlay", p, p * r)
        for p, r in zip(preds, ratios, strict=True)
    ]
    free = fit_corrections(obs)[("lut", "yosys-ecp5")]
    assert free.method == "theil-sen" and float(free(3200.0)) / 3200.0 < 0.5
    safe = fit_corrections(obs, (0.5, 2.0))[("lut", "yosys-ecp5")]
    assert safe.method == "scale" and safe.scale_at_one == pytest.approx(1.21)


def test_unit_templates_are_predicted_by_their_units_model() -> None:
    import cost_models as cm
    from dse.config import load_config
    from dse.scoring import Model
    from runners import load_template

    cfg = load_config(REPO / "examples" / "smollm-135m-ecp5.yaml")
    model = Model.of(cfg)
    tpl = load_template("llm_top")
    params = tpl.resolve_params({**cfg.design, "mv_n": 4, "mm_k": 2, "mm_n": 2, "quant": "w4a8"})
    terms = tpl.model_terms(params)
    got = model.predict_build({}, terms)
    want = {r: 0.0 for r in ("lut", "ff", "dsp")}
    for unit, p in terms:
        for r in want:
            want[r] += float(cm.unit_resources(unit, p, cfg.platform.dsp_kind)[r][0])
    for r, v in want.items():
        assert got[r] == pytest.approx(v) and v > 0
    assert "achievable_clock_mhz" not in got  # the model predicts no clock for units alone
    assert got["lut_util"] == pytest.approx(want["lut"] / cfg.platform.available().lut)
    whole = model.predict_build({**cfg.design, "act_onchip": True})
    assert whole["lut"] > 2 * got["lut"] and whole["achievable_clock_mhz"] > 0


def test_the_sweep_summary_prints_held_out_errors_and_refusals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dse.cli_sweep import _print_builds
    from dse.sweep._scheduler import BuildSummary

    rows = [
        row(1, "overlay", "yosys-ecp5", WHOLE, {"lut": 12000.0, "dsp": 40.0}),
        row(2, "overlay", "yosys-ecp5", WHOLE, {"lut": 11000.0, "dsp": 100.0}),
        row(
            3,
            "overlay",
            "sim-verilator",
            WHOLE,
            {"decode_cycles_per_token": 1100.0, "model_decode_cycles_per_token": 1000.0},
        ),
    ]
    lines: list[str] = []
    fitter = Fitter(lines.append)
    kept = fitter.sane(observations(rows))
    fitted = fit_corrections(kept)
    from dse.calibration import calibration_errors

    summary = BuildSummary(
        requested=3, done=3, rows=rows, corrections=fitted,
        errors=calibration_errors(kept, fitted), held_out=held_out_errors(kept),
        refused=fitter.refusals,
    )  # fmt: skip
    _print_builds(summary)
    out = capsys.readouterr().out
    assert "12k/10k" in out and "1.1k/1k" in out  # measured/model per build, cycles too
    lut = next(line for line in out.splitlines() if line.strip().startswith("lut "))
    # in-sample 5 % either side of the median scale x1.15; each held out by the other: 9 %
    assert "x1.15" in lut and "9% (max 9%)" in lut, out
    cycles = next(line for line in out.splitlines() if line.strip().startswith("cycles "))
    assert "x1.1" in cycles and cycles.split()[-2] == "-"  # one run: no held-out figure
    assert "refused: build trial 2 (overlay, yosys-ecp5): dsp (yosys-ecp5) measured 100" in out


def test_build_sim_needs_a_template_with_a_sim_flow(tmp_path: Path) -> None:
    from dse.config import load_config
    from dse.errors import ConfigError

    doc: dict[str, Any] = yaml.safe_load((REPO / "examples" / "smollm-135m-ecp5.yaml").read_text())
    doc["build"] = {"template": "llm_top", "flow": "yosys-ecp5", "sim": True}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ConfigError, match=r"build\.sim.*'llm_top' has no sim flow"):
        load_config(path)
    doc["build"] = {"template": "overlay", "flow": "yosys-ecp5", "sim": True}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_config(path).build.sim  # type: ignore[union-attr]


def test_stored_whole_design_builds_calibrate_every_trial_of_the_sweep(tmp_path: Path) -> None:
    """Builds of the overlay already in the study (synthesis and the sim rung): a resumed
    sweep fits from them before its first trial, against the current model's prediction of
    each (the stored one is the model's when the build was requested), scores every trial
    with the corrections (latency from the sim run, LUT from synthesis) and re-scores the
    history; no tool runs (the build budget is spent)."""
    import cost_models as cm
    from dse.config import load_config
    from dse.scoring import Model
    from dse.sweep import BuildsTable, TrialStore, load_study_data, run_sweep
    from runners import BuildResult

    doc: dict[str, Any] = yaml.safe_load((REPO / "examples" / "smollm-135m-ecp5.yaml").read_text())
    doc["name"] = "stored-builds"
    doc["batch_size"] = 8
    doc["build"] = {"template": "overlay", "flow": "yosys-ecp5", "sim": True, "budget": 0}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    cfg = load_config(path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    opts: dict[str, Any] = {"storage": url, "progress": False, "cache_root": tmp_path / "b"}
    run_sweep(cfg, trials=16, builds=False, **opts)

    store = TrialStore(url, create=False)
    sid = store.study_id(cfg.name)
    assert sid is not None
    table = BuildsTable(store.engine)
    model = Model.of(cfg)
    point = {**cfg.design, "mv_n": 4, "freq_mhz": 30.0}
    whole = model.predict_build(point)
    for flow, measured in (
        ("yosys-ecp5", {"lut": 1.2 * whole["lut"], "dsp": whole["dsp"], "ff": 9 * whole["ff"]}),
        ("sim-verilator", {"decode_cycles_per_token": 1250, "model_decode_cycles_per_token": 1e3}),
    ):
        bid = table.add(
            sid, trial_number=0, trial_id=None, spec_key=flow, template="overlay", flow=flow,
            part=cfg.platform.part, params={}, point=point,
            predicted={**whole, "lut": whole["lut"] / 3},  # an older model's figure
        )  # fmt: skip
        table.finished(bid, BuildResult("ok", flow, "overlay", cfg.platform.part), measured)
    store.close()

    lines: list[str] = []
    s = run_sweep(cfg, trials=24, resume=True, log=lines.append, **opts)
    assert s.builds is not None and s.builds.requested == 2  # nothing new was built
    corr = s.builds.corrections
    assert set(corr) == {
        ("lut", "yosys-ecp5"),
        ("dsp", "yosys-ecp5"),
        ("decode_cycles_per_token", "sim-verilator"),
    }  # FF x9 refused by name, not applied
    assert corr[("lut", "yosys-ecp5")].scale_at_one == pytest.approx(1.2)
    assert [r.predicted["lut"] for r in s.builds.rows] == pytest.approx([whole["lut"]] * 2)
    assert any("ff (yosys-ecp5) measured" in line and "outside x0.5-x2" in line for line in lines)
    assert s.builds.refused and "ff (yosys-ecp5)" in s.builds.refused[0]

    frame = load_study_data(cfg.name, url).frame
    for number in (0, 23):  # the history re-scored, the new trials scored calibrated
        r = frame[frame["number"] == number].iloc[0]
        p = {k[len("point_") :]: v for k, v in r.items() if k.startswith("point_")}
        p.update({k[len("param_") :]: v for k, v in r.items() if k.startswith("param_")})
        p = {k: v for k, v in p.items() if not (isinstance(v, float) and np.isnan(v))}
        raw = cm.evaluate(cfg.workload, cfg.platform, p, arch=cfg.arch, detail=True).iloc[0]
        tps = float(raw["decode_tokens_per_s"])
        assert r["decode_tokens_per_s"] == pytest.approx(tps / 1.25, rel=1e-6)
        lat = float(raw["decode_latency_s_per_token"])
        assert r["metric_decode_latency_s_per_token"] == pytest.approx(1.25 * lat, rel=1e-6)
        fixed = float(raw["lut_fixed"])
        want = (fixed + 1.2 * (float(raw["lut"]) - fixed)) / float(raw["lut"]) * raw["lut_util"]
        assert r["metric_lut_util"] == pytest.approx(want, rel=1e-6)


def test_a_synthesis_lut_count_is_what_the_device_counts() -> None:
    """Yosys lists LUT RAM and carry cells apart from logic LUTs; the model's LUTs (and the
    resource benchmark it is fitted on) count the sites they take, place and route too."""
    from dse.sweep._farm import measured_values

    cells = {"lut": 1000, "lutram": 40, "carry": 100, "ff": 700, "dsp": 8, "bram36": 2.5}
    assert measured_values(cells, "yosys-ecp5")["lut"] == 1000 + 40 + 2 * 100
    assert measured_values(cells, "yosys-xilinx")["lut"] == 1000 + 40
    assert measured_values(cells, "ecp5")["lut"] == 1000  # nextpnr's TRELLIS_COMB already
    assert measured_values({**cells, "bit_exact": True}, "yosys-ecp5")["ff"] == 700
