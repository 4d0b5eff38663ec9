"""The build policy: which scored trials a round builds (``choose``) and build identity.

The policies live in :mod:`dse.search.build_choice` (``build: choice:`` selects one);
``choose`` is the default, ``merit``.

**Picking candidates.** The feasible trials, scored by the (corrected) model, go to the
policy. ``merit`` takes those of best predicted figure of merit (the objectives' product,
maximised ones up, minimised ones down: tokens/s per LUT), the expected-improvement choice
with the calibrated model as prior; ``spread`` walks the predicted Pareto layers, extremes
first, keeping picks ``diversity`` apart; ``ehvi`` maximises the expected hypervolume gain.
Every policy skips a candidate whose build (template parameters, flow options, part) was
already requested, and takes hardware not built yet (template parameters) first; the same
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
from dse.search.build_choice import DEFAULT, POLICIES, layers_of

choose = POLICIES[DEFAULT]

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
