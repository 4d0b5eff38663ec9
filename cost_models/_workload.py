"""Workloads: a transformer's shape plus the inference scenario it is run in.

:func:`load_workload` reads a config's ``workload:`` mapping; the shape it names comes from
``_shape_sources`` (a Hugging Face ``config.json``, a preset name or a short YAML mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cost_models._errors import InputError, did_you_mean
from cost_models._shape import ModelShape
from cost_models._shape_sources import (
    list_presets,
    load_shape_file,
    preset_shape,
    shape_from_mapping,
)

# Bounds of the scenario: far past any deployment, and small enough that token and byte
# counts stay exact in float64 (batch 10**30 would silently lose precision, then overflow).
MAX_BATCH = 1 << 20
MAX_TOKENS = 1 << 24


@dataclass(frozen=True)
class Workload:
    """A model shape and the scenario: batch, prompt length, tokens generated.

    Decode figures are reported at ``kv_len`` (default: the mean KV length over the
    generation, ``prompt_len + gen_len / 2``; per-token cost is linear in KV length, so
    the mean is exact for memory- or compute-bound layers).
    """

    model: ModelShape
    batch: int = 1
    prompt_len: int = 512
    gen_len: int = 512
    lm_head: bool = True
    kv_len_override: int | None = field(default=None)

    @property
    def kv_len(self) -> int:
        if self.kv_len_override is not None:
            return self.kv_len_override
        return self.prompt_len + self.gen_len // 2

    @property
    def max_kv_len(self) -> int:
        return max(self.prompt_len + self.gen_len, self.kv_len)

    def with_(self, **changes: Any) -> Workload:
        return replace(self, **changes)


_WORKLOAD_KEYS = (
    "model",
    "hf_config",
    "shape",
    "batch",
    "prompt_len",
    "gen_len",
    "kv_len",
    "lm_head",
)


def load_workload(
    spec: Mapping[str, Any], source: str = "workload", base_dir: Path | None = None
) -> Workload:
    """Build a :class:`Workload` from a config's ``workload:`` mapping.

    Exactly one of ``model`` (preset name), ``hf_config`` (path, relative to ``base_dir``)
    or ``shape`` (mapping) names the model.
    """
    for key in spec:
        if key not in _WORKLOAD_KEYS:
            raise InputError(
                source,
                f"workload.{key}",
                f"unknown key; expected one of {', '.join(_WORKLOAD_KEYS)}",
                did_you_mean(str(key), _WORKLOAD_KEYS),
            )
    given = [k for k in ("model", "hf_config", "shape") if k in spec]
    if len(given) != 1:
        raise InputError(
            source,
            "workload",
            "name the model with exactly one of 'model' "
            f"(a preset: {', '.join(list_presets())}), 'hf_config' (a config.json "
            f"path) or 'shape' (a mapping); got {given or 'none'}",
        )
    if "model" in spec:
        shape = preset_shape(str(spec["model"]), source)
    elif "hf_config" in spec:
        if not isinstance(spec["hf_config"], str) or not spec["hf_config"].strip():
            raise InputError(
                source,
                "workload.hf_config",
                f"expected the path of a config.json, got {spec['hf_config']!r}",
            )
        path = Path(spec["hf_config"])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        if not path.exists():
            raise InputError(source, "workload.hf_config", f"file not found: {path}")
        shape = load_shape_file(path)
    else:
        if not isinstance(spec["shape"], Mapping):
            raise InputError(source, "workload.shape", "expected a mapping of shape fields")
        shape = shape_from_mapping(spec["shape"], source)

    def opt_int(key: str, default: int, minimum: int = 1, maximum: int = MAX_TOKENS) -> int:
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(
                source, f"workload.{key}", f"expected an integer ≥ {minimum}, got {value!r}"
            )
        if value > maximum:
            raise InputError(
                source, f"workload.{key}", f"expected an integer ≤ {maximum}, got {value!r}"
            )
        return value

    longest = spec.get("prompt_len", 512)
    if shape.max_positions and isinstance(longest, int) and longest > shape.max_positions:
        raise InputError(
            source,
            "workload.prompt_len",
            f"{longest} tokens exceed the model's {shape.max_positions} positions "
            "(max_position_embeddings)",
        )
    kv = spec.get("kv_len")
    lm_head = spec.get("lm_head", True)
    if not isinstance(lm_head, bool):
        raise InputError(source, "workload.lm_head", f"expected true or false, got {lm_head!r}")
    return Workload(
        model=shape,
        batch=opt_int("batch", 1, maximum=MAX_BATCH),
        prompt_len=opt_int("prompt_len", 512),
        gen_len=opt_int("gen_len", 512, minimum=0),
        lm_head=lm_head,
        kv_len_override=None if kv is None else opt_int("kv_len", 1),
    )
