"""Who may act on the dashboard: nobody, unless ``dse dashboard --allow-actions``.

With that flag the server's environment holds the sha256 of a token; a browser session
that types the token (compared in constant time) may act for the rest of the session.
Every action re-checks ``authorised()`` on the server when it runs, so a session cannot act
by replaying a form: the flag in ``st.session_state`` is set only here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time

import streamlit as st

from dse.cli_dashboard import ENV_ACTIONS, ENV_TOKEN_SHA256

AUTH_KEY = "dse_actions_authorised"
_FAILED_KEY = "dse_actions_failed"
_LOG = logging.getLogger("dse.dashboard")


def enabled() -> bool:
    """True when the server was started with ``--allow-actions`` (and so has a token)."""
    return os.environ.get(ENV_ACTIONS) == "1" and _expected() is not None


def token_ok(token: str) -> bool:
    """Whether ``token`` is the server's token (constant-time; False when actions are off)."""
    want = _expected()
    if want is None or not enabled():
        return False
    got = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return hmac.compare_digest(got, want)


def authorised() -> bool:
    """True when this session may act: actions on, and it has typed the token."""
    return enabled() and st.session_state.get(AUTH_KEY) is True


def unlock(what: str) -> bool:
    """Show why ``what`` is unavailable, or ask for the token; True once authorised."""
    if not enabled():
        st.info(
            f"Read-only dashboard: {what} is off. Start it with `dse dashboard --allow-actions` "
            "to offer it to people who know the token (docs/dashboard.md)."
        )
        return False
    if authorised():
        return True
    with st.form("unlock_actions"):
        token = st.text_input("Action token", type="password", key="action_token")
        go = st.form_submit_button("Unlock")
    if go:
        failed = int(st.session_state.get(_FAILED_KEY, 0))
        time.sleep(min(0.25 * 2**failed, 8.0))  # each wrong guess in a session costs more
        if token_ok(token):
            st.session_state[AUTH_KEY] = True
            st.session_state.pop(_FAILED_KEY, None)
            st.rerun()
        st.session_state[_FAILED_KEY] = failed + 1
        _LOG.warning("dashboard: a wrong action token was typed (%d in this session)", failed + 1)
        st.error("Wrong token.")
    else:
        st.caption(f"{what.capitalize()} needs the token `dse dashboard` printed when it started.")
    return False


def _expected() -> str | None:
    value = os.environ.get(ENV_TOKEN_SHA256, "")
    return value if re.fullmatch(r"[0-9a-f]{64}", value) else None
