"""Resources of the whole overlay accelerator (``templates/overlay``), unit by unit.

The overlay is one RTL design whose hardware parameters (``MV_K``, ``MV_N``, ``SFU_LANES``,
``BEAT``, ``SPAD``, ...) come from a temporal design point. Its Yosys netlist keeps the
hierarchy (``synth_xilinx`` does not flatten), so a build reports the core, each AXI read
stream and each RAM (``ov_bankram``) separately; this module predicts the same objects:

- ``core``: controller, instruction memory, MV engine (multipliers, row accumulators,
  x-address and N:M decode per lane), SFU lanes, write-back lanes, KV write path and the
  five-port stream mux;
- ``stream_port`` x5: an AXI4 read master's logic (burst issue, skip shifter);
- ``stream_buffer`` x5, ``spad_replica`` x(3 + SFU_LANES), ``x_buffer`` x(MV_K*MV_N, half
  that where W4 weights are packed two to a multiplier):
  banked RAMs (``ov_bankram``): lane-rotation logic plus the memory primitives.

Memory primitives are counted, not fitted: each bank is mapped to LUT RAM or block RAM by
the cheaper of the two under the costs Yosys's ``memory_libmap`` uses for the fabric
(``share/xilinx/lutrams_xcu.txt``, ``brams_xc4v.txt``; ``share/lattice/*16kd*``). LUT and
FF of the logic are linear in structural features of each unit, with coefficients per
flow fitted to real Yosys builds (``benchmarks/resource_model_vs_synth.py --write`` ->
``data/overlay_resources.yaml``). DSPs are counted from the RTL's multipliers (``DSP``),
and checked exact on every build. The platform shell is not part of this model (board data).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cost_models import _overlay_mm_engine as mme
from cost_models._overlay_dsp import DSP_RTL as DSP_RTL
from cost_models._overlay_dsp import dsp_table

Array = np.ndarray
_DATA = Path(__file__).parent / "data" / "overlay_resources.yaml"
FLOWS = ("yosys-xilinx", "yosys-ecp5")
RESOURCES = ("lut", "ff", "dsp", "bram")  # bram: RAMB36 equivalents (Xilinx), EBRs (ECP5)
# Template parameters (manifest point keys) the model reads.
HW_KEYS = (
    "mv_k",
    "mv_n",
    "w_bits",
    "sfu_lanes",
    "beat_bytes",
    "stream_cap",
    "spad_words",
    "imem_words",
    "burst_bytes",
    "overlap",
    "idx_bits",
    "xbuf_words",
    "prefill_slots",
    "mm_lanes",
)
# Keys a point may leave out (builds measured before the batched MV had them): one token
# slot, one token lane.
HW_DEFAULTS = {"prefill_slots": 1, "mm_lanes": 1}
# A separate MM engine's parameters (manifest SEP, MM_K, MM_N, CAP_MM) and their values
# without one: read where a point has them, not part of a measured build's key.
SEP_KEYS = {"mm_engine": 0, "mm_red": 8, "mm_rows": 8, "stream_cap_mm": 0}
# Instruction memory width: 256 bits (IMEM 256 maps to 4 RAMB36 at 512 x 72).
IMEM_BITS = 256
DW_SPAD = 18
UNITS = ("core", "stream_port", "stream_buffer", "spad_replica", "x_buffer", "mm_lanes")


def _clog2(x: Array) -> Array:
    return np.ceil(np.log2(np.maximum(x, 1))).astype(float)


def _pow2(x: Array) -> Array:
    return np.exp2(_clog2(x))


def geometry(p: Mapping[str, Any]) -> dict[str, Array]:
    """The RTL's derived sizes (``localparam``s of overlay_core / ov_rdstream)."""
    g = {k: np.asarray(p[k] if k in p else HW_DEFAULTS[k], dtype=float) for k in HW_KEYS}
    lanes = g["mv_k"] * g["mv_n"]
    sfu = g["sfu_lanes"]
    lnb = np.where(sfu <= 2, 1.0, _clog2(sfu))
    fw = g["w_bits"] + g["idx_bits"]
    tileb = 2 * g["mv_n"] + np.floor((lanes * fw + 7) / 8)
    win = np.maximum(np.maximum(tileb, lanes), 2 * sfu)
    sep = np.asarray(p.get("mm_engine", 0), dtype=float) != 0
    cap = g["stream_cap"]
    tt, mt, xbl = g["prefill_slots"], g["mm_lanes"], g["xbuf_words"] / g["mm_lanes"]
    if np.any(sep):
        # A separate MM engine (SEP = 1, ``SEP_KEYS``): the streams' window and buffers
        # grow to its tile (TILEBM, CAPX); the core keeps one slot and one lane (TTV, MTV),
        # its x buffers XBUF >> (clog2(TT + 1) - 1) words. The MM engine itself:
        # ``_mm_engine_units``.
        e = {k: np.asarray(p.get(k, d), dtype=float) for k, d in SEP_KEYS.items()}
        lm = e["mm_red"] * e["mm_rows"]
        tilebm = np.where(sep, 2 * e["mm_rows"] + np.floor((lm * fw + 7) / 8), 0.0)
        win = np.maximum(np.maximum(np.maximum(tileb, lanes), tilebm), 2 * sfu)
        cap = np.maximum(cap, np.where(sep, e["stream_cap_mm"], 0.0))
        xbl = np.where(sep, g["xbuf_words"] / np.exp2(_clog2(tt + 1) - 1), xbl)
        tt, mt = np.where(sep, 1.0, tt), np.where(sep, 1.0, mt)
    lnbk = _clog2(np.maximum(win, g["beat_bytes"]))
    caw = np.maximum(_clog2(cap), lnbk)
    # DSP packing: W4, dense, even mv_n -> one multiplier per row pair and column
    pack = (g["w_bits"] == 4) & (g["idx_bits"] == 0) & (np.mod(g["mv_n"], 2) == 0)
    return {
        **g,
        "lanes": lanes,
        "pack": pack.astype(float),
        "nb": np.exp2(lnb),
        "lnb": lnb,
        "win": win,
        "nbk": np.exp2(lnbk),
        "lnbk": lnbk,
        "caw": caw,
        "log_beat": _clog2(g["beat_bytes"]),
        "saw": _clog2(g["spad_words"]),
        # token lanes (MM mode): each lane's x buffers hold XBUF / MT words (slots banked
        # by lane); TT token slots of row accumulators
        "tt": tt,
        "mt": mt,
        "xbl": xbl,
        "xaw": _clog2(xbl),
    }


