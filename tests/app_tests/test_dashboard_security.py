"""The dashboard's guard rails (issue 12 item 4, issue 17): read-only unless started with
``--allow-actions`` and a token; the server dies with ``dse dashboard``; visitors see one
line, never a traceback; a corrupt study is one error row.

On a real two-trial study (``make_release_study``); the browser test serves the app with
``dse dashboard`` and opens the Releases page in headless Chromium as an anonymous visitor.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_tests.browser import (
    CHROMEDRIVER,
    chrome_options,
    chromium_missing,
    free_port,
    wait_http,
)
from tests.app_tests.study_fixture import Study, make_release_study

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "app" / "main.py"
TOKEN = "correct-horse-battery-staple-42"
DSE_DASHBOARD = (sys.executable, "-m", "dse.cli", "dashboard")
PAGES = ("studies", "pareto", "design", "builds", "calibration", "releases")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return make_release_study(tmp_path_factory.mktemp("dash-security"))


def _app(results: Path, monkeypatch: pytest.MonkeyPatch, *, actions: bool) -> AppTest:
    import streamlit as st

    monkeypatch.setenv("DSE_DASHBOARD_RESULTS", str(results))
    monkeypatch.delenv("DSE_DASHBOARD_STORAGE", raising=False)
    monkeypatch.setenv("DSE_DASHBOARD_ACTIONS", "1" if actions else "0")
    monkeypatch.setenv("DSE_DASHBOARD_TOKEN_SHA256", hashlib.sha256(TOKEN.encode()).hexdigest())
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    return at


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.run()
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("error", "warning", "info", "markdown", "caption")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def _promote_buttons(at: AppTest) -> list[str]:
    buttons = [*at.get("button"), *at.form_submit_button]
    return sorted({b.label for b in buttons if "Promote" in b.label})


def test_read_only_by_default_even_with_a_forged_session(
    tiny: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(_app(tiny.results, monkeypatch, actions=False), "releases")
    assert not at.exception
    assert "Read-only dashboard" in _texts(at) and not _promote_buttons(at)
    assert not at.text_input  # not even a token field: there is nothing to unlock
    at.session_state["dse_actions_authorised"] = True  # what a forged session could claim
    at.run()
    assert not _promote_buttons(at) and "Read-only dashboard" in _texts(at)
    assert not (tiny.results / "releases").exists()


def test_actions_need_the_token(tiny: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(_app(tiny.results, monkeypatch, actions=True), "releases")
    assert not _promote_buttons(at)  # an anonymous session sees no promote form
    at.text_input(key="action_token").set_value("wrong-token-wrong-token")
    at.form_submit_button[0].click().run()
    assert any("Wrong token" in e.value for e in at.error) and not _promote_buttons(at)
    at.text_input(key="action_token").set_value(TOKEN)
    at.form_submit_button[0].click().run()
    assert _promote_buttons(at) == ["Promote this design"]
    next(b for b in at.form_submit_button if b.label == "Promote this design").click().run()
    assert any("confirmation" in w.value for w in at.warning)  # not ticked: nothing built
    assert not (tiny.results / "releases").exists()  # unlocking published nothing


def test_a_corrupt_study_is_one_error_row_and_the_rest_works(
    tiny: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    results = tmp_path / "results"
    shutil.copytree(tiny.results, results)
    (results / "broken").mkdir()
    (results / "broken" / "optuna.db").write_bytes(b"this is not a SQLite database\n" * 64)
    at = _app(results, monkeypatch, actions=False)
    assert not at.exception
    studies = next(df.value for df in at.dataframe if "trials" in df.value.columns)
    assert list(studies["study"]) == [tiny.name]
    for page in PAGES:
        _open(at, page)
        assert not at.exception, (page, at.exception)
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1 and errors[0].startswith("broken: cannot be read ("), errors
        assert str(results) not in errors[0]
        assert "could not be drawn" not in _texts(at), page
        assert "Traceback" not in _texts(at), page


def test_a_failing_page_shows_one_line_and_logs_the_traceback(
    tiny: Study, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A study that fails to load (here: its reader raises with a server path in the
    message): the visitor sees one line with a reference, the server log the traceback."""
    import dse.sweep

    secret = f"{tiny.results}/private/optuna.db"

    def broken(*_a: object, **_k: object) -> None:
        raise OSError(f"{secret}: disk I/O error")

    at = _app(tiny.results, monkeypatch, actions=False)
    monkeypatch.setattr(dse.sweep, "load_table", broken)
    import streamlit as st

    st.cache_data.clear()
    with caplog.at_level("ERROR", logger="dse.dashboard"):
        _open(at, "pareto")
    assert not at.exception
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and "\n" not in shown[0], shown
    assert "could not be drawn (OSError)" in shown[0] and "server log (ref " in shown[0]
    assert secret not in _texts(at) and "Traceback" not in _texts(at)
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and secret in str(logged[0].exc_info[1])


