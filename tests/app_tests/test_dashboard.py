"""The dashboard on a real study: a short sweep with real Yosys builds (``study_fixture``).

Every page is driven through Streamlit's ``AppTest`` and checked against the study read
back with ``dse.sweep``; one end-to-end test serves the app with ``dse dashboard`` and
loads the Pareto page in headless Chromium (screenshot under ``results/screenshots/``).
"""

from __future__ import annotations

import base64
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

from app import _data
from dse.sweep import load_builds, load_study_data, load_table, load_trial_attrs
from tests._postgres import PostgresServer
from tests.app_tests.browser import (
    CHROMEDRIVER,
    chrome_options,
    chromium_missing,
    free_port,
    wait_http,
)
from tests.app_tests.study_fixture import Study, base_config, make_release_study, make_study

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "app" / "main.py"
SCREENSHOT = REPO / "results" / "screenshots" / "pareto.png"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return make_study(tmp_path_factory.mktemp("dashboard"))


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


def array(values: Any) -> list[float]:
    """A trace coordinate from a figure's JSON (a list, or Plotly's base64 typed array)."""
    if isinstance(values, dict):
        raw = base64.b64decode(values["bdata"])
        return [float(v) for v in np.frombuffer(raw, dtype=np.dtype(values["dtype"]))]
    return [float(v) for v in values]


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
    doc["constraints"]["max_util"]["lut"] = 0.13  # the larger engines violate it
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
    got = _data.channel_map(point, channels=6)
    assert list(got.loc[got["group"] == "wqkv", "channel"]) == [0, 1, 2]
    assert list(got.loc[got["group"] == "wffn", "channel"]) == [4, 5]
    assert list(got.loc[got["group"] == "act", "channel"]) == [1]  # wrapped past 6
    assert sorted(set(got.loc[got["shared"], "channel"])) == [0, 1]


# -- every page through AppTest ---------------------------------------------------------------


