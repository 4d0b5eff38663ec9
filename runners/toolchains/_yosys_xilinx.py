"""``yosys-xilinx``: Yosys ``synth_xilinx`` -> resource counts, logic depth, estimated clock.

Under YoWASP the tool's stdout after ABC can be lost even on success, so everything is read
from files Yosys writes itself: the log, ``stat.json`` and the mapped netlist
``netlist.json`` that the delay estimate reads. The part's family (UltraScale+, UltraScale,
7-series: ``cost_models/data/fpga_families.yaml``) gives ``-family``.
"""

from __future__ import annotations

from runners.toolchains._open_steps import DelayEstimate, Yosys
from runners.toolchains._steps import StepFlow


class YosysXilinx(StepFlow):
    """Yosys synthesis for AMD/Xilinx parts (resource counts and an estimated clock)."""

    name = "yosys-xilinx"
    description = "Yosys synth_xilinx: LUT/FF/DSP/BRAM/URAM/CARRY, logic depth, estimated clock"
    fidelity = "synth"
    default_part = "xcu280-fsvh2892-2L-e"
    step_timeout_s = 3600.0
    steps = (
        # -noiopad: out of context like the Vivado flow (no I/O buffers on the ports).
        Yosys(
            "xilinx",
            synth_options="-noiopad",
            after=("write_json netlist.json",),
            keys=("lut", "ff", "dsp", "bram36", "uram", "carry", "lutram", "cells"),
            artefacts=(("netlist", "netlist.json"),),
        ),
        DelayEstimate("netlist.json"),
    )
