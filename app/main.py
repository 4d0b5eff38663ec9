"""The dashboard's Streamlit script: page setup, navigation and the study picker.

Run it with ``dse dashboard`` (which binds 127.0.0.1 and says where the studies are); each
page is a script in ``views/``. A page that fails shows one line to the visitor; its
traceback goes to the server's log (stderr of ``dse dashboard``) with the same reference.
"""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

# Streamlit puts this folder on sys.path, not its parent; the pages import ``app``.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

st.set_page_config(page_title="dse dashboard", page_icon=":material/memory:", layout="wide")

VIEWS = Path(__file__).resolve().parent / "views"
PAGES = [
    st.Page(VIEWS / "studies.py", title="Studies", icon=":material/table_chart:", default=True),
    st.Page(VIEWS / "pareto.py", title="Pareto explorer", icon=":material/scatter_plot:"),
    st.Page(VIEWS / "design.py", title="Design", icon=":material/developer_board:"),
    st.Page(VIEWS / "builds.py", title="Builds", icon=":material/construction:"),
    st.Page(VIEWS / "calibration.py", title="Calibration", icon=":material/tune:"),
    st.Page(VIEWS / "releases.py", title="Releases", icon=":material/rocket_launch:"),
]
try:
    page = st.navigation(PAGES)
    # A study that cannot be read is one line here, on every page; the others work.
    from app import _ui

    for where, why in _ui.study_errors():
        st.sidebar.error(f"{where}: {why}", icon=":material/error:")
    page.run()
except Exception as exc:  # st.stop()/st.rerun() are BaseExceptions and pass through
    ref = secrets.token_hex(4)
    logging.getLogger("dse.dashboard").exception("dashboard page failed (ref %s)", ref)
    st.error(
        f"This page could not be drawn ({type(exc).__name__}); the details are in the "
        f"server log (ref {ref})."
    )