def test_studies_page_shows_progress_rates_and_builds(app: AppTest, study: Study) -> None:
    data = load_study_data(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    row = frame_with(app, "Pareto").set_index("study").loc[study.name]
    assert row["trials"] == study.trials == len(data.frame)
    assert row["budget"] == study.trials and row["progress"] == pytest.approx(1.0)
    assert row["feasible"] == data.summary()["feasible"]
    assert row["Pareto"] == data.summary()["pareto_size"]
    assert row["trials/s"] > 0
    for state in ("done", "failed"):
        assert row[state] == int((builds["state"] == state).sum()) > 0
    assert row["status"] == "idle" or row["status"] == "running"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Trials"] == f"{study.trials:,}"


def test_pareto_page_draws_front_measured_points_and_opens_a_design(
    app: AppTest, study: Study
) -> None:
    data = load_study_data(study.name, study.url)
    builds, _ = load_builds(study.name, study.url)
    open_page(app, "pareto")
    (fig,) = figures(app)
    traces = {t.get("name"): t for t in fig["data"]}
    assert {"feasible", "infeasible", "predicted front", "measured (built)"} <= set(traces)
    front = data.pareto()
    assert sorted(traces["predicted front"]["customdata"][i][0] for i in range(len(front))) == (
        sorted(front["number"])
    )
    measured = traces["measured (built)"]
    done = builds[(builds["state"] == "done")]
    assert sorted(c[0] for c in measured["customdata"]) == sorted(done["trial_number"])
    # Hover carries the design parameters.
    assert all(f"{p}:" in traces["feasible"]["hovertemplate"] for p in data.params)
    table = frame_with(app, "number")
    assert sorted(table["number"]) == sorted(front["number"])
    # A metric on an axis: every trial's metric is read and plotted.
    app.selectbox(key="pareto_y").set_value("metric_lut_util").run()
    assert not app.exception
    (fig,) = figures(app)
    assert fig["layout"]["yaxis"]["title"]["text"] == "metric_lut_util"
    # Built trials sit at their measured LUT share of the device (ECP5-85: 77,640 LUTs
    # after the shell), not at the model's.
    built = {t.get("name"): t for t in fig["data"]}["measured (built)"]
    lut = done.set_index("trial_number")["measured"].map(lambda m: m["lut"])
    got = dict(zip((c[0] for c in built["customdata"]), array(built["y"]), strict=True))
    assert got == pytest.approx({n: v / 77640.0 for n, v in lut.items()})
    # A third axis makes a 3-D plot.
    app.selectbox(key="pareto_z").set_value("metric_power_w").run()
    (fig,) = figures(app)
    assert {t["type"] for t in fig["data"] if t.get("name")} == {"scatter3d"}
    assert fig["layout"]["scene"]["zaxis"]["title"]["text"] == "metric_power_w"
    # Opening a trial switches to the Design page.
    target = int(front["number"].iloc[-1])
    app.number_input(key="pareto_trial").set_value(target)
    app.form_submit_button[0].click().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Design"
    assert any(f"Trial {target}**" in m.value for m in app.markdown)


def test_design_page_breaks_down_a_built_trial(app: AppTest, study: Study) -> None:
    builds, _ = load_builds(study.name, study.url)
    done = builds[builds["state"] == "done"].iloc[0]
    trial = int(done["trial_number"])
    app.query_params["trial"] = str(trial)
    open_page(app, "design")
    assert any(f"Trial {trial}**" in m.value for m in app.markdown)
    params = frame_with(app, "parameter").set_index("parameter")
    assert float(str(params.at["mv_n", "value"])) == float(done["point"]["mv_n"])
    ops = frame_with(app, "operator")
    assert set(ops["phase"]) == {"prefill", "decode"} and (ops["seconds"] > 0).any()
    assert (ops["limits phase"] != "").sum() == 2  # one slowest operator per phase
    res = frame_with(app, "resource").set_index("resource")
    assert res.at["dsp", "available"] == 156.0  # the ECP5-85's DSP slices
    measured = frame_with(app, "measured / predicted").set_index("metric")
    assert measured.at["lut", "measured"] == done["measured"]["lut"]
    assert measured.at["lut", "predicted"] == done["predicted"]["lut"]
    titles = [f["layout"].get("title", {}).get("text", "") for f in figures(app)]
    assert any("channel map" in t for t in titles)


def test_builds_page_lists_builds_with_failure_class_and_log(app: AppTest, study: Study) -> None:
    builds, _ = load_builds(study.name, study.url)
    open_page(app, "builds")
    table = frame_with(app, "failure class")
    assert sorted(table["build"]) == sorted(builds["build_id"])
    failed = table[table["state"] == "failed"]
    assert list(failed["trial"]) == [study.failed_build_trial]
    assert list(failed["failure class"]) == ["host_error"]
    assert any("vivado" in e.value for e in app.error)  # the failed build is shown first
    assert "vivado" in app.code[0].value  # its log tail
    (timeline,) = figures(app)
    assert {t["name"] for t in timeline["data"]} == {"done", "failed"}
    ok = int(builds.loc[builds["state"] == "done", "build_id"].iloc[0])
    app.selectbox(key="builds_pick").set_value(ok).run()
    assert any("stat.json" in m.value for m in app.markdown)  # Yosys report path
    assert "Yosys" in app.code[0].value or app.code[0].value.strip()


def test_calibration_page_shows_y_equals_x_and_errors(app: AppTest, study: Study) -> None:
    _, cal = load_builds(study.name, study.url)
    open_page(app, "calibration")
    errors = frame_with(app, "error after")
    latest = cal[cal["fitted_at"] == cal["fitted_at"].max()]
    assert sorted(errors["metric"]) == sorted(latest["metric"])
    lut = errors.set_index("metric").loc["lut"]
    want = latest.set_index("metric").loc["lut"]
    assert lut["error before"] == pytest.approx(round(want["error_before"], 4))
    assert lut["error after"] == pytest.approx(round(want["error_after"], 4))
    names = {t["name"] for f in figures(app) for t in f["data"]}
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


# Viewport coordinates of the data point (x, y) on the page's Plotly chart.
CLICK_AT = """
const gd = document.querySelector('.js-plotly-plot'), fl = gd._fullLayout;
const r = gd.getBoundingClientRect();
return [r.left + fl.xaxis._offset + fl.xaxis.l2p(arguments[0]),
        r.top + fl.yaxis._offset + fl.yaxis.l2p(arguments[1])];
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


def test_server_binds_loopback_only_and_chromium_draws_the_pareto_page(
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

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options())
    try:
        driver.get(f"http://127.0.0.1:{server}/pareto?study={study.name}")
        WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .legendtext")
        )
        WebDriverWait(driver, 30).until(
            lambda d: (
                "predicted front"
                in " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".legendtext"))
            )
        )
        assert "Pareto explorer" in driver.find_element(By.TAG_NAME, "h1").text
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        # Clicking a point of the front opens that trial on the Design page.
        data = load_study_data(study.name, study.url)
        front = data.pareto().sort_values(data.objectives[0])
        row = front.iloc[len(front) // 2]
        x, y = driver.execute_script(CLICK_AT, *(float(row[m]) for m in data.objectives[:2]))
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            driver.execute_cdp_cmd(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )
        WebDriverWait(driver, 30).until(
            lambda d: "Design" in d.find_element(By.TAG_NAME, "h1").text
        )
        assert f"trial={int(row['number'])}" in driver.current_url
    finally:
        driver.quit()
    from PIL import Image

    with Image.open(SCREENSHOT) as img:
        assert img.size[0] >= 1000 and img.size[1] >= 700
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200  # a drawn page, not a blank one


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
