"""Design-point parameters: their names, types, ranges and defaults, per architecture.

A design point is a flat ``dict[str, scalar]`` of these parameters; ``_point_columns``
checks and normalises points against the :class:`Param` specs :func:`param_specs` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models._errors import InputError, did_you_mean

QUANTS = ("fp16", "w8a16", "w4a16", "w8a8", "w4a8")
# weight bits, activation bits, activations are FP16
QUANT_W_BITS = np.array([16, 8, 4, 8, 4], dtype=np.float64)
QUANT_A_BITS = np.array([16, 16, 16, 8, 8], dtype=np.float64)
SPARSITY_KINDS = ("none", "nm", "log")
PLACEMENTS = ("local", "global")
WEIGHT_STORAGE = ("auto", "onchip", "stream")
PREFETCH = ("rows", "tile")  # how far ahead a streamed GEMV fetches its weights (spatial)
MEMS = ("uram", "bram")
PORT_CLOCKS = ("memory", "kernel")
GROUP_PORTS = ("group", "channel")  # memory masters of a tensor group (temporal)
GROUPS = ("wqkv", "wo", "wffn", "kv", "act")  # tensor groups mapped to memory channels


@dataclass(frozen=True)
class Param:
    """One design-point parameter. ``default`` may be a callable of the platform."""

    name: str
    kind: str  # "int" | "float" | "bool" | "cat"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    doc: str = ""

    def expected(self) -> str:
        if self.kind == "cat":
            return f"one of {', '.join(self.choices)}"
        if self.kind == "bool":
            return "true or false"
        hi = "∞" if self.high is None else f"{self.high:g}"
        return f"{'an integer' if self.kind == 'int' else 'a number'} in [{self.low:g}, {hi}]"


def _common(platform: Any) -> list[Param]:
    ch = platform.memory.channels
    weights_ch = max(1, ch - max(1, ch // 8) - 1) if ch > 2 else 1
    return [
        Param(
            "freq_mhz",
            "float",
            10,
            platform.clock_max_mhz,
            default=platform.clock_default_mhz,
            doc="kernel clock target",
        ),
        Param("quant", "cat", choices=QUANTS, doc="weight × activation precision"),
        Param("kv_bits", "int", 4, 16, doc="KV-cache precision (default: activation bits)"),
        Param(
            "quant_group",
            "int",
            0,
            1 << 20,
            default=128,
            doc="weights per FP16 scale (0 = per-channel scales, negligible)",
        ),
        Param(
            "sparsity",
            "cat",
            choices=SPARSITY_KINDS,
            default="none",
            doc="weight sparsity structure: N:M or log-scale structured",
        ),
        Param("nm_m", "int", 2, 64, default=16, doc="group size M of N:M sparsity"),
        Param("density_qk", "float", 0.01, 1, default=1.0, doc="kept fraction of Wq, Wk"),
        Param("density_vo", "float", 0.01, 1, default=1.0, doc="kept fraction of Wv, Wo"),
        Param("density_ffn", "float", 0.01, 1, default=1.0, doc="kept fraction of FFN weights"),
        Param("hbm_ch_wqkv", "int", 1, ch, default=weights_ch, doc="channels for Wq, Wk, Wv"),
        Param("hbm_ch_wo", "int", 1, ch, default=weights_ch, doc="channels for Wo"),
        Param("hbm_ch_wffn", "int", 1, ch, default=weights_ch, doc="channels for FFN + LM head"),
        Param("hbm_ch_kv", "int", 1, ch, default=max(1, ch // 8), doc="channels for KV cache"),
        Param("hbm_ch_act", "int", 1, ch, default=1, doc="channels for activations"),
        Param(
            "hbm_placement",
            "cat",
            choices=PLACEMENTS,
            default="local",
            doc="local: each port owns its channels; global: ports reach all via the switch",
        ),
        Param("axi_port_bits", "int", 32, 1024, default=512, doc="width of each memory port"),
        Param(
            "port_clock",
            "cat",
            choices=PORT_CLOCKS,
            default="kernel",
            doc="memory ports run at the kernel clock, axi_port_bits wide (kernel: what a "
            "Vitis HLS m_axi port does), or at the memory's own clock behind a clock "
            "crossing and width converter the design pays for (memory)",
        ),
        Param("tp", "int", 1, 64, default=1, doc="tensor-parallel FPGAs"),
        Param("pp", "int", 1, 64, default=1, doc="pipeline-parallel FPGAs"),
        Param(
            "host_overhead_us",
            "float",
            0,
            1e6,
            default=0.0,
            doc="host work per generated token (sampling, embedding, CPU ops)",
        ),
    ]


def spatial_params(platform: Any) -> list[Param]:
    mem = "uram" if platform.resources.uram > 0 else "bram"
    return [
        *_common(platform),
        Param(
            "m_qkv",
            "int",
            1,
            1 << 20,
            default=256,
            doc="MACs/cycle of each of Wq, Wo (Wk, Wv scaled by d_kv/d_q)",
        ),
        Param("m_attn", "int", 1, 1 << 20, default=64, doc="MACs/cycle of each attention matmul"),
        Param("m_ffn", "int", 1, 1 << 20, default=512, doc="MACs/cycle of each FFN matrix"),
        Param("layers_per_fpga", "int", 1, 1024, default=2, doc="C: layers resident per FPGA"),
        Param("weight_storage", "cat", choices=WEIGHT_STORAGE, default="auto"),
        Param(
            "weight_prefetch",
            "cat",
            choices=PREFETCH,
            default="rows",
            doc="streamed weights: two rows buffered, so a token's stages fetch in turn on "
            "its path (rows: what templates/spatial_rtl builds), or each kernel fetches its "
            "next tile's weights while it computes, off the path (tile: seed A's model)",
        ),
        Param("weight_mem", "cat", choices=MEMS, default=mem),
        Param("kv_mem", "cat", choices=MEMS, default=mem),
        Param(
            "tile_tokens",
            "int",
            1,
            1 << 16,
            default=64,
            doc="tokens that reuse one streamed weight tile in prefill",
        ),
        Param("fifo_depth", "int", 2, 1 << 16, default=32),
        Param(
            "dsp_pack",
            "bool",
            default=True,
            doc="two weights of one activation per multiplier (W4 on 18x18, W4/W8 on "
            "DSP48E2): a dense on-chip GEMV issues rows in pairs, half the multipliers for "
            "some registers; off: one product per multiplier",
        ),
    ]


def temporal_params(platform: Any) -> list[Param]:
    return [
        *_common(platform),
        Param(
            "cores",
            "int",
            1,
            64,
            default=len(platform.slrs),
            doc="engine instances (default: one per SLR)",
        ),
        Param("mm_t", "int", 1, 4096, default=2, doc="matrix-matrix mode: tokens in parallel"),
        Param("mm_k", "int", 1, 4096, default=16, doc="matrix-matrix mode: reduction lanes"),
        Param("mm_n", "int", 1, 4096, default=128, doc="matrix-matrix mode: output columns"),
        Param("mv_k", "int", 1, 4096, default=16, doc="matrix-vector mode: reduction lanes"),
        Param("mv_n", "int", 1, 4096, default=64, doc="matrix-vector mode: output rows"),
        Param(
            "unified_engine",
            "bool",
            default=True,
            doc="MM and MV modes share multipliers (FlightLLM) instead of two engines",
        ),
        Param(
            "attn_macs",
            "int",
            0,
            1 << 20,
            default=0,
            doc="MACs/cycle of a separate FP16 attention engine (0: use the main engine)",
        ),
        Param("sfu_lanes", "int", 1, 4096, default=16, doc="non-linear unit elements/cycle"),
        Param(
            "group_ports",
            "cat",
            choices=GROUP_PORTS,
            default="group",
            doc="memory masters of a tensor group: one, a beat a cycle at most (group: what "
            "templates/overlay builds), or one per channel it spans (channel: DFX, "
            "FlightLLM, EdgeLLM)",
        ),
        Param("overlap", "bool", default=True, doc="weight loads overlap compute"),
        Param(
            "tile_tokens",
            "int",
            1,
            1 << 16,
            default=128,
            doc="tokens that reuse one loaded weight tile in prefill",
        ),
        Param(
            "layer_overhead_cycles",
            "int",
            0,
            1 << 24,
            default=0,
            doc="extra fixed cycles per layer (barriers a design adds) beyond the modelled "
            "instruction dispatch, stream start-up and serial SFU steps",
        ),
        Param(
            "act_onchip",
            "bool",
            default=True,
            doc="activations stay on chip (FlightLLM's always-on-chip decode)",
        ),
        Param(
            "prefill_serial",
            "bool",
            default=False,
            doc="prompt tokens run one at a time as generation steps, LM head included (DFX)",
        ),
    ]


ARCH_PARAMS = {"spatial": spatial_params, "temporal": temporal_params}
ARCH_DEFAULT_QUANT = {"spatial": "w8a8", "temporal": "w4a16"}


def param_specs(arch: str, platform: Any) -> dict[str, Param]:
    if arch not in ARCH_PARAMS:
        raise InputError(
            "arch",
            "arch",
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCH_PARAMS)}",
            did_you_mean(arch, ARCH_PARAMS),
        )
    specs = {p.name: p for p in ARCH_PARAMS[arch](platform)}
    return specs
