"""The temporal overlay accelerator: arithmetic, bit-exact reference, compiler, ISA.

Imports only ``cost_models`` (for ``ModelShape`` and design-point keys) and numpy, so
``runners`` may import it. ``docs/overlay.md`` is the specification.
"""

from overlay.arith import requant_params
from overlay.model import FloatModel, make_float_model
from overlay.reference import QuantModel, quantise_model, run_reference

__all__ = [
    "FloatModel",
    "QuantModel",
    "make_float_model",
    "quantise_model",
    "requant_params",
    "run_reference",
]
