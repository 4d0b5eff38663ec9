"""The spatial whole-design campaign's points (``spatial_whole_synth``): tiny GPT-2, LLaMA
and BERT shapes, the knobs each point sets over ``BASE``, and the model's instances of a
cached build's row."""

from __future__ import annotations

import json
from typing import Any

from cost_models import ModelShape
from cost_models import _spatial_resources as sr

MAX_POS = 8
SHAPES = {
    "micro-gpt2": ModelShape("micro-gpt2", 32, 2, 2, 2, 16, 64, "gelu", 64, positions="learned"),
    "micro-llama": ModelShape("micro-llama", 32, 2, 2, 1, 16, 64, "swiglu", 64),
    "micro-bert": ModelShape(
        "micro-bert", 32, 2, 2, 2, 16, 64, "gelu", 64, causal=False, positions="learned"
    ),
    # widths that are not powers of two: the RTL's index products by d_model, rows, ...
    # are then real multipliers (``_spatial_dsp.dsp`` counts them per flow)
    # examples/micro-gpt2-ecp5-spatial.yaml's model (the ECP5 release, 20 positions)
    "micro-gpt2-2l": ModelShape(
        "micro-gpt2-2l", 32, 2, 2, 2, 16, 128, "gelu", 64, max_positions=32, positions="rope"
    ),
    "micro-gpt2-48": ModelShape(
        "micro-gpt2-48", 48, 2, 3, 3, 16, 96, "gelu", 80, positions="learned"
    ),
}
BASE = {"quant": "w8a8", "quant_group": 0, "layers_per_fpga": 1, "weight_storage": "onchip"}
BASE |= {"m_qkv": 4, "m_attn": 2, "m_ffn": 8, "fifo_depth": 4, "tile_tokens": 2}
NM = {"sparsity": "nm", "nm_m": 4, "density_ffn": 0.25, "density_qk": 0.25}
# name -> (shape, knobs over BASE): in the order the campaign builds them
POINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "L-base": ("micro-llama", {}),
    "G-c2-w4": ("micro-gpt2", {"layers_per_fpga": 2, "quant": "w4a8", "m_qkv": 8, "m_ffn": 16}),
    "B-small": ("micro-bert", {"m_qkv": 2, "m_attn": 1, "m_ffn": 4, "fifo_depth": 8}),
    "L-nm-c2": ("micro-llama", {**NM, "layers_per_fpga": 2, "m_ffn": 4}),
    "L-nm": ("micro-llama", {**NM, "m_qkv": 8, "m_ffn": 4}),
    "G-w4": ("micro-gpt2", {"quant": "w4a8", "m_attn": 4, "m_ffn": 16, "fifo_depth": 8}),
    "G-stream": ("micro-gpt2", {"weight_storage": "stream"}),
    "L-grp-w4": ("micro-llama", {"quant": "w4a8", "quant_group": 16, "m_qkv": 8}),
    "G-wide": ("micro-gpt2", {"m_qkv": 16, "m_attn": 8, "m_ffn": 32, "tile_tokens": 4}),
    "B-c2-nm": ("micro-bert", {**NM, "layers_per_fpga": 2, "m_qkv": 8, "m_ffn": 16}),
    "L-stream-w4": ("micro-llama", {"weight_storage": "stream", "quant": "w4a8", "m_ffn": 16}),
    "G-deep": ("micro-gpt2", {"fifo_depth": 32, "tile_tokens": 8, "m_attn": 4}),
    "G48": ("micro-gpt2-48", {"m_qkv": 6, "m_ffn": 12, "m_attn": 3}),
    "G-rel": ("micro-gpt2-2l", {"m_qkv": 1, "m_attn": 1, "m_ffn": 1}),
    # a second spread (the issue asks 30 points a flow): every family against each knob
    "L-small": ("micro-llama", {"m_qkv": 2, "m_attn": 1, "m_ffn": 2}),
    "B-base": ("micro-bert", {}),
    "G-base": ("micro-gpt2", {}),
    "L-w4": ("micro-llama", {"quant": "w4a8", "m_attn": 4, "m_ffn": 16}),
    "B-w4": ("micro-bert", {"quant": "w4a8", "m_qkv": 8, "fifo_depth": 16}),
    "G-nm": ("micro-gpt2", {**NM, "m_qkv": 2, "m_ffn": 8}),
    "B-nm": ("micro-bert", {**NM, "m_attn": 4, "m_ffn": 16}),
    "L-stream": ("micro-llama", {"weight_storage": "stream", "m_qkv": 8}),
    "B-stream": ("micro-bert", {"weight_storage": "stream", "m_ffn": 4, "tile_tokens": 4}),
    "G-grp-w4": ("micro-gpt2", {"quant": "w4a8", "quant_group": 16, "m_ffn": 4}),
    "B-grp-w4": ("micro-bert", {"quant": "w4a8", "quant_group": 8, "m_attn": 1}),
    "L-deep": ("micro-llama", {"fifo_depth": 16, "tile_tokens": 4, "m_qkv": 2}),
    "L-wide": ("micro-llama", {"m_qkv": 16, "m_attn": 4, "m_ffn": 16}),
    "B-wide": ("micro-bert", {"m_qkv": 16, "m_attn": 8, "m_ffn": 8, "fifo_depth": 2}),
    "G-nm-w4": ("micro-gpt2", {**NM, "quant": "w4a8", "m_qkv": 8, "m_ffn": 4}),
    "L-nm-w4": ("micro-llama", {**NM, "quant": "w4a8", "m_attn": 1, "m_ffn": 8}),
    "G-stream-w4": ("micro-gpt2", {"weight_storage": "stream", "quant": "w4a8", "m_qkv": 2}),
    "B-c2": ("micro-bert", {"layers_per_fpga": 2, "m_qkv": 2, "m_attn": 1, "m_ffn": 2}),
    # longer KV buffers and position tables than MAX_POS (MAX_POS_OF)
    "L-pos": ("micro-llama", {"m_attn": 4}),
    "B-pos": ("micro-bert", {"m_attn": 1, "m_ffn": 4}),
}
# positions a point's buffers hold where not MAX_POS (the release example's 20)
MAX_POS_OF = {"G-rel": 20, "L-pos": 24, "B-pos": 16}


def knobs_of(name: str) -> dict[str, Any]:
    return {**BASE, **POINTS[name][1]}


def insts_of(row: dict[str, Any]) -> list[sr.Instance]:
    """The model's instances of a cached point (its shape, knobs and max_pos)."""
    return sr.instances(SHAPES[row["shape"]], json.loads(row["knobs"]), int(row["max_pos"]))
