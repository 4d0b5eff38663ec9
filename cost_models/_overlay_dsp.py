"""DSP blocks of the whole overlay's core at the RTL revision ``DSP_RTL``: the products'
operand widths and the blocks each maps to per flow (``_mul2dsp.mul_dsp``)."""

from __future__ import annotations

from cost_models._mul2dsp import mul_dsp

# Counted from the RTL's multipliers, each split as Yosys's mul2dsp splits it (``mul_dsp``);
# (A, B) are the signed operand widths Yosys sees. Per SFU lane
# the four time-shared multipliers M0..M3 (overlay_core.v, "SFU multipliers"); per
# write-back lane (NB) the requant a*M; per MV row and token lane the partial sum times
# the scale; once the controller's stride product, the K and group sizes (times N:M's N)
# and the x fill. The MV multipliers are one block each (8 x 8, or 17 x 8 for a packed
# row pair: ``mults``). No product is shared by Yosys's ``share`` (each SFU multiplier
# is live every cycle; the slot accumulators are selected by compare, with no index
# products), so one rule describes both flows' netlists: checked exact on every
# build (tests/cost_models_tests/test_overlay_resources.py).
SFU_PRODUCTS = ((26, 33), (40, 18), (32, 18), (17, 18))
REQUANT_PRODUCT = (48, 17)
SCALE_PRODUCT = (32, 17)
CONTROL_PRODUCTS = ((25, 17), (17, 6), (17, 6), (17, 17))
DSP_RTL = "e88e5434abf9"  # the RTL revision (sha256 of templates/overlay's Verilog) counted


def dsp_table(flow: str) -> dict[str, float]:
    """DSP blocks per unit of each core feature (``_overlay_resources.units``) on ``flow``."""

    def blocks(products: tuple[tuple[int, int], ...]) -> float:
        return float(sum(mul_dsp(a, b, flow) for a, b in products))

    scale = blocks((SCALE_PRODUCT,))
    return {"one": blocks(CONTROL_PRODUCTS), "mults": 1.0, "sfu": blocks(SFU_PRODUCTS),
            "words": blocks((REQUANT_PRODUCT,)), "rows": scale, "lane_rows": scale}  # fmt: skip
