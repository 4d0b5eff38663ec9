"""The dashboard on a real study: a short sweep with real Yosys builds (``study_fixture``).

Every page is driven through Streamlit's ``AppTest`` and checked against the study read
back with ``dse.sweep``; one end-to-end test serves the app with ``dse dashboard`` and
loads every page in headless Chromium at 1600 x 1000 (screenshots of the whole pages under
``results/screenshots/``, which git ignores).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from app import _axes, _data, _design, _vega
from dse.sweep import load_builds, load_study_data, load_table, load_trial_attrs
from tests._postgres import PostgresServer
from tests.app_tests.browser import (
    CHROMEDRIVER,
    chrome_options,
    chromium_missing,
    free_port,
    wait_http,
)
from tests.app_tests.pnr_fixture import TARGET_MHZ, add_timing_failure
from tests.app_tests.study_fixture import Study, base_config, make_release_study, make_study

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "app" / "main.py"
SCREENSHOTS = REPO / "results" / "screenshots"  # results/ is not committed


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    made = make_study(tmp_path_factory.mktemp("dashboard"))
    add_timing_failure(made)  # a real nextpnr run that misses its clock (30-90 s)
    return made


@pytest.fixture
def app(study: Study, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    import streamlit as st

    monkeypatch.setenv("DSE_DASHBOARD_RESULTS", str(study.results))
    monkeypatch.delenv("DSE_DASHBOARD_STORAGE", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def pareto_chart(at: AppTest) -> dict[str, Any]:
    """The Pareto page's 2-D chart: its Vega-Lite spec, ``datasets`` as DataFrames by name."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    (el,) = [el for el in at.get("vega_lite_chart") if el.proto.datasets]
    spec = json.loads(el.proto.spec)
    spec["datasets"] = {
        d.name: convert_arrow_bytes_to_pandas_df(d.data.data) for d in el.proto.datasets
    }
    return spec


