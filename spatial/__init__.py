"""Hardware of the spatial (dataflow) family: plan, memory image and HLS C++ top.

Arrows: ``spatial -> overlay`` (its fixed-point reference) ``-> cost_models``; nothing
under ``dse`` or ``runners`` is imported. See docs/spatial.md.
"""

from spatial.plan import SpatialError, SpatialPlan, build_plan

__all__ = ["SpatialError", "SpatialPlan", "build_plan"]
