"""Cached design scoring for the pages (``_design.score_point`` behind ``st.cache_data``).

Keyed on the study's fingerprint (``_ui.stamp``), so a new calibration fit or a re-scored
study is picked up at the next refresh.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import _design, _ui
from dse.scoring import Calibration


def point_of(attrs: pd.DataFrame, number: int) -> dict[str, Any]:
    """A trial's design point from ``_ui.trial_attrs`` columns (``param_*``, ``point_*``)."""
    if number not in attrs.index:
        return {}
    return {
        str(k).split("_", 1)[1]: v
        for k, v in attrs.loc[number].items()
        if str(k).startswith(("param_", "point_")) and not (isinstance(v, float) and math.isnan(v))
    }


@st.cache_resource(max_entries=16, show_spinner=False)
def calibration(url: str, study: str, key: tuple) -> Calibration:
    """The study's final calibration (corrections and measured-infeasible cones), as the
    sweep left it; a resource, since it holds the loaded build template."""
    config = _ui.load(url, study).attrs.get("dse:config") or {}
    builds, calibrations = _ui.builds(url, study)
    return _design.study_calibration(config, calibrations, builds)


@st.cache_data(max_entries=256, show_spinner=False)
def _scored(
    url: str, study: str, number: int, freq_mhz: float | None, key: tuple
) -> _design.Scored | str:
    data = _ui.load(url, study)
    config = data.attrs.get("dse:config") or {}
    point = point_of(_ui.trial_attrs(url, study, [number], ("point",)), number)
    if not config or not point:
        return f"trial {number} has no stored design point or the study no config"
    try:
        return _design.score_point(config, point, calibration(url, study, key), freq_mhz=freq_mhz)
    except Exception as exc:  # a stored point the current model rejects: say which, once
        return f"the cost model cannot score trial {number}: {str(exc).splitlines()[0]}"


def scored(
    url: str, study: str, number: int, freq_mhz: float | None = None
) -> _design.Scored | str:
    """Trial ``number`` scored with the study's final calibration (a message if it cannot)."""
    return _scored(url, study, int(number), freq_mhz, _ui.stamp(url, study))


@st.cache_data(max_entries=256, show_spinner=False)
def _scored_point(
    url: str, study: str, point_json: str, freq_mhz: float | None, key: tuple
) -> _design.Scored | str:
    import json

    data = _ui.load(url, study)
    config = data.attrs.get("dse:config") or {}
    try:
        return _design.score_point(
            config, json.loads(point_json), calibration(url, study, key), freq_mhz=freq_mhz
        )
    except Exception as exc:  # a stored point the current model rejects
        return f"the cost model cannot score this point: {str(exc).splitlines()[0]}"


def scored_point(
    url: str, study: str, point: dict[str, Any], freq_mhz: float | None = None
) -> _design.Scored | str:
    """A design point (e.g. what a build built) scored like ``scored``."""
    import json

    text = json.dumps(point, sort_keys=True, default=str)
    return _scored_point(url, study, text, freq_mhz, _ui.stamp(url, study))


@st.cache_data(max_entries=512, show_spinner=False)
def _build_files(result_dir: Any, bundle_hash: Any, results: str, key: tuple) -> dict[str, Any]:
    from app import _data

    root = Path(results)
    return _data.build_files(_data.build_folder(result_dir, bundle_hash, root), root)


def build_files(url: str, study: str, build: pd.Series, results: Path) -> dict[str, Any]:
    """``_data.build_files`` of one build row, its folder found under ``results``."""
    rd = build.get("result_dir")
    bh = build.get("bundle_hash")
    return _build_files(
        rd if isinstance(rd, str) else None,
        bh if isinstance(bh, str) else None,
        str(results),
        (_ui.stamp(url, study), build.get("state"), build.get("finished_at")),
    )
