"""The spatial RTL as a ``runners`` template: the generator of ``templates/spatial_rtl``.

``write_sources`` is what ``runners`` calls for every bundle of the template: for a
synthesis flow it builds the point's plan for the study's model (``model_shape`` and
``max_pos``, which ``dse.buildspec`` copies from the config's workload into the point),
writes ``sp_top.v`` and the ROM images of seeded random weights (``weights_seed``) and
returns their names; a point the RTL cannot build raises :class:`SpatialError` (one key,
what is supported), before any tool runs. For the ``sim`` rung it writes nothing: the rung's
own half, ``spatial.simflow`` (re-exported here as ``write_bundle`` / ``read_result``),
generates the design of a tiny model of the same family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cost_models import ModelShape
from overlay.flow import default_prompt
from overlay.model import make_float_model
from overlay.reference import QuantModel, quantise_model
from spatial.plan import SpatialError, SpatialPlan, build_plan
from spatial.rtl import render, write_roms
from spatial.simflow import read_result, write_bundle

__all__ = [
    "SIM_FLOW",
    "plan_of",
    "quantised",
    "read_result",
    "shape_of",
    "write_bundle",
    "write_sources",
]

SIM_FLOW = "sim-verilator"
# Weights the generator quantises into ROMs at most: the float model it draws them from
# takes 4 bytes each, and a model beyond this is no on-chip design of any board here.
MAX_WEIGHTS = 1 << 24
DEFAULT_MAX_POS = 64


def shape_of(point: Mapping[str, Any]) -> ModelShape:
    """The study's model shape the point carries under ``model_shape``."""
    raw = point.get("model_shape")
    if not isinstance(raw, Mapping):
        raise SpatialError(
            "model_shape",
            "expected the study's model shape (ModelShape fields; dse build and the sweeps "
            f"fill it from the config's workload), got {raw!r}",
        )
    names = {f.name for f in dataclasses.fields(ModelShape)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise SpatialError("model_shape", f"unknown ModelShape fields {unknown}")
    try:
        return ModelShape(**raw)
    except (TypeError, ValueError) as exc:
        raise SpatialError("model_shape", f"not a model shape ({exc})") from None


def plan_of(point: Mapping[str, Any]) -> SpatialPlan:
    """The plan of the whole accelerator of ``point`` for the study's model."""
    shape = shape_of(point)
    max_pos = point.get("max_pos") or min(shape.max_positions or DEFAULT_MAX_POS, DEFAULT_MAX_POS)
    if isinstance(max_pos, bool) or not isinstance(max_pos, int):
        raise SpatialError("max_pos", f"expected an integer, got {max_pos!r}")
    if point.get("weight_storage", "onchip") == "auto":
        raise SpatialError(
            "weight_storage",
            "auto: the spatial RTL keeps weights on chip; set weight_storage: onchip",
        )
    if point.get("weight_storage") == "stream":  # ports to a memory no board flow wires
        raise SpatialError(
            "weight_storage",
            "the spatial RTL synthesises and releases weights on chip only (onchip); "
            "streamed weights run in simulation (flow sim-verilator)",
        )
    if shape.params_total() > MAX_WEIGHTS:
        raise SpatialError(
            "model_shape",
            f"{shape.name} has {int(shape.params_total()):,} weights; the spatial RTL generates "
            f"ROMs of at most {MAX_WEIGHTS:,} (weights on chip)",
        )
    return build_plan(point, shape, max_pos)


def quantised(plan: SpatialPlan, seed: int) -> QuantModel:
    """The seeded random weights of ``plan``'s model, quantised (calibrated on a seeded
    prompt) as the ROMs hold them; the released top's reference runs the same."""
    shape = plan.shape
    prompt = default_prompt(shape, 4, seed + 7)
    return quantise_model(make_float_model(shape, seed, plan.max_pos), plan.quant_spec(), prompt)


def write_sources(folder: Path, point: Mapping[str, Any], flow: str) -> list[str]:
    """``sp_top.v`` and ``rom/*.hex`` of the point (names relative to ``folder``)."""
    if flow == SIM_FLOW:
        return []  # spatial.simflow.write_bundle writes the tiny model's design
    plan = plan_of(point)
    seed = point.get("weights_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpatialError("weights_seed", f"expected an integer >= 0, got {seed!r}")
    files = render(plan, folder)  # raises SpatialError for what the RTL does not build
    write_roms(plan, quantised(plan, seed), folder)
    top = [f.name for f in files if f.name == "sp_top.v"]
    roms = sorted(p.relative_to(folder).as_posix() for p in (folder / "rom").glob("*.hex"))
    return top + roms
