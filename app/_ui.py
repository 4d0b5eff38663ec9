"""Streamlit glue shared by the pages: the study picker and the cached loaders.

Caches are keyed on ``_data.stamp`` (trial count, last completion, build changes), so a
study still being written is re-read when it changes and an idle one is read once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import _data
from dse.sweep._read import StudyData

STUDY_KEY = "study"
TRIAL_KEY = "trial"


def source() -> _data.Source:
    return _data.Source.from_env()


@st.cache_data(ttl=5, show_spinner=False)
def studies(results: str, storage: str | None) -> list[tuple[str, str]]:
    return _data.list_studies(_data.Source(Path(results), storage))


def all_studies() -> list[tuple[str, str]]:
    src = source()
    return studies(str(src.results), src.storage)


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
