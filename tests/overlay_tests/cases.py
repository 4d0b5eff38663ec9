"""Tiny model shapes and design points the overlay tests share (3 families × 4 points)."""

from __future__ import annotations

from typing import Any

import numpy as np

from overlay.flow import TINY_SHAPES

SHAPES = {
    "gpt2": TINY_SHAPES["tiny-gpt2"],
    "llama-gqa": TINY_SHAPES["tiny-llama"],
    "chatglm-mqa": TINY_SHAPES["tiny-chatglm"],
}
POINTS = {
    "dense-w8": {"quant": "w8a8", "quant_group": 0, "mv_k": 8, "mv_n": 8, "overlap": True},
    "dense-w4-p64": {
        "quant": "w4a8",
        "quant_group": 32,
        "mv_k": 4,
        "mv_n": 16,
        "axi_port_bits": 64,
        "overlap": False,
    },
    "nm-w4": {
        "quant": "w4a8",
        "quant_group": 32,
        "sparsity": "nm",
        "nm_m": 4,
        "density_qk": 0.25,
        "density_ffn": 0.5,
        "mv_k": 8,
        "mv_n": 4,
        "axi_port_bits": 128,
    },
    "log-w4-p256": {
        "quant": "w4a8",
        "quant_group": 64,
        "sparsity": "log",
        "density_vo": 0.5,
        "density_ffn": 0.25,
        "mv_k": 16,
        "mv_n": 8,
        "axi_port_bits": 256,
        "sfu_lanes": 8,
    },
}
CASES = [(s, p) for s in SHAPES for p in POINTS]


def residual_mismatches(xs: list[Any], family: str, traces: list[dict]) -> list[int]:
    """Steps whose last-layer residual (``xs``, one per step from the simulation) differs
    from the reference's trace of the same step."""
    last = f"l{SHAPES[family].n_layers - 1}.x"
    assert len(xs) == len(traces)
    return [
        i for i, (x, t) in enumerate(zip(xs, traces, strict=True)) if not np.array_equal(x, t[last])
    ]
