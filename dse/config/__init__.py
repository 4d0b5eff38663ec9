"""Study config loading and validation."""

from dse.config._study import StudyConfig, load_config, parse_override
from dse.config._yaml import LocatedYaml, load_yaml

__all__ = ["LocatedYaml", "StudyConfig", "load_config", "load_yaml", "parse_override"]
