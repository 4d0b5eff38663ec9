"""Model shapes from where a study names them: a Hugging Face ``config.json`` (any of the
key conventions in ``_HF_KEYS``), a preset name (``cost_models/workloads/<name>.json``) or
the short YAML form of a ``shape:`` mapping. ``_workload`` puts a shape into a scenario.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cost_models._errors import InputError, did_you_mean
from cost_models._hf import FAMILY_KEYS, GATED, LLAMA_KEYS, check_keys, extend_shape, type_hint
from cost_models._safeload import UnsafeInput, load_json, read_text
from cost_models._shape import FFN_KINDS, POSITIONS, ModelShape

PRESETS_DIR = Path(__file__).resolve().parent / "workloads"


# Per model_type: our field -> the config.json key holding it (first one present wins).
_HF_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "gpt2": {
        "d_model": ("n_embd",),
        "n_layers": ("n_layer",),
        "n_heads": ("n_head",),
        "d_ffn": ("n_inner",),
        "vocab": ("vocab_size",),
        "max_positions": ("n_positions",),
    },
    "bert": {
        "d_model": ("hidden_size",),
        "n_layers": ("num_hidden_layers",),
        "n_heads": ("num_attention_heads",),
        "d_ffn": ("intermediate_size",),
        "vocab": ("vocab_size",),
        "max_positions": ("max_position_embeddings",),
    },
    "gpt_neox": {
        "d_model": ("hidden_size",),
        "n_layers": ("num_hidden_layers",),
        "n_heads": ("num_attention_heads",),
        "d_ffn": ("intermediate_size",),
        "vocab": ("vocab_size",),
        "max_positions": ("max_position_embeddings",),
    },
    "llama": LLAMA_KEYS,
    "chatglm": {
        "d_model": ("hidden_size",),
        "n_layers": ("num_layers",),
        "n_heads": ("num_attention_heads",),
        "n_kv_heads": ("multi_query_group_num",),
        "head_dim": ("kv_channels",),
        "d_ffn": ("ffn_hidden_size",),
        "vocab": ("padded_vocab_size", "vocab_size"),
        "max_positions": ("seq_length",),
    },
    "opt": {
        "d_model": ("hidden_size",),
        "n_layers": ("num_hidden_layers",),
        "n_heads": ("num_attention_heads",),
        "d_ffn": ("ffn_dim",),
        "vocab": ("vocab_size",),
        "max_positions": ("max_position_embeddings",),
    },
}
# Same conventions as llama (GQA + SwiGLU).
for _alias in ("qwen2", "mistral", "qwen3", "gemma"):
    _HF_KEYS[_alias] = _HF_KEYS["llama"]
_HF_KEYS.update(FAMILY_KEYS)  # phi3, gemma2, mixtral, deepseek_v2, falcon, gptj, bloom

_SWIGLU_TYPES = {"llama", "qwen2", "mistral", "qwen3", "gemma", "chatglm", *GATED}
_ENCODER_TYPES = {"bert"}
SUPPORTED_MODEL_TYPES = tuple(sorted(_HF_KEYS))


def _positive_int(value: object, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(source, key, f"expected a positive integer, got {value!r}")
    if value <= 0:
        raise InputError(source, key, f"expected a positive integer, got {value!r}")
    return int(value)


def shape_from_hf(config: Mapping[str, Any], source: str, name: str = "") -> ModelShape:
    """Build a :class:`ModelShape` from a Hugging Face ``config.json`` mapping."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise InputError(
            source,
            "model_type",
            f"expected a string naming the architecture, one of {', '.join(SUPPORTED_MODEL_TYPES)}",
        )
    if model_type not in _HF_KEYS:
        raise InputError(
            source,
            "model_type",
            f"unknown model type {model_type!r}; "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)}",
            type_hint(model_type, SUPPORTED_MODEL_TYPES),
        )
    keys = _HF_KEYS[model_type]
    check_keys(config, source, model_type, keys)
    raw: dict[str, Any] = {}
    for ours, candidates in keys.items():
        for cand in candidates:
            if config.get(cand) is not None:
                raw[ours] = (cand, config[cand])
                break

    def need(ours: str) -> int:
        if ours not in raw:
            wanted = " or ".join(repr(c) for c in keys[ours])
            raise InputError(
                source, keys[ours][0], f"missing; a {model_type} config needs {wanted}"
            )
        cand, value = raw[ours]
        return _positive_int(value, source, cand)

    def maybe(ours: str, default: int) -> int:
        return need(ours) if ours in raw else default

    d_model = need("d_model")
    n_heads = need("n_heads")
    n_kv = maybe("n_kv_heads", n_heads)
    if model_type == "chatglm" and not config.get("multi_query_attention", False):
        n_kv = n_heads
    if n_heads % n_kv:
        raise InputError(
            source, keys["n_kv_heads"][0], f"{n_kv} KV heads must divide {n_heads} attention heads"
        )
    if "head_dim" not in raw and d_model % n_heads:
        raise InputError(
            source,
            keys["d_model"][0],
            f"{d_model} is not divisible by {n_heads} attention heads; a head would have "
            f"{d_model / n_heads:g} dimensions (give head_dim if the model's heads are not "
            "hidden size / heads)",
        )
    head_dim = maybe("head_dim", d_model // n_heads)
    d_ffn = maybe("d_ffn", 4 * d_model)  # gpt2's n_inner = null means 4 × n_embd
    shape = ModelShape(
        name=name or str(config.get("_name_or_path", model_type)),
        d_model=d_model,
        n_layers=need("n_layers"),
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        d_ffn=d_ffn,
        ffn="swiglu" if model_type in _SWIGLU_TYPES else "gelu",
        vocab=need("vocab"),
        causal=model_type not in _ENCODER_TYPES,
        max_positions=maybe("max_positions", 2048),
    )
    return extend_shape(config, source, model_type, shape)


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json"))


def load_shape_file(path: str | Path) -> ModelShape:
    """Load a Hugging Face ``config.json`` from disk."""
    p = Path(path)
    try:
        config = load_json(read_text(p))
    except UnsafeInput as exc:
        where = f"line {exc.line}" if exc.line else "hf_config"
        raise InputError(str(p), where, exc.reason) from None
    if not isinstance(config, dict):
        raise InputError(str(p), "(top level)", "expected a JSON object")
    return shape_from_hf(config, str(p), name=p.stem if p.stem != "config" else p.parent.name)


def preset_shape(name: str, source: str = "workload") -> ModelShape:
    """A model shipped under ``cost_models/workloads/``, e.g. ``gpt2-medium``."""
    path = PRESETS_DIR / f"{name}.json"
    # A preset is a name, never a path: 'model: ../../x' must not read any .json as a model.
    if name not in list_presets() or not path.is_file():
        raise InputError(
            source,
            "model",
            f"unknown model preset {name!r}; expected one of "
            f"{', '.join(list_presets())} or an hf_config path",
            preset_hint(name, list_presets()),
        )
    return _preset(name, str(path), path.stat().st_mtime_ns)


_SIZE = re.compile(r"^\d+(\.\d+)?(x\d+(\.\d+)?)?[bm]$")  # 7b, 1.1b, 135m, 8x7b
_MARKERS = ("moe", "lite", "cased", "uncased")  # another model of the family, not a slip
_SIZE_WORDS = {"tiny", "mini", "small", "base", "medium", "large", "xl", "xxl"}


def _same_model(typed: str, preset: str) -> bool:
    """Whether ``typed`` can be a slip for ``preset``: the same family word (letters at
    most transposed), the same size tokens (7b, 8x7b, 135m) and MoE/lite markers, and no
    size word (medium, xl, ...) of its own that the preset lacks."""
    t, p = re.split(r"[-_]", typed.lower()), re.split(r"[-_]", preset.lower())
    if sorted(t[0]) != sorted(p[0]):
        return False
    if sorted(x for x in t if _SIZE.match(x)) != sorted(x for x in p if _SIZE.match(x)):
        return False
    if any((m in t) != (m in p) for m in _MARKERS):
        return False
    return all(w in p for w in t if w in _SIZE_WORDS)


def preset_hint(name: str, presets: list[str]) -> str:
    """``did you mean`` for a preset name, only where the closest preset is the same model
    (``_same_model``). 'llama-2-70b' is not a slip of 'llama-2-7b', nor 'qwen2-moe' of
    'qwen2-7b', nor 'mixtral-7b' of 'mistral-7b-v0.1': following such a hint gives another
    model's numbers under the name asked for (issue 16)."""
    hint = did_you_mean(name, presets)
    return hint if hint and _same_model(name, hint.split("'")[1]) else ""


@functools.lru_cache(maxsize=64)
def _preset(name: str, path: str, mtime_ns: int) -> ModelShape:
    """Parsed once per change on disk (ModelShape is frozen, so sharing it is safe)."""
    return replace(load_shape_file(path), name=name)


# Optional integer fields of the short form (0 = absent); see ModelShape.
_EXTRA_INTS = (
    "n_experts",
    "experts_per_token",
    "d_expert",
    "n_shared_experts",
    "dense_layers",
    "kv_lora_rank",
    "q_lora_rank",
    "rope_head_dim",
    "v_head_dim",
    "window",
    "window_layers",
    "d_embed",
    "learned_positions",
)
_SHAPE_KEYS = (
    "d_model",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "d_ffn",
    "ffn",
    "vocab",
    "causal",
    "max_positions",
    "name",
    *_EXTRA_INTS,
    "parallel_block",
    "fused_qkv",
    "positions",
    "tied_embeddings",
)


def shape_from_mapping(spec: Mapping[str, Any], source: str) -> ModelShape:
    """Build a shape from the short YAML form (``d_model``, ``n_layers``, ... keys)."""
    for key in spec:
        if key not in _SHAPE_KEYS:
            raise InputError(
                source,
                f"shape.{key}",
                f"unknown key; expected one of {', '.join(_SHAPE_KEYS)}",
                did_you_mean(str(key), _SHAPE_KEYS),
            )
    ints: dict[str, int] = {}
    for key in ("d_model", "n_layers", "n_heads", "d_ffn", "vocab"):
        if key not in spec:
            raise InputError(source, f"shape.{key}", "missing; a positive integer is required")
        ints[key] = _positive_int(spec[key], source, f"shape.{key}")
    n_kv = _positive_int(spec.get("n_kv_heads", ints["n_heads"]), source, "shape.n_kv_heads")
    if "head_dim" not in spec and ints["d_model"] % ints["n_heads"]:
        raise InputError(
            source,
            "shape.d_model",
            f"{ints['d_model']} is not divisible by n_heads={ints['n_heads']}; give "
            "shape.head_dim if the heads are not d_model / n_heads wide",
        )
    head_dim = _positive_int(
        spec.get("head_dim", ints["d_model"] // ints["n_heads"]), source, "shape.head_dim"
    )
    ffn = spec.get("ffn", "gelu")
    if ffn not in FFN_KINDS:
        raise InputError(
            source,
            "shape.ffn",
            f"expected one of {', '.join(FFN_KINDS)}, got {ffn!r}",
            did_you_mean(str(ffn), FFN_KINDS),
        )
    if ints["n_heads"] % n_kv:
        raise InputError(
            source, "shape.n_kv_heads", f"{n_kv} must divide n_heads={ints['n_heads']}"
        )
    extra: dict[str, Any] = {}
    for key in _EXTRA_INTS:
        value = spec.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                source, f"shape.{key}", f"expected a non-negative integer, got {value!r}"
            )
        extra[key] = value
    for key in ("parallel_block", "fused_qkv", "tied_embeddings"):
        if not isinstance(spec.get(key, True), bool):
            raise InputError(source, f"shape.{key}", f"expected true or false, got {spec[key]!r}")
        if key in spec:
            extra[key] = spec[key]
    positions = spec.get("positions", "rope")
    if positions not in POSITIONS:
        raise InputError(
            source, "shape.positions", f"expected one of {', '.join(POSITIONS)}, got {positions!r}"
        )
    if extra["n_experts"] and not 0 < extra["experts_per_token"] <= extra["n_experts"]:
        raise InputError(
            source,
            "shape.experts_per_token",
            f"expected 1..{extra['n_experts']} (n_experts), got {extra['experts_per_token']}",
        )
    if extra["n_experts"] and not extra["d_expert"]:
        extra["d_expert"] = ints["d_ffn"]
    return ModelShape(
        positions=str(positions),
        **extra,
        name=str(spec.get("name", "custom")),
        d_model=ints["d_model"],
        n_layers=ints["n_layers"],
        n_heads=ints["n_heads"],
        n_kv_heads=n_kv,
        head_dim=head_dim,
        d_ffn=ints["d_ffn"],
        ffn=str(ffn),
        vocab=ints["vocab"],
        causal=bool(spec.get("causal", True)),
        max_positions=_max_positions(spec.get("max_positions", 2048), source),
    )


def _max_positions(value: object, source: str) -> int:
    if value == 0 and not isinstance(value, bool):
        return 0  # no limit (ALiBi)
    return _positive_int(value, source, "shape.max_positions")
