"""A temporal design point as the overlay template builds it (templates/overlay/manifest.yaml).

``dse build``, the sweep's build rung and ``dse promote`` resolve a temporal point through the
manifest (its ``derive`` rules, ranges and defaults) into the generated accelerator's
parameters. ``template_point`` computes the same parameters, vectorised over design points;
``overlay_knobs`` and ``template_accepts`` say which points the overlay (its fixed knobs,
``overlay/config.py``) and the manifest (its ranges) build at all. The resource model then
predicts exactly the accelerator a build of the point generates;
``tests/cost_models_tests/test_overlay_resources.py`` checks the mapping against the
manifest's own resolution. A study sizes the memories (SPAD, IMEM, XBUF) for its workload's
program (``_overlay_program.point_words``): the build of its point gets the same values as
explicit keys (``dse.buildspec``), so both hold the program the study is scored on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Array = np.ndarray
# The template's defaults for what a temporal design point does not set (manifest
# ``parameters`` defaults): a point without its workload's ``words`` builds these memories.
TEMPLATE_DEFAULTS = {"spad_words": 1024, "imem_words": 256, "burst_bytes": 256}
OVERLAY_QUANTS = ("w8a8", "w4a8")  # what the overlay hardware builds (overlay/config.py)
# Other knobs overlay/config.py refuses a build for unless they have these values.
# (group_ports 0: one memory master per tensor group)
OVERLAY_FIXED = {"kv_bits": 8, "cores": 1, "tp": 1, "pp": 1, "attn_macs": 0, "group_ports": 0}
FLOW_OF_DSP_KIND = {"dsp48e2": "yosys-xilinx", "mult18x18d": "yosys-ecp5"}
# The manifest's ranges: MV_K, MV_N, SFU_LANES, MM_K, MM_N at most 64; TT (token slots)
# 1..8; MT (token lanes) 1, 2 or 4 dividing TT; BEAT 4..64 bytes.
MAX_LANES = 64
MAX_SLOTS = 8
MM_LANES = (1, 2, 4)
BEATS = (4, 8, 16, 32, 64)


def _arr(p: Mapping[str, Any], key: str, default: float) -> Array:
    return np.asarray(p.get(key, default), dtype=float)


def template_point(
    p: Mapping[str, Any], w_bits: float, words: Mapping[str, Array] | None = None
) -> dict[str, Array]:
    """The overlay's template parameters (``_overlay_resources`` keys) at temporal design
    points ``p`` (arrays), as the manifest's ``derive`` section computes them for a build;
    ``words``: the workload's ``spad_words``, ``imem_words`` and ``xbuf_words``
    (``_overlay_program.point_words``, what a study's build is given), else the manifest's
    defaults and its x-buffer rule."""
    mv_k, mv_n = _arr(p, "mv_k", 8), _arr(p, "mv_n", 8)
    sfu = _arr(p, "sfu_lanes", 4)
    beat = np.floor(_arr(p, "axi_port_bits", 128) / 8)
    pop = np.maximum(np.maximum(mv_n * 2 + np.floor(mv_n * mv_k * 12 / 8), mv_k * mv_n), sfu * 2)
    serial = _arr(p, "prefill_serial", 0) != 0
    tile = _arr(p, "tile_tokens", 1)
    # a separate MM engine where the point has one (unified_engine false, batched prefill)
    sep = (_arr(p, "unified_engine", 1) == 0) & ~serial
    mm_k, mm_n = _arr(p, "mm_k", 8), _arr(p, "mm_n", 8)
    cap_mm = 2 * (mm_n * 2 + np.floor(mm_n * mm_k * 12 / 8)) + beat * 56 + 256
    one = np.ones_like(mv_k * beat * tile * mm_k * mm_n)
    return {
        "mv_k": mv_k * one,
        "mv_n": mv_n * one,
        "w_bits": w_bits * one,
        "sfu_lanes": sfu * one,
        "beat_bytes": beat * one,
        "stream_cap": (2 * pop + beat * 56 + 256) * one,
        "overlap": _arr(p, "overlap", 1) * one,
        "idx_bits": np.where(_arr(p, "sparsity", 0) == 0, 0.0, 4.0) * one,
        **{k: v * one for k, v in TEMPLATE_DEFAULTS.items()},
        # serial prefill has no MM mode: one slot, one lane
        "prefill_slots": np.where(serial, 1.0, tile) * one,
        "mm_lanes": np.where(serial, 1.0, _arr(p, "mm_t", 1)) * one,
        # at least 256 words a slot, a power of two
        "xbuf_words": np.where(serial | (tile <= 4), 1024.0, 2048.0) * one,
        **({k: np.asarray(v, dtype=float) * one for k, v in words.items()} if words else {}),
        "mm_engine": sep.astype(float) * one,
        "mm_red": np.where(sep, mm_k, 8.0) * one,
        "mm_rows": np.where(sep, mm_n, 8.0) * one,
        "stream_cap_mm": np.where(sep, cap_mm, 0.0) * one,
    }


def overlay_knobs(p: Mapping[str, Any], quant_ok: Array) -> Array:
    """Points whose fixed knobs the overlay has (``quant_ok``: a precision it builds; one
    core, no tensor or pipeline split, no separate attention engine, activations on chip)."""
    ok = np.asarray(quant_ok, bool)
    for key, want in OVERLAY_FIXED.items():
        if key in p:
            ok = ok & (np.asarray(p[key]) == want)
    if "act_onchip" in p:
        ok = ok & (np.asarray(p["act_onchip"]) != 0)
    return ok


def template_accepts(hw: Mapping[str, Array]) -> Array:
    """Template points (``template_point``) within the manifest's ranges and constraints:
    a build of any other is refused before a tool runs."""
    tt, mt = hw["prefill_slots"], hw["mm_lanes"]
    ok = np.mod(hw["mv_k"] * hw["mv_n"], 8) == 0
    for lanes in (hw["mv_k"], hw["mv_n"], hw["sfu_lanes"]):
        ok = ok & (lanes >= 1) & (lanes <= MAX_LANES)
    ok = ok & np.isin(hw["beat_bytes"], BEATS)
    ok = ok & (tt >= 1) & (tt <= MAX_SLOTS) & np.isin(mt, MM_LANES) & (np.mod(tt, mt) == 0)
    mm = (hw["mm_red"] >= 1) & (hw["mm_red"] <= MAX_LANES)
    mm = mm & (hw["mm_rows"] >= 1) & (hw["mm_rows"] <= MAX_LANES)
    mm = mm & (np.mod(hw["mm_red"] * hw["mm_rows"], 8) == 0)
    return ok & ((hw["mm_engine"] == 0) | mm)
