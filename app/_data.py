"""What the pages show, computed from the results store (no Streamlit here).

Everything a page needs that is more than a lookup is a plain function of DataFrames, so it
is tested directly as well as through the pages. The pages call it as ``_data.NAME``; it
lives in one module per subject: studies, summaries and plot thinning in ``_data_studies``,
the promote form's choices in ``_data_promote``, a build's files, timeline and calibration
pairs in ``_data_builds``. One design point's figures are in ``_design``, Pareto axes and
measured positions in ``_axes``.
"""

from __future__ import annotations

from app._data_builds import (
    build_files,
    build_folder,
    calibration_pairs,
    critical_path,
    log_error_pct,
    step_segments,
    timeline_lanes,
)
from app._data_promote import promote_candidates, promote_flows, promote_templates
from app._data_studies import (
    BUILD_STATES,
    ENV_RESULTS,
    ENV_STORAGE,
    LIVE_WINDOW_S,
    MEASURED_FOR,
    Source,
    budget_of,
    convergence,
    front_mask,
    list_studies,
    param_importance,
    stamp,
    study_summary,
    thin,
    violation_reasons,
)

__all__ = [
    "BUILD_STATES",
    "ENV_RESULTS",
    "ENV_STORAGE",
    "LIVE_WINDOW_S",
    "MEASURED_FOR",
    "Source",
    "budget_of",
    "build_files",
    "build_folder",
    "calibration_pairs",
    "convergence",
    "critical_path",
    "front_mask",
    "list_studies",
    "log_error_pct",
    "param_importance",
    "promote_candidates",
    "promote_flows",
    "promote_templates",
    "stamp",
    "step_segments",
    "study_summary",
    "thin",
    "timeline_lanes",
    "violation_reasons",
]