def memory(rows: Array, width: Array, flow: str) -> dict[str, Array]:
    """LUT-RAM cells and block RAMs of one ``rows`` x ``width`` simple dual-port memory:
    whichever of the two costs less under Yosys's libmap costs for the fabric."""
    rows, width = np.asarray(rows, float), np.asarray(width, float)
    if flow == "yosys-xilinx":
        # RAM32M16: 32 x 14, RAM64M8: 64 x 7, cost 16 scaled by the width used; deeper
        # memories are 64-deep tiles. RAMB18 (cost 129) up to 512 x 36, RAMB36 (cost 257)
        # up to 512 x 72 (simple dual port).
        shallow = rows <= 32
        cells = np.where(shallow, np.ceil(width / 14), np.ceil(rows / 64) * np.ceil(width / 7))
        lut_cost = 16 * np.where(shallow, width / 14, np.ceil(rows / 64) * width / 7)
        b18 = _tiles(rows, width, 512 * 36)
        b36 = _tiles(rows, width, 512 * 72)
        use_36 = 257 * b36 <= 129 * b18
        bram_cost = np.minimum(257 * b36, 129 * b18)
        use_bram = bram_cost < lut_cost
        bram = np.where(use_36, b36, b18 / 2)
        return {"lutram": np.where(use_bram, 0, cells), "bram": np.where(use_bram, bram, 0)}
    # ECP5: TRELLIS_DPR16X4 (16 x 4, cost 4) or DP16KD/PDPW16KD (16 Kb, up to 512 x 36,
    # cost 128).
    cells = np.ceil(rows / 16) * np.ceil(width / 4)
    blocks = _tiles(rows, width, 512 * 36)
    use_ebr = 128 * blocks <= 4 * cells  # a tie goes to block RAM (measured: IMEM 64)
    return {"lutram": np.where(use_ebr, 0, cells), "bram": np.where(use_ebr, blocks, 0)}


