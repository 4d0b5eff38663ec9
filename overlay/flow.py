"""One call from (shape, design point) to everything a simulation needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models import ModelShape
from overlay.compiler import Compiled, compile_model
from overlay.config import OverlayConfig, check_shape, overlay_config
from overlay.model import make_float_model
from overlay.reference import QuantModel, quantise_model

# Tiny models of the three families the sim rung runs (random weights, seeded).
TINY_SHAPES = {
    "tiny-gpt2": ModelShape("tiny-gpt2", 64, 2, 4, 4, 16, 256, "gelu", 128),
    "tiny-llama": ModelShape("tiny-llama", 64, 2, 4, 2, 16, 128, "swiglu", 128),
    "tiny-chatglm": ModelShape("tiny-chatglm", 64, 2, 4, 1, 16, 128, "swiglu", 128),
}


@dataclass
class Prepared:
    cfg: OverlayConfig
    qm: QuantModel
    comp: Compiled
    prompt: list[int]


def default_prompt(shape: ModelShape, length: int = 4, seed: int = 7) -> list[int]:
    return [int(t) for t in np.random.default_rng(seed).integers(0, shape.vocab, length)]


def prepare(
    shape: ModelShape,
    point: Mapping[str, Any],
    seed: int = 0,
    max_pos: int = 32,
    prompt: list[int] | None = None,
) -> Prepared:
    """Validate, make seeded random weights, quantise (calibrated on the prompt), compile."""
    cfg = overlay_config(point)
    check_shape(shape, cfg, max_pos)
    prompt = prompt if prompt is not None else default_prompt(shape)
    qm = quantise_model(make_float_model(shape, seed, max_pos), cfg.quant_spec(), prompt)
    return Prepared(cfg, qm, compile_model(qm, cfg), prompt)
