"""Streamlit glue shared by the pages: the study picker and the cached loaders.

Caches are keyed on ``_data.stamp`` (trial count, last completion, build changes), so a
study still being written is re-read when it changes and an idle one is read once.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import _data
from dse.layout import ResultsLayout, sqlite_url
from dse.sweep import StudyData

STUDY_KEY = "study"
TRIAL_KEY = "trial"
LOG = logging.getLogger("dse.dashboard")


def source() -> _data.Source:
    return _data.Source.from_env()


@st.cache_data(ttl=5, show_spinner=False)
def studies(
    results: str, storage: str | None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(readable, unreadable)``: (study, storage URL) pairs, and (where, one-line reason)
    for every database that cannot be opened, so one corrupt study does not hide the rest."""
    if storage is not None:
        try:
            return _data.list_studies(_data.Source(Path(results), storage)), []
        except Exception as exc:
            return [], [(storage.split("://", 1)[0] + "://…", failure("storage", exc))]
    found: list[tuple[str, str]] = []
    bad: list[tuple[str, str]] = []
    for db in ResultsLayout(results).study_dbs():
        try:
            found += _data.list_studies(_data.Source(db.parent, storage=sqlite_url(db)))
        except Exception as exc:
            bad.append((db.parent.name, failure(f"study folder {db.parent.name}", exc)))
    return found, bad


def all_studies() -> list[tuple[str, str]]:
    """Every readable study (see ``study_errors`` for the others)."""
    src = source()
    return studies(str(src.results), src.storage)[0]


def study_errors() -> list[tuple[str, str]]:
    """(study folder or storage, one-line reason) of every study that cannot be read."""
    src = source()
    return studies(str(src.results), src.storage)[1]


def failure(what: str, exc: BaseException) -> str:
    """Log ``exc`` with its traceback (server side) and return the one line a visitor sees."""
    ref = f"{id(exc) & 0xFFFFFF:06x}"
    LOG.error("dashboard: %s failed (ref %s)", what, ref, exc_info=exc)
    return f"cannot be read ({type(exc).__name__}; details in the server log, ref {ref})"


@st.cache_data(ttl=2, show_spinner=False)
def stamp(url: str, study: str) -> tuple[int, str, int]:
    return _data.stamp(url, study)


@st.cache_data(max_entries=6, show_spinner="Reading trials…")
def table(url: str, study: str, key: tuple) -> StudyData:
    from dse.sweep import load_table

    return load_table(study, storage=url)


def load(url: str, study: str) -> StudyData:
    s = stamp(url, study)
    return table(url, study, s)


@st.cache_data(max_entries=32, show_spinner=False)
def attrs(
    url: str, study: str, numbers: tuple[int, ...], keys: tuple[str, ...], key: tuple
) -> pd.DataFrame:
    from dse.sweep import load_trial_attrs

    return load_trial_attrs(load(url, study), numbers, keys)


@st.cache_data(max_entries=6, show_spinner="Reading trial metrics…")
def all_attrs(url: str, study: str, keys: tuple[str, ...], key: tuple) -> pd.DataFrame:
    from dse.sweep import load_trial_attrs

    return load_trial_attrs(load(url, study), None, keys)


def trial_attrs(
    url: str, study: str, numbers: list[int], keys: tuple[str, ...] = ("point",)
) -> pd.DataFrame:
    return attrs(url, study, tuple(sorted(set(numbers))), keys, stamp(url, study))


def every_trial_attrs(url: str, study: str, keys: tuple[str, ...]) -> pd.DataFrame:
    return all_attrs(url, study, keys, stamp(url, study))


@st.cache_data(max_entries=6, show_spinner=False)
def builds_cached(url: str, study: str, key: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    from dse.sweep import load_builds

    return load_builds(study, storage=url)


def builds(url: str, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return builds_cached(url, study, stamp(url, study))


@st.cache_data(max_entries=16, show_spinner=False)
def times_cached(url: str, study: str, key: tuple) -> dict[str, Any]:
    from dse.sweep import study_times

    return study_times(url, study, _data.LIVE_WINDOW_S)


def times(url: str, study: str) -> dict[str, Any]:
    return times_cached(url, study, stamp(url, study))


def pick_study() -> tuple[str, str] | None:
    """The sidebar's study picker (also set by ``?study=`` in the URL); None if none exist."""
    found = all_studies()
    if not found:
        src = source()
        where = src.storage or f"{src.results}/*/optuna.db"
        st.info(f"No studies in {where} yet. Run `dse sweep CONFIG` and they appear here.")
        return None
    names = [n for n, _ in found]
    wanted = st.query_params.get(STUDY_KEY) or st.session_state.get(STUDY_KEY)
    if wanted not in names:
        wanted = names[0]
    if st.session_state.get(STUDY_KEY) != wanted:
        st.session_state[STUDY_KEY] = wanted
    name = st.sidebar.selectbox("Study", names, key=STUDY_KEY)
    if st.query_params.get(STUDY_KEY) != name:
        st.query_params[STUDY_KEY] = name
    return name, dict(found)[name]


def study_or_stop() -> tuple[str, str]:
    """(study, url) from the picker; stops the page (after its note) when there is none."""
    picked = pick_study()
    if picked is None:
        st.stop()
    assert picked is not None  # st.stop() does not return
    return picked


def fmt(x: Any, digits: int = 4) -> str:
    """A number for a label: thousands separators for counts, 4 significant digits else."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e12):
        return f"{int(x):,}"
    return f"{x:.{digits}g}"
