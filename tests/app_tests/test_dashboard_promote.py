"""The Releases page's guarded promote, for real: Yosys + nextpnr + ecppack on a small design.

Promote is an action: the app runs as ``dse dashboard --allow-actions`` would start it (the
token's sha256 in the environment) and the session types the token first.

Kept apart from ``test_dashboard.py`` because the bitstream build alone takes 30-80 s on two
shared cores.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_tests.study_fixture import make_release_study
from tests.app_tests.test_dashboard import MAIN, frame_with, open_page


@pytest.mark.slow
def test_releases_page_promotes_a_design_for_real_and_verifies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    from dse.release import list_releases

    tiny = make_release_study(tmp_path)
    monkeypatch.setenv("DSE_DASHBOARD_RESULTS", str(tiny.results))
    token = "a-token-only-this-test-knows"
    monkeypatch.setenv("DSE_DASHBOARD_ACTIONS", "1")
    monkeypatch.setenv("DSE_DASHBOARD_TOKEN_SHA256", hashlib.sha256(token.encode()).hexdigest())
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    open_page(at, "releases")
    at.text_input(key="action_token").set_value(token)
    at.form_submit_button[0].click().run()
    assert not at.exception
    at.number_input(key="promote_trial").set_value(0)
    at.text_input(key="promote_name").set_value("tiny-v1")
    at.selectbox(key="promote_flow").set_value("ecp5")
    # the default is the whole accelerator (SmolLM's does not fit the ECP5: refused); the
    # study's own units build and route in a minute
    assert at.selectbox(key="promote_template").options[0] == "overlay"
    at.selectbox(key="promote_template").set_value("llm_top")
    at.checkbox(key="promote_confirm").check()
    at.form_submit_button[0].click().run(timeout=300)  # Yosys + nextpnr + ecppack
    assert not at.exception, at.exception[0].value
    (made,) = list_releases(tiny.results)
    assert made.name == "tiny-v1" and made.trial == 0 and made.bitstream is not None
    assert made.bitstream.stat().st_size > 1000
    at.run()  # the page now lists it, with its verify status
    table = frame_with(at, "release")
    assert list(table["release"]) == ["tiny-v1"] and list(table["flow"]) == ["ecp5"]
    assert any("Verified: all" in s.value for s in at.success)
