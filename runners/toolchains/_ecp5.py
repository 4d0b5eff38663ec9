"""``ecp5``: Yosys ``synth_ecp5`` -> nextpnr-ecp5 place and route -> ecppack bitstream.

Utilisation and Fmax come from nextpnr's ``--report`` JSON (parsed by ``runners.reports``),
mapped to the shared keys as follows:

    TRELLIS_COMB (a LUT4 + carry/mux slot)  -> lut
    TRELLIS_FF                              -> ff
    MULT18X18D (18x18 multiplier)           -> dsp
    DP16KD (18 Kb block RAM)                -> ebr, and bram36 = ebr / 2 (36 Kb equivalents)
    TRELLIS_IO                              -> io

A design that misses its clock target still gets a report and a bitstream; the build is
then ``failed`` with ``timing_not_met`` and its achieved Fmax (deterministic for a given
seed, so it is cached).

A whole accelerator (the overlay, whose external-memory ports outnumber any ECP5 package's
pins) is placed behind the scan-chain top of ``_io_wrapper``, as the ``vivado`` flow does:
Fmax and resources of the whole core (``io_wrapper_ff`` of the flip-flops are the chain's),
and a ``scan_bitstream`` that is not for a board. A point whose model fits on chip is
released as ``overlay_release`` (UART top, memories in block RAM) instead.
"""

from __future__ import annotations

import re

from runners.toolchains._open_steps import Nextpnr, Pack, Yosys
from runners.toolchains._steps import StepFlow

_PART_RE = re.compile(r"^LFE5(U|UM|UM5G)-(12|25|45|85)F-([678])(BG|MG|TG)(\d+)[CI]?$", re.I)
_PACKAGES = {"BG": "CABGA", "MG": "CSFBGA", "TG": "TQFP"}
DEFAULT_CLOCK_MHZ = 50.0


def nextpnr_device_args(part: str) -> list[str] | None:
    """nextpnr-ecp5 device options for a Lattice part name, e.g. ``LFE5U-85F-6BG381C`` ->
    ``--85k --package CABGA381 --speed 6``; None when the name is not an ECP5 part."""
    match = _PART_RE.match(part.strip())
    if match is None:
        return None
    variant, size, speed, pkg, pins = match.groups()
    prefix = {"U": "", "UM": "um-", "UM5G": "um5g-"}[variant.upper()]
    package = _PACKAGES[pkg.upper()] + pins
    return [f"--{prefix}{size}k", "--package", package, "--speed", speed]


NEXTPNR_ECP5 = Nextpnr(
    "ecp5",
    nextpnr_device_args,
    ("--textcfg", "top.config"),
    example="LFE5U-85F-6BG381C: LFE5U/LFE5UM/LFE5UM5G, 12/25/45/85F, speed 6-8, BG/MG/TG + pins",
    default_clock_mhz=DEFAULT_CLOCK_MHZ,
    bram36_per_ebr=0.5,  # DP16KD: 18 Kb
)


class Ecp5(StepFlow):
    """Open ECP5 flow: real utilisation, Fmax and a bitstream."""

    name = "ecp5"
    deliverable = ("bitstream", ".bit")
    description = "Yosys synth_ecp5 + nextpnr-ecp5 + ecppack: utilisation, Fmax, .bit"
    fidelity = "bitstream"
    default_part = "LFE5U-85F-6BG381C"
    # A whole overlay's nextpnr run took 51 min on a loaded 2-core machine (13.5 CPU-min):
    # an hour per step would fail a healthy release build, so the flow keeps the 4 h default.
    steps = (
        # Only CCU2C carry cells from synthesis; nextpnr counts the rest after placement.
        Yosys("ecp5", synth_options="-json synth.json", keys=("carry",), in_context=True),
        NEXTPNR_ECP5,
        Pack("yowasp-ecppack", ("top.config", "top.bit"), "top.bit", "ecppack.log"),
    )