def marker_layers(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A Pareto chart's marker layers (those with a point selection) by dataset name."""
    return {layer["data"]["name"]: layer for layer in spec["layer"] if "params" in layer}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    for el in at.dataframe:
        if column in el.value.columns:
            return el.value
    raise AssertionError(f"no table with a {column!r} column")


# -- the data layer on the real study ---------------------------------------------------------


def test_column_reader_matches_the_trial_reader(study: Study) -> None:
    slow = load_study_data(study.name, study.url)
    fast = load_table(study.name, study.url)
    assert list(fast.frame["number"]) == list(slow.frame["number"])
    for col in ("feasible", "state"):
        assert list(fast.frame[col].astype(str)) == list(slow.frame[col].astype(str)), col
    assert fast.frame["duplicate_of"].equals(slow.frame["duplicate_of"])
    for m in slow.objectives:
        np.testing.assert_allclose(fast.frame[m], slow.frame[m])
    front = _data.front_mask(fast)
    assert sorted(fast.frame.loc[front, "number"]) == sorted(slow.pareto()["number"])
    some = [int(n) for n in slow.frame["number"].iloc[::9]]
    attrs = load_trial_attrs(fast, some)
    for n in some:
        row = slow.frame.set_index("number").loc[n]
        for col in attrs.columns:
            want, got = row.get(col), attrs.at[n, col]  # type: Any, Any
            if isinstance(want, float) and np.isnan(want):
                assert got is None or pd.isna(got), (n, col)
            else:
                assert got == want, (n, col, got, want)


def test_column_reader_on_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    """The same reads on PostgreSQL (its own JSON functions find the violators)."""
    from dse.config import load_config
    from dse.sweep import run_sweep

    url = postgres.create_database("dashboard")
    doc = base_config("dash-pg")
    doc["design"].update({"mm_k": 1, "mm_n": 2, "freq_mhz": 20.0})
    doc["space"] = {"mv_n": {"type": "categorical", "choices": [2, 4, 8, 16]}}
    doc["constraints"]["max_util"]["lut"] = 0.21  # mv_n 8 and 16 violate it (0.22, 0.24)
    doc.update(budget={"trials": 4}, sampler="grid")
    config = tmp_path / "pg.yaml"
    config.write_text(yaml.safe_dump(doc))
    cfg = load_config(config)
    run_sweep(cfg, storage=url, progress=False)
    slow = load_study_data(cfg.name, url)
    fast = load_table(cfg.name, url)
    assert len(fast.frame) == 4 and 0 < int(fast.frame["feasible"].sum()) < 4
    assert list(fast.frame["feasible"]) == list(slow.frame["feasible"])
    assert list(fast.frame["state"].astype(str)) == list(slow.frame["state"])
    for m in slow.objectives:
        np.testing.assert_allclose(fast.frame[m], slow.frame[m])
    attrs = load_trial_attrs(fast, None, ("point",))
    assert sorted(attrs["param_mv_n"]) == [2, 4, 8, 16]


def test_thinning_keeps_the_front_and_bounds_the_cloud() -> None:
    rng = np.random.default_rng(0)
    values = rng.random((50_000, 2))
    keep = np.zeros(len(values), dtype=bool)
    keep[rng.choice(len(values), 300, replace=False)] = True
    mask = _data.thin(values, keep, cells=100)
    assert mask[keep].all()
    assert 300 < mask.sum() <= 300 + 100 * 100
    small = rng.random((100, 2))
    small[3, 0] = np.nan
    got = _data.thin(small, np.zeros(100, dtype=bool))
    assert got.sum() == 99 and not got[3]


def test_channel_map_wraps_around_and_marks_shared_channels() -> None:
    point = {"hbm_ch_wqkv": 3, "hbm_ch_wo": 1, "hbm_ch_wffn": 2, "hbm_ch_kv": 1, "hbm_ch_act": 1}
    got = _design.channel_map(point, channels=6)
    assert list(got.loc[got["group"] == "wqkv", "channel"]) == [0, 1, 2]
    assert list(got.loc[got["group"] == "wffn", "channel"]) == [4, 5]
    assert list(got.loc[got["group"] == "act", "channel"]) == [1]  # wrapped past 6
    assert sorted(set(got.loc[got["shared"], "channel"])) == [0, 1]


def test_equal_designs_are_grouped_and_axes_are_labelled() -> None:
    front = pd.DataFrame({"number": [3, 5, 9, 12], "a": [1.0, 1.0, 2.0, 1.0], "b": [4, 4, 3, 4]})
    got = _axes.group_ties(front, ["a", "b"]).set_index("number")
    assert list(got.index) == [3, 9]
    assert got.at[3, "ties"] == 3 and got.at[3, "tied"] == "3, 5, 12"
    assert _axes.axis_label("metric_power_w", {}) == "power_w (W) · ↓ lower is better"
    assert _axes.axis_label("x", {"x": "maximize"}) == "x · ↑ higher is better"
    assert _axes.axis_rule("metric_lut_util") == "resource"
    assert _axes.axis_rule("metric_bound_decode") is None


# -- every page through AppTest ---------------------------------------------------------------


def test_studies_page_shows_progress_rates_and_builds(app: AppTest, study: Study) -> None:
    data = load_study_data(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    row = frame_with(app, "Pareto").set_index("study").loc[study.name]
    assert row["trials"] == study.trials == len(data.frame)
    assert row["budget"] == study.trials and row["progress"] == pytest.approx(1.0)
    assert row["feasible %"] == pytest.approx(
        round(100 * data.summary()["feasible"] / study.trials, 1)
    )
    assert row["Pareto"] == data.summary()["pareto_size"]
    assert row["trials/s"] > 0
    counts = [int(x) for x in row["builds queued / running / done / failed"].split(" / ")]
    assert counts == [int((builds["state"] == s).sum()) for s in _data.BUILD_STATES]
    assert counts[2] > 0 and counts[3] > 0
    assert row["status"] == "idle" or row["status"] == "running"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Trials"] == f"{study.trials:,}"
    # Convergence (best so far never gets worse) and parameter importance for the study.
    conv = _data.convergence(load_table(study.name, study.url))
    for m, d in zip(data.objectives, data.directions, strict=True):
        best = conv.loc[conv["objective"] == m, "best so far"].dropna().to_numpy()
        steps = np.diff(best)
        assert (steps >= 0).all() if d == "maximize" else (steps <= 0).all()
    best = frame_with(app, "first reached at trial").set_index("objective")
    for m, d in zip(data.objectives, data.directions, strict=True):
        ok = data.frame[(data.frame["state"] == "COMPLETE") & data.frame["feasible"]]
        want = ok[m].max() if d == "maximize" else ok[m].min()
        row = best.loc[f"{m} ({'max' if d == 'maximize' else 'min'})"]
        assert row["best feasible"] == pytest.approx(want)
        assert ok.set_index("number").loc[int(row["first reached at trial"]), m] == want
    importance = frame_with(app, "parameter")
    assert set(importance["parameter"]) == set(data.params)
    assert all(0.0 <= v <= 1.0 for m in data.objectives for v in importance[m].dropna())
    # The first paint has no chart (no chart library to load); the convergence chart opens
    # on demand.
    assert not app.get("plotly_chart")
    app.session_state["studies_convergence_open"] = True
    app.run()
    charts = [json.loads(el.proto.spec) for el in app.get("plotly_chart")]
    names = {t.get("name", "") for f in charts for t in f["data"]}
    assert any(n.startswith("decode_tokens_per_s") for n in names)


def test_parameter_importance_finds_the_parameter_that_decides() -> None:
    rng = np.random.default_rng(1)
    a = rng.choice([1, 2, 4, 8], 400)
    b = rng.random(400)
    values = pd.DataFrame({"y": a * 10.0 + rng.random(400) * 0.1, "a": a, "b": b})
    imp = _data.param_importance(values, ["a", "b"], ["y"]).set_index("parameter")
    assert imp.at["a", "importance"] > 0.9 > 0.1 > imp.at["b", "importance"]


def test_pareto_page_draws_only_measured_axes_and_marks_failed_builds(
    app: AppTest, study: Study
) -> None:
    data = load_study_data(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    open_page(app, "pareto")
    spec = pareto_chart(app)
    tables, layers = spec["datasets"], marker_layers(spec)
    assert {"feasible", "infeasible", "front"} <= set(tables) and set(tables) <= set(layers) | {
        "segments"
    }
    # Axis titles carry units and the better direction.
    assert layers["front"]["encoding"]["x"]["title"] == (
        "decode_tokens_per_s (tok/s) · ↑ higher is better"
    )
    assert "J/token" in layers["front"]["encoding"]["y"]["title"]
    # The front, grouped: one marker per distinct objective vector, with its tie count.
    front = data.pareto(collapse=True)
    got = tables["front"]
    assert sorted(got["number"]) == sorted(front["number"])
    assert int(got["ties"].sum()) == len(data.pareto())
    hover = {t["title"] for t in layers["front"]["encoding"]["tooltip"]}
    assert "designs with equal objectives" in hover
    # Infeasible trials say which constraint they violate.
    why = tables["infeasible"]["why"].tolist()
    assert why and all(why)
    # Synthesis-only builds measured no clock: no measured star on tok/s vs energy.
    assert "measured" not in tables
    # The place-and-route build that missed timing built units (llm_top), not this design:
    # its Fmax is no measurement of the design, so it is marked by failure class at its
    # trial's model position, saying why (the whole-design rule: test_axes_* below).
    pnr = builds[builds["failure_class"] == "timing_not_met"].iloc[0]
    assert pnr["measured"]["fmax_mhz"] < TARGET_MHZ and pnr["template"] == "llm_top"
    failed = tables["failed"]
    timing = failed[failed["series"] == "build failed: timing_not_met"]
    shape = layers["failed"]["encoding"]["shape"]["scale"]
    assert shape["range"][shape["domain"].index("build failed: timing_not_met")] != _vega.STAR
    at = data.frame.set_index("number").loc[int(pnr["trial_number"])]
    assert timing["x"].tolist() == pytest.approx([at["decode_tokens_per_s"]])
    assert "llm_top builds units" in timing["drawn_at"].iloc[0]
    # The build that never ran (no Vivado): at its trial's model position, its own marker.
    host = failed[failed["series"] == "build failed: host_error"]
    assert host["number"].tolist() == [study.failed_build_trial]
    row = data.frame.set_index("number").loc[study.failed_build_trial]
    assert host["x"].tolist() == pytest.approx([row["decode_tokens_per_s"]])
    assert "nothing measured" in host["drawn_at"].iloc[0]
    assert any("not drawn: they measured none of" in c.value for c in app.caption)
    # Hover carries the design parameters.
    hover = {t["title"] for t in layers["feasible"]["encoding"]["tooltip"]}
    assert set(data.params) <= hover
    # The front table opens on demand (the chart draws the front already).
    assert not [el for el in app.dataframe if "number" in el.value.columns]
    app.session_state["pareto_front_open"] = True
    app.run()
    table = frame_with(app, "number")
    assert sorted(table["number"]) == sorted(front["number"])
    # LUT share on an axis: synthesis builds are drawn at their measured datapath plus the
    # model's shell-side fixed logic (like for like with the predictions), over the device.
    app.selectbox(key="pareto_y").set_value("metric_lut_util").run()
    assert not app.exception  # tok/s vs LUT share: the synthesis builds measured no clock
    assert "measured" not in pareto_chart(app)["datasets"]
    app.selectbox(key="pareto_x").set_value("metric_dsp_util").run()
    spec = pareto_chart(app)
    assert marker_layers(spec)["front"]["encoding"]["y"]["title"].startswith(
        "lut_util (share of device"
    )
    # The llm_top synthesis builds measured units' LUTs and the sim runs cycles: neither is
    # a measured LUT of the design, so no measured star (the rule: test_axes_* below).
    assert "measured" not in spec["datasets"]
    assert any("unit templates measure units" in c.value for c in app.caption)
    # A third axis makes a 3-D plot.
    app.selectbox(key="pareto_z").set_value("metric_power_w").run()
    (fig,) = figures(app)
    assert {t["type"] for t in fig["data"] if t.get("name")} == {"scatter3d"}
    assert fig["layout"]["scene"]["zaxis"]["title"]["text"].startswith("power_w (W)")
    # Opening a trial (and comparing it with another) switches to the Design page.
    target, other = int(front["number"].iloc[-1]), int(front["number"].iloc[0])
    if other == target:  # a front of one design: any other complete trial
        done = data.frame[data.frame["state"] == "COMPLETE"]["number"]
        other = next(int(n) for n in done if int(n) != target)
    app.number_input(key="pareto_trial").set_value(target)
    app.number_input(key="pareto_compare").set_value(other)
    app.form_submit_button[0].click().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Design"
    assert any(f"Trial {target}**" in m.value for m in app.markdown)
    compare = frame_with(app, "quantity").set_index("quantity")
    assert list(compare.columns[:2]) == [f"trial {target}", f"trial {other}"]


def test_pareto_page_draws_a_density_image_above_the_marker_limit(
    app: AppTest, study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule of a 100k-trial study on the test study (limit lowered to 5 markers): the
    front and the built trials are markers, every other trial is in the density image."""
    import streamlit as st

    from app import _density

    monkeypatch.setattr(_density, "POINTS_LIMIT", 5)
    st.cache_resource.clear()  # the page keeps its figure as a resource
    data = load_study_data(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    open_page(app, "pareto")
    tables = pareto_chart(app)["datasets"]
    heat = {k: v for k, v in tables.items() if k.startswith("density_")}
    assert set(heat) <= {"density_feasible", "density_infeasible"} and heat
    done = data.frame[data.frame["state"] == "COMPLETE"]
    front = set(data.pareto()["number"])
    built = set(builds["trial_number"].dropna().astype(int))
    drawn = {int(n) for k in ("feasible", "infeasible") if k in tables for n in tables[k]["number"]}
    assert drawn == (built - front) & set(done["number"])  # the front has its own markers
    grouped = tables["front"]
    assert set(grouped["number"]) <= front
    assert int(grouped["ties"].sum()) == len(front)
    counted = sum(int(t["count"].sum()) for t in heat.values())
    assert counted == len(done) - len((front | built) & set(done["number"]))
    assert any(f"the other {int(counted):,} as a density image" in c.value for c in app.caption)


def test_design_page_shows_the_calibrated_model_and_the_builds(app: AppTest, study: Study) -> None:
    builds, cal = load_builds(study.name, study.url)
    done = builds[(builds["state"] == "done") & (builds["template"] == "llm_top")].iloc[0]
    trial = int(done["trial_number"])
    sim = builds[(builds["flow"] == "sim-verilator") & (builds["trial_number"] == trial)].iloc[0]
    (cycles,) = [c for c in _design.latest_corrections(cal).values()]  # units fit nothing
    assert (cycles.metric, cycles.flow, cycles.slope) == (
        "decode_cycles_per_token",
        "sim-verilator",
        1.0,
    )
    table = load_table(study.name, study.url)
    stored = load_trial_attrs(table, [trial], ("metrics",)).loc[trial]
    app.query_params["trial"] = str(trial)
    open_page(app, "design")
    assert any(f"Trial {trial}**" in m.value for m in app.markdown)
    # The page says which corrections are in force: the sim rung's cycles, nothing else.
    force = [c.value for c in app.caption if "Corrections in force:" in c.value]
    assert len(force) == 1 and f"decode_cycles_per_token ×{cycles.scale_at_one:.4g}" in force[0]
    assert f"({cycles.n} sim-verilator builds, scale)" in force[0] and "lut" not in force[0]
    params = frame_with(app, "parameter").set_index("parameter")
    assert float(str(params.at["mv_n", "value"])) == float(done["point"]["mv_n"])
    # Every figure is the calibrated model's, the one the sweep stored; unit builds changed
    # no resource, so LUTs are the raw model's.
    res = frame_with(app, "used (calibrated)").set_index("resource")
    assert res.at["dsp", "available"] == 156.0  # the ECP5-85's DSP slices
    assert res.at["lut", "util"] == pytest.approx(stored["metric_lut_util"])
    assert res.at["lut", "used (raw model)"] == res.at["lut", "used (calibrated)"]
    heads = {m.label: m.value for m in app.metric}
    tps = float(table.frame.set_index("number").at[trial, "decode_tokens_per_s"])
    assert heads["decode"] == f"{tps:,.4g} tok/s"
    # ... and the latency correction moved it: the raw model's decode rate is k times more.
    raw_tps = _design.score_point(table.attrs["dse:config"], done["point"], {}).raw
    assert float(raw_tps["decode_tokens_per_s"]) == pytest.approx(tps * cycles.scale_at_one)
    assert cycles.scale_at_one != pytest.approx(1.0, abs=1e-6)
    assert {"time to first token", "clock target / achievable", "decode vs GPU baseline"} <= set(
        heads
    )
    slr = frame_with(app, "SLR")
    assert list(slr["SLR"]) == [0] and slr.at[0, "lut"] == pytest.approx(
        res.at["lut", "used (calibrated)"], rel=1e-3
    )
    bw = frame_with(app, "needed GB/s")
    assert len(bw) == 1 and bw.at[0, "load %"] > 0
    ops = frame_with(app, "operator")
    assert set(ops["phase"]) == {"prefill", "decode"} and (ops["seconds"] > 0).any()
    assert (ops["critical"] != "").sum() == 2  # one slowest operator per phase
    # Temporal operators run one after another: shares of the phase latency sum to ~100 %.
    for _, part in ops.groupby("phase"):
        assert part["share"].sum() == pytest.approx(1.0, abs=0.02)
    # The first screen draws no chart: the channel map is HTML, resources are table bars.
    assert not app.get("plotly_chart")
    assert any("channel map" in el.proto.body for el in app.get("html"))
    pairs = frame_with(app, "measured / predicted")
    # The unit build against its units' model (stored when queued), not the design's.
    measured = pairs[pairs["build"] == int(done["build_id"])].set_index("metric")
    assert measured.at["lut", "model of"] == "units (llm_top)"
    assert measured.at["lut", "measured"] == done["measured"]["lut"]
    assert measured.at["lut", "predicted at build time"] == done["predicted"]["lut"]
    assert pd.isna(measured.at["lut", "calibrated model now"])
    # The sim run: its cycles against the cycle model's figure for the same run, calibrated.
    run = pairs[pairs["build"] == int(sim["build_id"])].set_index("metric")
    assert list(run.index) == ["decode_cycles_per_token"]
    got = run.loc["decode_cycles_per_token"]
    assert got["model of"] == "whole design (the same sim run)"
    assert got["measured"] == sim["measured"]["decode_cycles_per_token"]
    model_cycles = sim["measured"]["model_decode_cycles_per_token"]
    assert got["predicted at build time"] == model_cycles
    assert got["calibrated model now"] == pytest.approx(model_cycles * cycles.scale_at_one)
    app.toggle(key="design_raw_toggle").set_value(True).run()
    raw = frame_with(app, "changed by calibration").set_index("quantity")
    assert bool(raw.at["decode_tokens_per_s", "changed by calibration"])
    assert not bool(raw.at["lut", "changed by calibration"])
    # The latency scale k: cycles k times the model's, tokens/s 1/k times; LUTs as they were.
    ratio = raw["calibrated / raw"]
    assert ratio["decode_latency_s_per_token"] == pytest.approx(cycles.scale_at_one, rel=1e-9)
    assert ratio["decode_tokens_per_s"] == pytest.approx(1 / cycles.scale_at_one, rel=1e-9)
    assert ratio["lut"] == 1.0
    app.session_state["design_ops_open"] = True
    app.run()
    (ops_chart,) = figures(app)
    bars = [t for t in ops_chart["data"] if t.get("type") == "bar"]
    assert {y.split(" · ")[1] for t in bars for y in t["y"]} == set(ops["operator"])


def test_design_numbers_are_the_ones_the_sweep_stored(study: Study) -> None:
    """The dashboard's scorer reproduces every stored metric of the study's trials."""
    table = load_table(study.name, study.url)
    _, cal = load_builds(study.name, study.url)
    corrections = _design.latest_corrections(cal)
    complete = table.frame[table.frame["state"] == "COMPLETE"]["number"].iloc[::7].tolist()
    attrs = load_trial_attrs(table, complete, ("point", "metrics"))
    for n in complete:
        row = attrs.loc[n]
        point = {
            str(k).split("_", 1)[1]: v
            for k, v in row.items()
            if str(k).startswith(("param_", "point_")) and not pd.isna(v)
        }
        got = _design.score_point(table.attrs["dse:config"], point, corrections).calibrated
        for col in row.index:
            if col.startswith("metric_") and isinstance(row[col], float):
                assert got[col.removeprefix("metric_")] == pytest.approx(row[col]), (n, col)
        for m in table.objectives:
            assert got[m] == pytest.approx(table.frame.set_index("number").at[n, m])


def test_builds_page_lists_builds_with_failure_class_and_log(app: AppTest, study: Study) -> None:
    builds, _ = load_builds(study.name, study.url)
    open_page(app, "builds")
    table = frame_with(app, "failure class")
    assert sorted(table["build"]) == sorted(builds["build_id"])
    failed = table[table["state"] == "failed"].set_index("failure class")
    assert failed.at["host_error", "trial"] == study.failed_build_trial
    assert "timing_not_met" in failed.index
    assert all(not str(f).startswith("/") for f in table["folder (under --results)"])
    assert not app.error  # a failed build is data, not a page error
    assert any("First error" in m.value and "vivado" in m.value for m in app.markdown)
    assert "vivado" in app.code[-1].value  # its log tail
    (timeline,) = figures(app)
    names = {t["name"] for t in timeline["data"]}
    assert {"build done", "build failed", "step: synth", "step: place_route"} <= names
    # The timing failure: nextpnr's critical path of the routed design and its verdict.
    pnr = int(builds.loc[builds["failure_class"] == "timing_not_met", "build_id"].iloc[0])
    app.selectbox(key="builds_pick").set_value(pnr).run()
    path = app.code[0].value
    assert "Critical path report for clock" in path and "ns routing" in path
    assert f"(FAIL at {TARGET_MHZ:.2f} MHz)" in path.splitlines()[-1]
    steps = frame_with(app, "step")
    assert list(steps["step"]) == ["synth", "place_route", "bitstream"][: len(steps)]
    assert (steps["seconds"] > 0).all()
    labels = [b.label for b in app.get("download_button")]
    assert any(lbl.startswith("nextpnr_log") for lbl in labels), labels
    ok = int(builds.loc[builds["state"] == "done", "build_id"].iloc[0])
    app.selectbox(key="builds_pick").set_value(ok).run()
    assert any(b.label.startswith("stat") for b in app.get("download_button"))
    assert app.code[-1].value.strip()


def test_builds_are_found_in_a_moved_results_folder(
    study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import streamlit as st

    moved = tmp_path / "elsewhere"
    shutil.copytree(study.results, moved)
    monkeypatch.setenv("DSE_DASHBOARD_RESULTS", str(moved))
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    open_page(at, "builds")
    table = frame_with(at, "failure class")
    assert "(missing)" not in set(table["folder (under --results)"])
    pnr = int(table.loc[table["failure class"] == "timing_not_met", "build"].iloc[0])
    at.selectbox(key="builds_pick").set_value(pnr).run()
    assert "Critical path report" in at.code[0].value
    assert any(f"under `{moved}`" in m.value for m in at.markdown)


def test_critical_path_is_the_routed_designs(study: Study) -> None:
    builds, _ = load_builds(study.name, study.url)
    pnr = builds[builds["failure_class"] == "timing_not_met"].iloc[0]
    folder = _data.build_folder(pnr["result_dir"], pnr["bundle_hash"], study.results)
    assert folder is not None
    log = (folder / "nextpnr.log").read_text()
    got = _data.critical_path(log)
    assert got[0].startswith("Info: Critical path report for clock")
    assert got[-2].endswith("ns routing") and "Max frequency for clock" in got[-1]
    # The last report of the log (after routing), not the one printed after placement.
    assert log.rfind(got[0]) == log.rfind("Info: Critical path report for clock")


def test_promote_offers_the_platforms_flows_and_the_built_trials(study: Study) -> None:
    from dse.release import RELEASE_FLOWS

    ecp5 = _data.promote_flows({"platform": "ecp5-85"}, list(RELEASE_FLOWS))
    assert ecp5[0] == "ecp5" and ecp5[1] == ["ecp5"] and ecp5[2].startswith("LFE5")
    u280 = _data.promote_flows({"platform": "u280"}, list(RELEASE_FLOWS))
    # An Alveo card loads only an .xclbin: the default is vitis-link (vivado is refused).
    assert u280[0] == "vitis-link" and "vivado" in u280[1] and "ecp5" not in u280[1]
    vcu128 = _data.promote_flows({"platform": "vcu128"}, list(RELEASE_FLOWS))
    assert vcu128[0] == "vivado"  # an evaluation board: no Vitis platform, a plain bitstream
    data = load_table(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    got = _data.promote_candidates(data, builds).set_index("number")
    built = set(builds["trial_number"].dropna().astype(int))
    assert built <= set(got.index)
    assert set(data.frame.loc[_data.front_mask(data), "number"]) <= set(got.index)
    pnr = builds[builds["failure_class"] == "timing_not_met"].iloc[0]
    row = got.loc[int(pnr["trial_number"])]
    fmax = pnr["measured"]["fmax_mhz"]
    assert row["slack ns"] == pytest.approx(1e3 / TARGET_MHZ - 1e3 / fmax) and row["slack ns"] < 0


def test_calibration_page_shows_y_equals_x_and_errors(app: AppTest, study: Study) -> None:
    builds, cal = load_builds(study.name, study.url)
    open_page(app, "calibration")
    errors = frame_with(app, "error after")
    latest = cal[cal["fitted_at"] == cal["fitted_at"].max()]
    # Only the whole overlay's sim runs calibrate: the unit builds' LUTs are not fitted.
    assert list(errors["metric"]) == list(latest["metric"]) == ["decode_cycles_per_token"]
    row = errors.set_index("metric").loc["decode_cycles_per_token"]
    want = latest.set_index("metric").loc["decode_cycles_per_token"]
    assert row["flow"] == "sim-verilator" and row["builds"] == 2
    assert row["error before"] == pytest.approx(round(want["error_before"], 4))
    assert row["error after"] == pytest.approx(round(want["error_after"], 4))
    assert row["error after"] <= row["error before"]
    # Held out: each sim run predicted by the scale of the other (measured / model cycles).
    sims = builds[builds["flow"] == "sim-verilator"]
    ratio = [
        m["decode_cycles_per_token"] / m["model_decode_cycles_per_token"] for m in sims["measured"]
    ]
    loo = [100 * abs(ratio[1 - i] / ratio[i] - 1) for i in range(2)]
    assert row["held-out builds"] == 2
    assert row["held-out error %"] == pytest.approx(round(float(np.median(loo)), 2), abs=0.006)
    figs = figures(app)
    names = {t["name"] for f in figs for t in f["data"]}
    assert "y = x" in names and any(n.startswith("calibrated") for n in names)


def test_releases_page_lists_nothing_and_is_read_only(app: AppTest, study: Study) -> None:
    open_page(app, "releases")
    assert any("No releases" in i.value for i in app.info)
    # Promote is an action: off unless `dse dashboard --allow-actions` (test_dashboard_security).
    assert any("Read-only dashboard" in i.value for i in app.info)
    assert not [b for b in app.form_submit_button if "Promote" in b.label]
    assert not (study.results / "releases").exists()


def test_studies_page_follows_a_sweep_that_is_still_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    from dse.config import load_config
    from dse.sweep import default_storage, run_sweep

    tiny = make_release_study(tmp_path)  # 2 trials
    monkeypatch.setenv("DSE_DASHBOARD_RESULTS", str(tiny.results))
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    assert frame_with(at, "Pareto").set_index("study").at[tiny.name, "trials"] == 2
    # A worker continues the study: the rest of its grid.
    cfg = load_config(tiny.config)
    run_sweep(cfg, storage=default_storage(tiny.name, tiny.results), resume=True, progress=False)
    time.sleep(2.5)  # the page re-reads a study's fingerprint at most every 2 s
    at.run()
    assert frame_with(at, "Pareto").set_index("study").at[tiny.name, "trials"] == 4


# -- the real server in headless Chromium -----------------------------------------------------


@pytest.fixture
def server(study: Study) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dse.cli",
            "dashboard",
            "--results",
            str(study.results),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


# Viewport centre of the Pareto chart's marker whose hover text has every one of the given
# "title: value" entries (Vega draws a small chart as SVG, each mark labelled with its hover
# fields for screen readers); null when there is none.
CLICK_AT = """
const want = arguments[0];
for (const el of document.querySelectorAll('.st-key-pareto_chart svg.marks [aria-label]')) {
  const got = el.getAttribute('aria-label').split('; ');
  if (want.every((w) => got.includes(w))) {
    const r = el.getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2];
  }
}
return null;
"""


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp{,6})."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(name).exists():
            continue
        for line in Path(name).read_text().splitlines()[1:]:
            fields = line.split()
            addr, state = fields[1], fields[3]
            host, hexport = addr.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                out.add(
                    socket.inet_ntop(
                        socket.AF_INET if len(host) == 8 else socket.AF_INET6,
                        bytes.fromhex(host)[::-1] if len(host) == 8 else _v6(host),
                    )
                )
    return out


def _v6(host: str) -> bytes:
    raw = bytes.fromhex(host)
    return b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))


PAGES = {  # URL path -> (title, what marks the page as drawn)
    "": ("Studies", "[data-testid='stDataFrame'] canvas"),
    "pareto": ("Pareto explorer", ".st-key-pareto_chart .marks"),
    "design": ("Design", "[data-testid='stDataFrame'] canvas"),
    "builds": ("Builds", ".js-plotly-plot"),
    "calibration": ("Calibration", ".js-plotly-plot"),
    "releases": ("Releases", "h3"),
}


def wait_drawn(driver: Any, css: str, timeout_s: float = 90) -> None:
    """Until the page's script has finished and ``css`` matches (bounded waits)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d: Any) -> bool:
        app = d.find_elements(By.CSS_SELECTOR, "[data-testid='stApp']")
        state = app[0].get_attribute("data-test-script-state") if app else None
        return state == "notRunning" and bool(d.find_elements(By.CSS_SELECTOR, css))

    WebDriverWait(driver, timeout_s).until(done)
    time.sleep(1.0)  # the chart libraries draw after the script finished


def test_server_binds_loopback_only_and_chromium_draws_every_page(
    server: int, study: Study
) -> None:
    assert listening_addresses(server) == {"127.0.0.1"}
    with pytest.raises(ConnectionRefusedError):  # another local address of this machine
        socket.create_connection(("127.0.0.2", server), timeout=2).close()
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    builds, _ = load_builds(study.name, study.url)
    pnr = builds[builds["failure_class"] == "timing_not_met"].iloc[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options(1600, 1000))
    try:
        for path, (title, css) in PAGES.items():
            query = f"?study={study.name}"
            if path == "design":
                query += f"&trial={int(pnr['trial_number'])}"
            driver.get(f"http://127.0.0.1:{server}/{path}{query}")
            wait_drawn(driver, css)
            assert title in driver.find_element(By.TAG_NAME, "h1").text
            text = driver.find_element(By.TAG_NAME, "body").text
            errors = driver.find_elements(
                By.CSS_SELECTOR, "[data-testid='stAlertContentError'], [data-testid='stException']"
            )
            assert not errors, [e.text for e in errors]
            assert "Traceback" not in text and 'File "' not in text, text[:2000]
            # The whole page, not just the first screen.
            height = driver.execute_script(
                "const m = document.querySelector('[data-testid=\"stMain\"]');"
                "return m ? m.scrollHeight : document.body.scrollHeight;"
            )
            driver.set_window_size(1600, max(1000, min(int(height) + 200, 6000)))
            time.sleep(0.5)
            shot = SCREENSHOTS / f"{path or 'studies'}.png"
            assert driver.save_screenshot(str(shot))
            driver.set_window_size(1600, 1000)
            if path == "":  # the Studies table fits a 1600 px window
                table = driver.find_element(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
                width = driver.execute_script(
                    "const c = arguments[0].querySelector('.dvn-scroller');"
                    "return c ? [c.scrollWidth, c.clientWidth] : [0, 0];",
                    table,
                )
                assert width[0] <= width[1] + 2, width
        # Clicking the timing failure's marker opens that build's trial, not a neighbour. It
        # built units (llm_top), so it is drawn at its trial's model position.
        driver.get(f"http://127.0.0.1:{server}/pareto?study={study.name}")
        wait_drawn(driver, ".st-key-pareto_chart .marks")
        trial = int(pnr["trial_number"])
        x, y = driver.execute_script(CLICK_AT, [f"trial: {trial}", "failure: timing_not_met"])
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            driver.execute_cdp_cmd(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )
        WebDriverWait(driver, 30).until(
            lambda d: "Design" in d.find_element(By.TAG_NAME, "h1").text
        )
        assert f"trial={int(pnr['trial_number'])}" in driver.current_url
    finally:
        driver.quit()
    from PIL import Image

    for shot in SCREENSHOTS.glob("*.png"):
        with Image.open(shot) as img:
            assert img.size[0] >= 1000 and img.size[1] >= 700
            colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 200, shot  # a drawn page, not a blank one


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--results", "/nonexistent/results"], r"--results: /nonexistent/results: an existing"),
        (["--port", "70000"], r"--port: 70000: a TCP port between 1 and 65535"),
        (["--host", "every-interface"], r"--host: every-interface: an IP address"),
        (
            ["--storage", "sqlite:////nonexistent/x.db"],
            r"--storage: .*/nonexistent/x.db is missing",
        ),
        (["--storage", "nosuchdb://x"], r"storage nosuchdb://x: cannot open it"),
    ],
)
def test_bad_dashboard_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dse.cli", "dashboard", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    import re

    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
