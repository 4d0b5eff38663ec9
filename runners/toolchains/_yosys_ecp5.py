"""``yosys-ecp5``: Yosys ``synth_ecp5`` only -> LUT4/FF/MULT18X18D/EBR counts.

The synthesis rung of the ECP5 ladder: no placement, so a unit whose ports outnumber the
package's pins (a 32-lane GEMV has over a thousand) still gets real resource counts. The
``ecp5`` flow adds nextpnr (real Fmax) and ecppack (the bitstream) for designs that fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runners.toolchains._ecp5 import NEXTPNR_ECP5
from runners.toolchains._open_steps import Yosys
from runners.toolchains._steps import StepFlow

if TYPE_CHECKING:
    from runners._templates import Template


class YosysEcp5(StepFlow):
    """Yosys synthesis for Lattice ECP5 (resource counts; no timing)."""

    name = "yosys-ecp5"
    description = "Yosys synth_ecp5: LUT4/FF/MULT18X18D/EBR/CCU2C counts (no place and route)"
    fidelity = "synth"
    default_part = "LFE5U-85F-6BG381C"
    # Whole-overlay synthesis has taken 53 min of wall time on a loaded 2-core machine (a few
    # CPU-minutes): an hour per step would fail healthy builds, so the flow keeps the 4 h default.
    steps = (
        Yosys(
            "ecp5",
            keys=("lut", "ff", "dsp", "ebr", "bram36", "carry", "lutram", "cells"),
            bram36_per_ebr=0.5,  # DP16KD: 18 Kb
        ),
    )

    def check(self, template: Template, part: str) -> None:
        """Also a part nextpnr-ecp5 knows: the ``ecp5`` flow builds the same part further."""
        super().check(template, part)
        NEXTPNR_ECP5.check_part(self.name, part)
