"""The spatial HLS top as a ``runners`` template: the generator of ``templates/hls_spatial``.

``write_sources`` builds the point's plan for the study's model (as ``spatial.flow`` does
for the RTL), lays out the memory image of seeded random weights (the top reads its
weights, tables and scales at offsets fixed at generation) and writes ``spatial_top.h`` /
``spatial_top.cpp`` with the kernel headers for ``vitis-hls`` / ``vitis-link``. Unlike the
RTL, the HLS top also streams its weights (``weight_storage: stream``); ``auto`` is
refused (name it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overlay.flow import default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model
from spatial.flow import MAX_WEIGHTS, shape_of
from spatial.hls import render
from spatial.image import build_image
from spatial.plan import SpatialError, build_plan

TB = "tb_spatial.cpp"  # the C-simulation testbench: not a synthesis source


def write_sources(folder: Path, point: Mapping[str, Any], flow: str) -> list[str]:
    """The generated HLS sources of the point (names relative to ``folder``)."""
    shape = shape_of(point)
    storage = point.get("weight_storage", "onchip")
    if storage == "auto":
        raise SpatialError(
            "weight_storage", "auto: name onchip or stream for the HLS top (the model picks one)"
        )
    if shape.params_total() > MAX_WEIGHTS:
        raise SpatialError(
            "model_shape",
            f"{shape.name} has {int(shape.params_total()):,} weights; the HLS generator lays "
            f"out the memory image of at most {MAX_WEIGHTS:,} (seeded random weights)",
        )
    max_pos = point.get("max_pos") or 64
    plan = build_plan(point, shape, max_pos)
    seed = point.get("weights_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpatialError("weights_seed", f"expected an integer >= 0, got {seed!r}")
    prompt = default_prompt(shape, 4, seed + 7)
    qm = quantise_model(make_float_model(shape, seed, plan.max_pos), plan.quant_spec(), prompt)
    _, offsets, layer_words = build_image(qm, plan)
    files = render(plan, offsets, layer_words, folder)
    (folder / TB).unlink(missing_ok=True)  # render copies the testbench; HLS synthesises none
    return [f.name for f in files if f.name != TB and f.name.startswith("spatial_top")]