# -- the real server -----------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in found:
                    found.add(k)
                    todo.append(k)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(results: Path, port: int, *extra: str, token: str | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("DSE_DASHBOARD_TOKEN", None)
    if token is not None:
        env["DSE_DASHBOARD_TOKEN"] = token
    return subprocess.Popen(
        [*DSE_DASHBOARD, "--results", str(results), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,  # the test signals dse alone, not its process group
    )


@pytest.fixture
def served(tiny: Study) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    proc = _start(tiny.results, port, "--allow-actions", token=TOKEN)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", 90)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(15)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_the_server_dies_with_dse_dashboard(tiny: Study, sig: signal.Signals) -> None:
    port = free_port()
    proc = _start(tiny.results, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", 90)
        kids = _children(proc.pid)
        assert kids, "dse dashboard started no server process"
        os.kill(proc.pid, sig)  # dse alone: its child must follow
        proc.wait(30)
        deadline = time.monotonic() + 20
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k in kids if _alive(k)], "the Streamlit server outlived dse dashboard"
        with pytest.raises(OSError):
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        if sig != signal.SIGKILL:
            out = proc.stdout.read() if proc.stdout else ""
            assert proc.returncode == 0, out
            assert "read-only" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        for k in _children(proc.pid):
            os.kill(k, signal.SIGKILL)


def test_chromium_anonymous_visitor_cannot_promote(served: tuple[subprocess.Popen, int]) -> None:
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _proc, port = served
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options(1600, 1000))
    try:
        driver.get(f"http://127.0.0.1:{port}/releases")
        WebDriverWait(driver, 60).until(
            lambda d: "Action token" in d.find_element(By.TAG_NAME, "body").text
        )
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Releases" in body and "Promote this design" not in body
        assert "Traceback" not in body and 'File "' not in body
        pw = driver.find_element(By.CSS_SELECTOR, "input[type='password']")
        pw.send_keys("not-the-token-at-all")
        next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Unlock").click()
        WebDriverWait(driver, 30).until(
            lambda d: "Wrong token" in d.find_element(By.TAG_NAME, "body").text
        )
        assert "Promote this design" not in driver.find_element(By.TAG_NAME, "body").text
        for page in PAGES:
            driver.get(f"http://127.0.0.1:{port}/{page}")
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
            text = driver.find_element(By.TAG_NAME, "body").text
            assert "Traceback" not in text and "could not be drawn" not in text, page
    finally:
        driver.quit()


def test_allow_actions_refuses_a_short_token(tiny: Study) -> None:
    proc = subprocess.run(
        [*DSE_DASHBOARD, "--allow-actions", "--results", str(tiny.results)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DSE_DASHBOARD_TOKEN": "short"},
        timeout=60,
    )
    assert proc.returncode == 2 and "at least 16 characters" in proc.stderr, proc.stderr
    assert "short" not in proc.stderr and "Traceback" not in proc.stderr
