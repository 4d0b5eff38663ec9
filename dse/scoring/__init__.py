"""The one scorer: every model number in ``dse`` and ``app`` comes from here.

- :class:`Model` (``_model.py``): what a study scores against; :meth:`Model.evaluate` is the
  only call of ``cost_models.evaluate`` in ``dse`` and ``app``.
- :class:`Calibration` (``_calibration.py``): frozen and versioned — the corrections fitted
  on real builds, the clock guard band, the neighbourhoods measured builds ruled out
  (:class:`Cone`); ``RAW`` is the uncalibrated model.
- :class:`Scorer`: a batch of a study's searched points in one vectorised call, one named
  :class:`Score` per point. The sweep, the model-level search's persisted trials, the build
  scheduler, ``dse estimate``, exhaustive screening and the dashboard all score through it.
"""

from dse.scoring._calibration import (
    INFEASIBLE_FAILURES,
    RAW,
    Calibration,
    Cone,
    clock_target,
    cone_of,
    cones_of,
)
from dse.scoring._model import (
    KEY_METRICS,
    PREDICTED_KEYS,
    Model,
    Score,
    Scorer,
    columns,
    plain,
    valid,
)

__all__ = [
    "INFEASIBLE_FAILURES",
    "KEY_METRICS",
    "PREDICTED_KEYS",
    "RAW",
    "Calibration",
    "Cone",
    "Model",
    "Score",
    "Scorer",
    "clock_target",
    "columns",
    "cone_of",
    "cones_of",
    "plain",
    "valid",
]
