"""dse: design-space exploration and autotuning for FPGA accelerators of LLM inference."""

from dse.errors import ConfigError, DseError

__version__ = "0.1.0"
__all__ = ["ConfigError", "DseError", "__version__"]
