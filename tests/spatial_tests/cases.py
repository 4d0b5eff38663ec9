"""Tiny shapes and spatial design points the spatial tests share (2 families × 4 points)."""

from __future__ import annotations

from overlay.flow import TINY_SHAPES

SHAPES = {"gpt2": TINY_SHAPES["tiny-gpt2"], "llama-gqa": TINY_SHAPES["tiny-llama"]}
# C = 1 and C = N (the tiny models have N = 2), on-chip and streamed, dense and N:M, W8 and W4.
POINTS = {
    "c2-onchip-dense-w8": {
        "quant": "w8a8",
        "quant_group": 0,
        "layers_per_fpga": 2,
        "weight_storage": "onchip",
        "m_qkv": 16,
        "m_attn": 8,
        "m_ffn": 32,
        "fifo_depth": 8,
        "tile_tokens": 64,
    },
    "c1-stream-dense-w4": {
        "quant": "w4a8",
        "quant_group": 32,
        "layers_per_fpga": 1,
        "weight_storage": "stream",
        "m_qkv": 8,
        "m_attn": 4,
        "m_ffn": 16,
        "tile_tokens": 3,
    },
    "c2-stream-nm-w8": {
        "quant": "w8a8",
        "quant_group": 0,
        "sparsity": "nm",
        "nm_m": 4,
        "density_ffn": 0.5,
        "layers_per_fpga": 2,
        "weight_storage": "stream",
        "tile_tokens": 2,
    },
    "c1-onchip-nm-w4": {
        "quant": "w4a8",
        "quant_group": 16,
        "sparsity": "nm",
        "nm_m": 8,
        "density_qk": 0.5,
        "density_ffn": 0.25,
        "layers_per_fpga": 1,
        "weight_storage": "onchip",
        "m_ffn": 64,
    },
}
CASES = [(s, p) for s in SHAPES for p in POINTS]
PROMPT_LEN = 5
N_NEW = 9  # the prefill's token plus 8 decode steps
MAX_POS = 16
