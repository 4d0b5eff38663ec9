"""The dashboard's Streamlit script: page setup, navigation and the study picker.

Run it with ``dse dashboard`` (which binds 127.0.0.1 and says where the studies are); each
page is a script in ``views/``.
"""

from __future__ import annotations

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
st.navigation(PAGES).run()
