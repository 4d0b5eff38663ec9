"""Study config loading and validation."""

from dse.config._build import BuildPolicy
from dse.config._space import (
    METRICS,
    SAMPLERS,
    Budget,
    Constraints,
    Objective,
    SamplerSpec,
    sample_columns,
)
from dse.config._study import StudyConfig, load_config, parse_override
from dse.config._yaml import LocatedYaml, load_yaml

__all__ = [
    "METRICS",
    "SAMPLERS",
    "Budget",
    "BuildPolicy",
    "Constraints",
    "LocatedYaml",
    "Objective",
    "SamplerSpec",
    "StudyConfig",
    "load_config",
    "load_yaml",
    "parse_override",
    "sample_columns",
]
