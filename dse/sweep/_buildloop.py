"""The build policy: which scored trials a round builds (``choose``) and build identity.

The policies live in :mod:`dse.search.build_choice` (``build: choice:`` selects one);
``choose`` is the default, ``spread``, described here.

**Picking candidates.** The feasible trials are sorted into Pareto layers by their (corrected)
predicted objectives; within a layer the NSGA-II crowding distance orders them, extremes
first. A candidate is skipped when its build (template parameters, flow options, part) was
already requested, or when it lies within ``diversity`` of a build already picked, in
objective space normalised to [0, 1] per objective (the builds so far placed by the current
model). Hardware not built yet (template parameters) comes first, then new hardware the
model cannot tell apart from a pick (ties hide what the model is blind to), and the same
hardware at another clock only fills what is left.

The scheduler (:mod:`dse.sweep._scheduler`) calls the policy through one injectable
function with ``choose``'s signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dse.buildspec import BuildSpec
from dse.search.build_choice import POLICIES, layers_of
from dse.search.build_choice import spread as choose

__all__ = ["MEASURED_KEYS", "POLICIES", "choose", "hw_key", "layers_of", "spec_key"]

# What a build measures (the keys of ``measured``; dse.calibration.METRIC_COLUMNS maps them),
# and the sim rung's cycles with the cycle model's figure for the same run (SAME_RUN).
MEASURED_KEYS = (
    "lut",
    "ff",
    "dsp",
    "bram36",
    "uram",
    "fmax_mhz",
    "estimated_clock_mhz",
    "decode_cycles_per_token",
    "model_decode_cycles_per_token",
)


def spec_key(spec: BuildSpec, params: Mapping[str, Any]) -> str:
    """Identity of a build: same key, same bundle (template parameters, flow options, part)."""
    from runners import get_toolchain

    facts = {
        "template": spec.template,
        "params": dict(params),
        "options": get_toolchain(spec.flow).options(spec.point),
        "flow": spec.flow,
        "part": spec.part,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def hw_key(template: str, params: Mapping[str, Any]) -> str:
    """The hardware of a build: its template parameters without the flow's options."""
    return json.dumps([template, dict(params)], sort_keys=True, default=str)