def _tiles(rows: Array, width: Array, bits: int) -> Array:
    """Block RAMs of ``bits`` (as 512 x bits/512 ... bits x 1, widths 1, 2, 4, 9 multiples)
    a rows x width memory needs in its cheapest aspect ratio."""
    wide = bits // 512
    modes = [(512, wide)] + [(bits // w, w) for w in (wide // 2, 9, 4, 2, 1) if w < wide]
    return np.min([np.ceil(rows / d) * np.ceil(width / w) for d, w in modes], axis=0)


def _bankram(nb: Array, depth: Array, dw: Array, flow: str) -> dict[str, Array]:
    """Features of one ``ov_bankram``: NB banks of depth/NB words, lane rotation logic."""
    mem = memory(depth / nb, dw, flow)
    lnb = _clog2(nb)
    # An NB:1 mux per rotated bit: ceil((NB-1)/3) LUT6 (4:1 per LUT6 plus F7/F8), or NB/2
    # LUT4 on ECP5 (2:1 per LUT4, the slice's PFUMX/L6MUX combine them).
    per_bit = nb / 2 if flow == "yosys-ecp5" else np.ceil((nb - 1) / 3)
    # A LUT-RAM bank deeper than one primitive is tiles of it (64 deep on Xilinx, RAM32M16
    # up to 32; 16 on ECP5) whose read data a (tiles - 1)-input mux chain selects.
    rows = depth / nb
    tiles = (
        np.ceil(rows / 16) if flow == "yosys-ecp5" else np.where(rows <= 32, 1, np.ceil(rows / 64))
    )
    return {
        "mux": nb * dw * per_bit,  # read lanes from banks and write data into banks
        # the same rotations as Yosys builds them at wide NB: a log shifter, LNB mux2
        # stages per rotated bit (measured: NBK 64 stream buffers are 4.6 k LUT3 + 1.1 k
        # LUT5 per instance, 6.1 k LUT, where NB:1 muxes per bit would be 10.8 k)
        "rot": nb * dw * lnb,
        "addr_bits": nb * _clog2(depth),  # per-bank read/write address adders
        "tile_mux": nb * dw * (tiles - 1) * (mem["lutram"] > 0),
        "lutram": nb * mem["lutram"],
        "bram": nb * mem["bram"],
        # the banks' read registers (block RAM absorbs them into its output register)
        "q_bits": nb * dw * (mem["bram"] == 0),
        "lnb": lnb,  # the registered low read address
    }


def units(
    p: Mapping[str, Any], flow: str, g: Mapping[str, Array] | None = None
) -> dict[str, tuple[Array, dict[str, Array]]]:
    """Unit -> (instances, features of one instance) of the overlay at template point ``p``
    (``g``: its ``geometry``, if already computed)."""
    g = geometry(p) if g is None else g
    one = np.ones_like(g["lanes"])
    mul = g["lanes"] / (1 + g["pack"])  # multipliers of a token lane (a packed pair shares one)
    imem = memory(g["imem_words"], IMEM_BITS * one, flow)
    core = {
        "one": one,
        "lanes": g["lanes"],  # product, live gating, dot adders
        "mults": mul,  # MV multipliers
        "pack_pairs": g["pack"] * g["lanes"] / 2,  # packed pairs' pre-add and product split
        "lane_addr": g["lanes"] * g["xaw"],  # per-lane x-buffer read address
        "decode": g["lanes"] * g["idx_bits"],  # N:M index fields and their column adders
        "rows": g["mv_n"],  # 48-bit row accumulators and scales
        "sfu": g["sfu_lanes"],  # element-wise datapath per lane
        "wb": np.minimum(g["nb"], g["mv_n"]),  # write-back lanes with a row to requantise
        "words": g["nb"],  # scratchpad word lanes: operand, result and write registers
        "win_bits": 8 * g["win"],  # the five-port stream mux the engine reads
        "beat_bits": 8 * g["beat_bytes"],  # KV write data and strobes
        # The accumulators' slots (overlay_core.v, stage s2 and the write-back): each of
        # the MT*MV_N row updates selects its slot's 48-bit accumulator and 32-bit partial
        # sum by compare, a TT-way select (a mux tree, log2 TT deep: the linear (TT - 1)
        # form, fitted on TT <= 4, over-predicted the TT 8 SEP build by 11 %), and writes
        # back under the same compare.
        "acc_mux": 80 * np.log2(g["tt"]) * g["mt"] * g["mv_n"],
        # Batched MV (TT token slots, MT token lanes): each slot has its own 48-bit row
        # accumulators and 32-bit partial sums; every lane has its own 32 x 16 scale
        # product per row (``lane_rows``).
        "slot_bits": 80 * (g["tt"] - 1) * g["mv_n"],
        "lane_rows": (g["mt"] - 1) * g["mv_n"],
        "lutram": imem["lutram"],
        "bram": imem["bram"],
    }
    # ov_mm_lanes (MT > 1): lanes 1..MT-1's multipliers and registered products, 16 bits
    # each, or 26 a packed pair (its two 13-bit halves: Yosys merges the sign copies; the
    # K2xN8 W4 TT2 MT2 builds, 208 FF at 16 products)
    extra = g["mt"] - 1
    mults = extra * mul
    lanes = {
        "lanes": extra * g["lanes"],
        "mults": mults,
        "prod_bits": mults * (16 + 10 * g["pack"]),
        "lutram": 0 * one,
        "bram": 0 * one,
    }
    # x buffers of token lanes 1..MT-1: ov_mm_lanes instantiates one per lane and multiplier
    # slot, L, also the odd rows' of packed pairs, which nothing reads; a hierarchical
    # netlist keeps them (synth_xilinx: 24 at K2xN8 W4 TT2 MT2, 8 of them the core's), a
    # flat one drops them as the core's (synth_ecp5)
    lane_x = g["lanes"] if flow == "yosys-xilinx" else mul
    stream = {
        "one": one,
        "shift_bits": 8 * g["beat_bytes"] * g["log_beat"],  # first-beat skip shifter
        "caw": g["caw"],  # head/tail pointers and counts
        # registers that scale: head and tail (CAW each), the burst queue's first-beat skips
        # (8 x (log2 BEAT + 1)) less araddr's always-zero low bits (log2 BEAT)
        "ptr_regs": 2 * g["caw"] + 7 * g["log_beat"],
        "lutram": 0 * one,
        "bram": 0 * one,
    }
    return {
        "core": (one, core),
        "stream_port": (5 * one, stream),
        "stream_buffer": (5 * one, _bankram(g["nbk"], np.exp2(g["caw"]), 8 * one, flow)),
        "spad_replica": (
            3 + g["sfu_lanes"],
            _bankram(g["nb"], g["spad_words"], DW_SPAD * one, flow),
        ),
        # one per multiplier and token lane (a packed pair reads one x; the odd row's buffer
        # has no reader: see lane_x)
        "x_buffer": (
            mul + (g["mt"] - 1) * lane_x,
            _bankram(g["nb"], g["xbl"], 8 * one, flow),
        ),
        "mm_lanes": ((g["mt"] > 1).astype(float), lanes),
    }


# Features whose coefficient is structural, not fitted: a LUT-RAM cell counts as one LUT
# (the convention of the measured counts), block RAMs are the BRAM figure.
# A RAM's flip-flops are its read registers and registered address bits, one each.
FIXED = {
    "lut": {"lutram": 1.0},
    "ff": {"q_bits": 1.0, "lnb": 1.0, "ptr_regs": 1.0, "slot_bits": 1.0, "prod_bits": 1.0},
    "bram": {"bram": 1.0},
}
# DSP blocks of the core (structural, not fitted): ``_overlay_dsp``
DSP = {flow: dsp_table(flow) for flow in FLOWS}


def _weight(unit: str, r: str, name: str, flow: str, c: Mapping[str, Any]) -> float:
    """A feature's coefficient: structural where the RTL fixes it, else fitted."""
    if name in FIXED.get(r, {}):
        return FIXED[r][name]
    if r == "dsp":
        if unit == "mm_lanes":
            return 1.0 if name == "mults" else 0.0
        return DSP[flow].get(name, 0.0) if unit == "core" else 0.0
    return float(c.get(unit, {}).get(r, {}).get(name, 0.0))


def predict_units(
    p: Mapping[str, Any], flow: str, coef: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Array]]:
    """Unit -> resource -> total over its instances (arrays like the point's values)."""
    c = coefficients(flow) if coef is None else coef
    out: dict[str, dict[str, Array]] = {}
    g = geometry(p)
    for unit, (n, feats) in units(p, flow, g).items():
        res: dict[str, Array] = {}
        for r in RESOURCES:
            total = 0.0 * n
            for name, value in feats.items():
                total = total + _weight(unit, r, name, flow, c) * value
            res[r] = n * total
        out[unit] = res
    if np.any(np.asarray(p.get("mm_engine", 0), dtype=float) != 0):
        out.update(_mm_engine_units(p, g, flow, c))
    return out


def _mm_engine_units(
    p: Mapping[str, Any], g: Mapping[str, Array], flow: str, c: Mapping[str, Any]
) -> dict[str, dict[str, Array]]:
    """A separate MM engine (``cost_models/_overlay_mm_engine.py``) and its x buffers: one
    ``ov_bankram`` per multiplier and token lane, XBUF / MT words, at the x buffers' costs."""
    e = mme.engine_geometry(p, g)
    n = e["sep"] * e["mt"] * e["lanes"] / (1 + e["pack"])
    feats = _bankram(g["nb"], e["xbl"], 8 * np.ones_like(n), flow)
    xbuf = {
        r: n * sum((_weight("x_buffer", r, k, flow, c) * v for k, v in feats.items()), 0.0 * n)
        for r in RESOURCES
    }
    return {"mm_engine": mme.engine_resources(p, g, c), "mm_x_buffer": xbuf}


def predict(
    p: Mapping[str, Any], flow: str, coef: Mapping[str, Any] | None = None
) -> dict[str, Array]:
    """Whole-design LUT / FF / DSP / BRAM of the overlay at template point ``p``."""
    per = predict_units(p, flow, coef)
    return {r: sum((u[r] for u in per.values()), start=np.zeros(())) for r in RESOURCES}


@cache
def _doc() -> dict[str, Any]:
    if not _DATA.exists():
        return {}
    return dict(yaml.safe_load(_DATA.read_text(encoding="utf-8")) or {})


def _all_coefficients() -> dict[str, Any]:
    return dict(_doc().get("flows") or {})


def fitted_rtl() -> str:
    """The RTL revision (sha256 of templates/overlay's Verilog, 12 hex) the fit is of."""
    return str(_doc().get("rtl") or "")


def coefficients(flow: str) -> dict[str, Any]:
    """Fitted coefficients of ``flow`` (unit -> resource -> feature -> weight); {} if none."""
    return dict(_all_coefficients().get(flow) or {})


def fitted_flows() -> tuple[str, ...]:
    return tuple(f for f in FLOWS if coefficients(f))


# The core's features by the unit of the design they stand for (the core is one module,
# so these are the model's split of it; the other units are modules of their own).
CORE_PARTS = {
    "controller": ("one",),
    "instruction_memory": ("lutram", "bram"),
    "mv_engine": ("lanes", "mults", "pack_pairs", "lane_addr", "rows"),
    "sparse_decode": ("decode",),
    "sfu": ("sfu", "wb", "words"),  # element-wise lanes, write-back (requant)
    "stream_mux": ("win_bits",),
    "kv_write": ("beat_bits",),
    "batched_mv": ("acc_mux", "slot_bits", "lane_rows"),  # token slots and lanes
}


def breakdown(
    p: Mapping[str, Any], flow: str, coef: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Array]]:
    """Part -> resource -> amount: the core split by feature, then the other units."""
    c = coefficients(flow) if coef is None else coef
    n_core, core = units(p, flow)["core"]
    out: dict[str, dict[str, Array]] = {}
    for part, names in CORE_PARTS.items():
        out[part] = {}
        for r in RESOURCES:
            w = {f: _weight("core", r, f, flow, c) for f in names}
            out[part][r] = n_core * sum((w[f] * core[f] for f in names), start=np.zeros(()))
    per = predict_units(p, flow, c)
    for unit, res in per.items():  # the other units (and a separate MM engine's)
        if unit != "core":
            out[unit] = res
    return out
