"""The separate MM engine (``ov_mm_engine``, SEP = 1) as a unit of the whole-overlay model.

The engine is the MV engine's datapath again at its own size (MM_K x MM_N multipliers, MT
token lanes, TT token slots): a tile decoder (``ov_tile_dec``), the lanes' multipliers and
products (``ov_mm_lanes``, all MT lanes), group scales, TT x MM_N slot accumulators and
the write-back lanes. Its x buffers are ``ov_bankram``s, counted with the core's in the
``x_buffer`` unit. LUTs take the core's fitted per-feature costs (the same RTL constructs:
``acc_mux`` for the slot accumulators, ``lanes`` and ``decode`` per multiplier
lane, the token lanes' ``mm_lanes`` cost); flip-flops and DSP blocks are counted from the
RTL (templates/overlay/ov_mm_engine.v; traced at RTL 344d0f98cc1e on Xilinx builds of SEP
points by the DSP48E2 cells' source lines, less the slot index products RTL e88e5434abf9
removed). Nothing here is fitted to SEP builds:
``benchmarks/overlay_sep_synth.py`` compares the whole design with every one, held out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cost_models._mul2dsp import mul_dsp
from cost_models._overlay_dsp import SCALE_PRODUCT

Array = np.ndarray


def engine_geometry(p: Mapping[str, Any], g: Mapping[str, Array]) -> dict[str, Array]:
    """The engine's sizes at template point ``p`` (``g``: the overlay's ``geometry``)."""
    sep = (np.asarray(p.get("mm_engine", 0), dtype=float) != 0).astype(float)
    k = np.asarray(p.get("mm_red", 8), dtype=float)
    n = np.asarray(p.get("mm_rows", 8), dtype=float)
    tt = np.asarray(p.get("prefill_slots", 1), dtype=float)
    mt = np.asarray(p.get("mm_lanes", 1), dtype=float)
    pack = (g["w_bits"] == 4) & (g["idx_bits"] == 0) & (np.mod(n, 2) == 0)
    return {"sep": sep, "k": k, "n": n, "lanes": k * n, "tt": tt, "mt": mt,
            "pack": pack.astype(float), "xbl": g["xbuf_words"] / mt}  # fmt: skip


def engine_features(e: Mapping[str, Array], idx_bits: Array) -> dict[str, Array]:
    """Features of one engine: names shared with the core's where the RTL is the same."""
    lanes, n, tt, mt = e["lanes"], e["n"], e["tt"], e["mt"]
    mults = mt * lanes / (1 + e["pack"])
    return {
        "lanes": lanes,  # tile decode, live gating (lane 0's share of the core's cost)
        "decode": lanes * idx_bits,  # N:M index fields
        "acc_mux": 80 * np.log2(tt) * mt * n,  # the slot select per lane and row (core's)
        "lane_mults": (mt - 1) * lanes,  # token lanes past the first (``mm_lanes``' cost)
        # DSP blocks: the multipliers, per lane and row the core's scale product (its Xilinx
        # blocks: the engine's ECP5 count is unmeasured)
        "dsp_mults": mults,
        "dsp_scale": mul_dsp(*SCALE_PRODUCT, "yosys-xilinx") * mt * n,
        # and in the core: the tile's bytes, (engine ? MM_K * MM_N : MV_K * MV_N) * field
        # bits, a product once the engine makes its operand a run-time choice
        "dsp_core": np.ones_like(lanes),
        # registers: the tile's weights (8 bits) and live bits, three scale banks, the TT
        # slots' 48-bit accumulators and 32-bit partial sums (less 64 bits Yosys drops),
        # every multiplier's registered product (16 bits; a packed pair's 26)
        "ff_bits": 9 * lanes + 48 * n + 80 * tt * n - 64 + mults * (16 + 10 * e["pack"]),
    }


# Which of the core's fitted LUT coefficients each engine feature takes (unit, feature).
SHARED_LUT = {
    "lanes": ("core", "lanes"),
    "decode": ("core", "decode"),
    "acc_mux": ("core", "acc_mux"),
    "lane_mults": ("mm_lanes", "lanes"),
}
DSP_FEATURES = ("dsp_mults", "dsp_scale", "dsp_core")


def engine_resources(
    p: Mapping[str, Any], g: Mapping[str, Array], coef: Mapping[str, Any]
) -> dict[str, Array]:
    """LUT, FF, DSP and BRAM of the engine (zero where the point has none); ``coef``: the
    flow's fitted coefficients (unit -> resource -> feature)."""
    e = engine_geometry(p, g)
    f = engine_features(e, g["idx_bits"])
    lut = sum(
        float(coef.get(unit, {}).get("lut", {}).get(name, 0.0)) * f[feat]
        for feat, (unit, name) in SHARED_LUT.items()
    )
    dsp = sum(f[k] for k in DSP_FEATURES)
    return {
        "lut": e["sep"] * lut,
        "ff": e["sep"] * f["ff_bits"],
        "dsp": e["sep"] * dsp,
        "bram": 0.0 * e["sep"],
    }
