"""DSP blocks of one multiplier as Yosys's ``mul2dsp`` splits it on each open flow (the
spatial and overlay counts both read the RTL's product widths through it)."""

from __future__ import annotations

# mul2dsp's limits per flow: the widest A and B operand of one block, the A slice width
# beyond it, a sign bit each slice takes (DSP_SIGNEDONLY) and the narrowest result mapped.
_MUL2DSP = {"ecp5": (18, 18, 18, 0, 0), "xilinx": (27, 18, 18, 1, 9)}


def mul_dsp(a: int, b: int, flow: str) -> int:
    """DSP blocks of one signed ``a`` x ``b``-bit product as Yosys's mul2dsp splits it on
    ``flow``: the wider operand on A; A beyond its limit in slices (less a sign bit each on
    Xilinx), each slice times B split the same way; a last slice under 2 bits, or a partial
    product under DSP_Y_MINWIDTH result bits, stays in logic (so a 19-bit operand takes one
    MULT18X18D). Checked on standalone products of 14 to 44 bits on both flows."""
    amax, bmax, part, head, ymin = _MUL2DSP["ecp5" if "ecp5" in flow else "xilinx"]
    a, b = max(a, b), min(a, b)

    def split(width: int, limit: int) -> list[int]:
        if width <= limit:
            return [width]
        n = (width - limit + part - head - 1) // (part - head)
        return [part] * n + [width - n * (part - head)]

    return sum(
        1
        for sa in split(a, amax)
        for sb in split(b, bmax)
        if sa >= 2 and sb >= 2 and sa + sb >= ymin
    )
