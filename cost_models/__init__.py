"""Vectorised analytical cost models of FPGA accelerators for LLM inference.

Pure functions of (workload, platform, design points as arrays); imports nothing else of
the project. Two architecture families: ``spatial`` (dataflow, seed paper A) and
``temporal`` (overlay: EdgeLLM / FlightLLM / DFX). See ``docs/models.md``.

.. code-block:: python

    import cost_models
    df = cost_models.evaluate("gpt2-medium", "u280", {"m_ffn": 1024}, arch="spatial")
"""

from cost_models._board import (
    BuildFacts,
    Family,
    families,
    family_of_part,
    part_of_vitis_platform,
    vitis_platforms,
)
from cost_models._errors import InputError, did_you_mean
from cost_models._evaluate import ARCHS, COLUMNS, VIOLATIONS, evaluate, load_baseline
from cost_models._gpu import GpuResult, gpu_baseline
from cost_models._platform import list_platforms, load_platform
from cost_models._platform_types import RESOURCES, Gpu, Memory, Platform, Resources
from cost_models._point_columns import check_written, normalise
from cost_models._points import GROUPS, QUANTS, Param, param_specs
from cost_models._prepared import Prepared
from cost_models._shape import ModelShape
from cost_models._shape_sources import (
    SUPPORTED_MODEL_TYPES,
    list_presets,
    load_shape_file,
    preset_shape,
    shape_from_hf,
)
from cost_models._units import UNITS, Unit, unit_features, unit_resources
from cost_models._workload import Workload, load_workload

__all__ = [
    "ARCHS",
    "COLUMNS",
    "GROUPS",
    "QUANTS",
    "RESOURCES",
    "SUPPORTED_MODEL_TYPES",
    "UNITS",
    "VIOLATIONS",
    "BuildFacts",
    "Family",
    "Gpu",
    "GpuResult",
    "InputError",
    "Memory",
    "ModelShape",
    "Param",
    "Platform",
    "Prepared",
    "Resources",
    "Unit",
    "Workload",
    "check_written",
    "did_you_mean",
    "evaluate",
    "families",
    "family_of_part",
    "gpu_baseline",
    "list_platforms",
    "list_presets",
    "load_baseline",
    "load_platform",
    "load_shape_file",
    "load_workload",
    "normalise",
    "param_specs",
    "part_of_vitis_platform",
    "preset_shape",
    "shape_from_hf",
    "unit_features",
    "unit_resources",
    "vitis_platforms",
]
