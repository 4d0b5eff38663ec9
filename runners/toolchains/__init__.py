"""Toolchain adapters: one module per tool flow, registered in ``TOOLCHAINS``.

A toolchain *describes* a build (``prepare(bundle) -> list[Command]``) and *reads* its
results (``parse(workdir) -> BuildResult``); an executor runs the commands. Most flows are a
``StepFlow``: a sequence of tool steps (``_steps.py``; the open tools in ``_open_steps.py``).
To add a flow, write ``_<flow>.py`` with a subclass and add one line to ``TOOLCHAINS``.
"""

from __future__ import annotations

import difflib

from runners._errors import RunnerError
from runners.toolchains._base import FIDELITIES, Toolchain, ToolchainError
from runners.toolchains._delay import DelayModel, estimate_clock
from runners.toolchains._ecp5 import Ecp5, nextpnr_device_args
from runners.toolchains._open_steps import DelayEstimate, Nextpnr, Pack, Yosys
from runners.toolchains._sim_verilator import SimVerilator
from runners.toolchains._steps import StepFlow, StepOutput, ToolStep
from runners.toolchains._vitis_hls import VitisHls
from runners.toolchains._vitis_link import VitisLink
from runners.toolchains._vivado import Vivado
from runners.toolchains._yosys_ecp5 import YosysEcp5
from runners.toolchains._yosys_xilinx import YosysXilinx

TOOLCHAINS: dict[str, Toolchain] = {
    "yosys-xilinx": YosysXilinx(),
    "yosys-ecp5": YosysEcp5(),
    "ecp5": Ecp5(),
    "vivado": Vivado(),
    "vitis-hls": VitisHls(),
    "vitis-link": VitisLink(),
    "sim-verilator": SimVerilator(),
}


class UnknownToolchain(RunnerError, LookupError):
    """No flow of that name is registered."""


def get_toolchain(name: str) -> Toolchain:
    """The registered toolchain ``name``; raises ``UnknownToolchain`` with a suggestion."""
    try:
        return TOOLCHAINS[name]
    except KeyError:
        close = difflib.get_close_matches(name, TOOLCHAINS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UnknownToolchain(
            f"unknown flow '{name}' (known flows: {', '.join(TOOLCHAINS)}){hint}"
        ) from None


def list_toolchains() -> list[Toolchain]:
    """Every registered toolchain, in registry order."""
    return list(TOOLCHAINS.values())


__all__ = [
    "FIDELITIES",
    "TOOLCHAINS",
    "DelayEstimate",
    "DelayModel",
    "Ecp5",
    "Nextpnr",
    "Pack",
    "SimVerilator",
    "StepFlow",
    "StepOutput",
    "ToolStep",
    "Toolchain",
    "ToolchainError",
    "UnknownToolchain",
    "VitisHls",
    "VitisLink",
    "Vivado",
    "Yosys",
    "YosysXilinx",
    "estimate_clock",
    "get_toolchain",
    "list_toolchains",
    "nextpnr_device_args",
]
