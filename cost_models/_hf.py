"""Hugging Face ``config.json`` families beyond the plain dense decoder, and the rule that
no key which could change the computation is silently ignored.

``_shape_sources.shape_from_hf`` reads the fields every family shares (through ``_HF_KEYS``);
:func:`extend_shape` then reads what makes a family different — experts, latent attention,
windows, parallel blocks, positions, embeddings — and rejects any key it does not
understand unless it is known not to change the cost (``HARMLESS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cost_models._errors import InputError
from cost_models._shape import ModelShape

# The LLaMA config.json fields, which most families reuse (_shape_sources's "llama" too).
LLAMA_KEYS: dict[str, tuple[str, ...]] = {
    "d_model": ("hidden_size",),
    "n_layers": ("num_hidden_layers",),
    "n_heads": ("num_attention_heads",),
    "n_kv_heads": ("num_key_value_heads",),
    "head_dim": ("head_dim",),
    "d_ffn": ("intermediate_size",),
    "vocab": ("vocab_size",),
    "max_positions": ("max_position_embeddings",),
}
# Shared fields of the families added here (merged into _shape_sources._HF_KEYS).
FAMILY_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "phi3": LLAMA_KEYS,
    "gemma2": LLAMA_KEYS,
    "mixtral": LLAMA_KEYS,
    "deepseek_v2": {k: v for k, v in LLAMA_KEYS.items() if k != "head_dim"},
    "falcon": {
        "d_model": ("hidden_size",),
        "n_layers": ("num_hidden_layers", "n_layer"),
        "n_heads": ("num_attention_heads", "n_head"),
        "d_ffn": ("ffn_hidden_size",),
        "vocab": ("vocab_size",),
        "max_positions": ("max_position_embeddings",),
    },
    "gptj": {
        "d_model": ("n_embd",),
        "n_layers": ("n_layer",),
        "n_heads": ("n_head",),
        "d_ffn": ("n_inner",),
        "vocab": ("vocab_size",),
        "max_positions": ("n_positions",),
    },
    "bloom": {
        "d_model": ("hidden_size", "n_embed"),
        "n_layers": ("n_layer", "num_hidden_layers"),
        "n_heads": ("n_head", "num_attention_heads"),
        "d_ffn": ("n_inner",),
        "vocab": ("vocab_size",),
    },
}
GATED = {"phi3", "gemma2", "mixtral", "deepseek_v2"}
FUSED_QKV = {"phi3", "gpt2", "gpt_neox", "falcon", "bloom", "chatglm"}

# Keys that name ids, training, numerics or bookkeeping: they do not change what a token
# costs (norm epsilons, dropout, initialisation, rotary base/scaling, routing losses).
HARMLESS = frozenset(
    [
        "_name_or_path",
        "architectures",
        "auto_map",
        "model_type",
        "torch_dtype",
        "transformers_version",
        "use_cache",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "unk_token_id",
        "sep_token_id",
        "decoder_start_token_id",
        "initializer_range",
        "init_std",
        "rms_norm_eps",
        "layer_norm_eps",
        "layer_norm_epsilon",
        "layernorm_epsilon",
        "attention_dropout",
        "attn_pdrop",
        "embd_pdrop",
        "resid_pdrop",
        "hidden_dropout",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "dropout",
        "activation_dropout",
        "classifier_dropout",
        "summary_type",
        "summary_use_proj",
        "summary_activation",
        "summary_proj_to_labels",
        "summary_first_dropout",
        "task_specific_params",
        "tokenizer_class",
        "gradient_checkpointing",
        "scale_attn_weights",
        "scale_attn_by_inverse_layer_idx",
        "reorder_and_upcast_attn",
        "attention_softmax_in_fp32",
        "bias_dropout_fusion",
        "masked_softmax_fusion",
        "apply_query_key_layer_scaling",
        "fp32_residual_connection",
        "slow_but_exact",
        "skip_bias_add",
        "skip_bias_add_qkv",
        "pretraining_tp",
        "offset_alibi",
        "output_router_logits",
        "router_aux_loss_coef",
        "router_jitter_noise",
        "aux_loss_alpha",
        "seq_aux",
        "routed_scaling_factor",
        "norm_topk_prob",
        "scoring_func",
        "topk_method",
        "n_group",
        "topk_group",
        "rope_theta",
        "rope_scaling",
        "rotary_pct",
        "rotary_emb_base",
        "rotary_dim",
        "rotary",
        "original_rope",
        "partial_rotary_factor",
        "original_max_position_embeddings",
        "attention_bias",
        "mlp_bias",
        "add_bias_linear",
        "add_qkv_bias",
        "bias",
        "use_bias",
        "enable_bias",
        "post_layer_norm",
        "rmsnorm",
        "apply_residual_connection_post_layernorm",
        "do_layer_norm_before",
        "layer_norm_elementwise_affine",
        "cache_implementation",
        "query_pre_attn_scalar",
        "final_logit_softcapping",
        "hidden_act",
        "hidden_activation",
        "activation_function",
        "id2label",
        "label2id",
        "num_labels",
        "problem_type",
        "finetuning_task",
        "prefix",
        "n_ctx",
        "position_embedding_type",
        "torchscript",
        "is_decoder",
        "use_return_dict",
        "return_dict",
        "output_attentions",
        "output_hidden_states",
        "max_window_layers",
        "_attn_implementation",
        "remove_invalid_values",
        "layerdrop",
        "output_past",
    ]
)
# Per family: keys read below (besides FAMILY_KEYS / _shape_sources._HF_KEYS fields).
UNDERSTOOD: dict[str, frozenset[str]] = {
    k: frozenset(v.split())
    for k, v in {
        "gpt2": "tie_word_embeddings",
        "bert": "tie_word_embeddings type_vocab_size is_encoder_decoder",
        "gpt_neox": "tie_word_embeddings use_parallel_residual",
        "llama": "tie_word_embeddings",
        "qwen2": "tie_word_embeddings use_sliding_window sliding_window",
        "qwen3": "tie_word_embeddings use_sliding_window sliding_window",
        "mistral": "tie_word_embeddings sliding_window",
        "gemma": "tie_word_embeddings",
        "chatglm": "tie_word_embeddings multi_query_attention padded_vocab_size vocab_size",
        "opt": "tie_word_embeddings word_embed_proj_dim",
        "phi3": "tie_word_embeddings sliding_window",
        "gemma2": "tie_word_embeddings sliding_window sliding_window_size attn_logit_softcapping",
        "mixtral": "tie_word_embeddings sliding_window num_local_experts num_experts_per_tok",
        "deepseek_v2": "tie_word_embeddings n_routed_experts num_experts_per_tok "
        "moe_intermediate_size n_shared_experts first_k_dense_replace moe_layer_freq "
        "kv_lora_rank q_lora_rank qk_nope_head_dim qk_rope_head_dim v_head_dim "
        "num_key_value_heads",
        "falcon": "tie_word_embeddings multi_query num_kv_heads new_decoder_architecture "
        "parallel_attn alibi",
        "gptj": "tie_word_embeddings",
        "bloom": "tie_word_embeddings",
    }.items()
}
# tie_word_embeddings when a config leaves it out (each family's transformers default).
TIED_DEFAULT = {
    "gpt2": True,
    "bert": True,
    "opt": True,
    "gemma": True,
    "gemma2": True,
    "falcon": True,
    "bloom": True,
}


def _int(config: Mapping[str, Any], key: str, source: str, default: int = 0) -> int:
    v = config.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v < 0:
        raise InputError(source, key, f"expected a non-negative integer, got {v!r}")
    return int(v)


def _bool(config: Mapping[str, Any], key: str, source: str, default: bool) -> bool:
    v = config.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise InputError(source, key, f"expected true or false, got {v!r}")
    return v


def check_keys(
    config: Mapping[str, Any], source: str, model_type: str, fields: Mapping[str, Any]
) -> None:
    """A key that is neither a shape field, nor read for this family, nor known not to
    change the cost is an error naming it: silently ignoring it could give a wrong number."""
    known = {c for cands in fields.values() for c in cands}
    known |= UNDERSTOOD.get(model_type, frozenset()) | HARMLESS
    for key in config:
        if key not in known:
            raise InputError(
                source,
                str(key),
                f"not understood for model_type {model_type!r}; it may change the "
                "computation, so it is not ignored (remove it if it does not)",
            )


def type_hint(model_type: str, supported: tuple[str, ...]) -> str:
    """A "did you mean" only for spelling slips (case, separators, swapped letters), never
    for a different architecture: 'mixtral' is not a misspelt 'mistral'."""

    def norm(s: str) -> str:
        return s.lower().replace("-", "").replace("_", "")

    for s in supported:
        if norm(s) == norm(model_type) or sorted(norm(s)) == sorted(norm(model_type)):
            return f"did you mean '{s}'?"
    return ""


def extend_shape(
    config: Mapping[str, Any], source: str, model_type: str, shape: ModelShape
) -> ModelShape:
    """The family-specific fields of ``shape``, read from ``config``."""
    get = config.get
    n = shape.n_layers
    ch: dict[str, Any] = {
        "tied_embeddings": _bool(
            config, "tie_word_embeddings", source, TIED_DEFAULT.get(model_type, False)
        )
    }
    if model_type in GATED:
        ch["ffn"] = "swiglu"
    # Positions: learned tables (counted as parameters), rotary, or ALiBi biases.
    if model_type == "gpt2":
        ch |= {"positions": "learned", "learned_positions": shape.max_positions}
    elif model_type == "opt":
        # OPT's learned positions are offset by 2 rows; word_embed_proj_dim < hidden_size
        # means a narrower embedding with project_in / project_out (OPT-350m).
        ch |= {"positions": "learned", "learned_positions": shape.max_positions + 2}
        proj = _int(config, "word_embed_proj_dim", source, shape.d_model)
        if proj != shape.d_model:
            ch["d_embed"] = proj
    elif model_type == "bert":
        if _bool(config, "is_encoder_decoder", source, False):
            raise InputError(
                source, "is_encoder_decoder", "encoder-decoder models are not modelled"
            )
        rows = shape.max_positions + _int(config, "type_vocab_size", source, 2)
        ch |= {"positions": "learned", "learned_positions": rows}
    elif model_type == "bloom":
        ch |= {"positions": "alibi", "max_positions": 0}
    elif model_type == "falcon" and _bool(config, "alibi", source, False):
        ch["positions"] = "alibi"
    # Parallel attention + MLP from one norm (GPT-J, Falcon, GPT-NeoX's parallel residual).
    if model_type == "gptj":
        ch["parallel_block"] = True
    elif model_type == "gpt_neox":
        ch["parallel_block"] = _bool(config, "use_parallel_residual", source, True)
    elif model_type == "falcon":
        new_arch = _bool(config, "new_decoder_architecture", source, False)
        ch["parallel_block"] = new_arch or _bool(config, "parallel_attn", source, True)
        if new_arch:
            ch["n_kv_heads"] = _int(config, "num_kv_heads", source, shape.n_heads)
        elif _bool(config, "multi_query", source, True):
            ch["n_kv_heads"] = 1
        if get("ffn_hidden_size") is None:
            ch["d_ffn"] = 4 * shape.d_model
    # The checkpoint holds q, k and v as one matrix (and a gated FFN's gate and up as one):
    # Phi-3's qkv_proj and gate_up_proj, GPT-2's c_attn (a Conv1D of 3·d outputs), the
    # query_key_value of GPT-NeoX, Falcon, BLOOM and ChatGLM (whose dense_h_to_4h is the
    # fused gate/up). One streamed matrix on an overlay, one kernel in eager PyTorch.
    if model_type in FUSED_QKV:
        ch["fused_qkv"] = True
    # Sliding windows: every layer (Mistral, Mixtral, Phi-3), every other one (Gemma-2's
    # local/global alternation, layers 0, 2, 4, ...), or Qwen2's layers past
    # max_window_layers when use_sliding_window is set.
    window = _int(config, "sliding_window", source)
    if model_type in ("qwen2", "qwen3") and not _bool(config, "use_sliding_window", source, False):
        window = 0
    if window:
        layers = n
        if model_type == "gemma2":
            layers = (n + 1) // 2
        elif model_type in ("qwen2", "qwen3"):
            layers = max(0, n - _int(config, "max_window_layers", source, n))
        if layers:
            ch |= {"window": window, "window_layers": layers}
    if model_type == "mixtral":
        ch |= {
            "n_experts": _int(config, "num_local_experts", source, 8),
            "experts_per_token": _int(config, "num_experts_per_tok", source, 2),
            "d_expert": shape.d_ffn,
        }
    if model_type == "deepseek_v2":
        ch |= _deepseek(config, source, shape)
    if ch.get("n_experts") and not 0 < ch["experts_per_token"] <= ch["n_experts"]:
        raise InputError(
            source,
            "num_experts_per_tok",
            f"expected 1..{ch['n_experts']} routed experts per token, "
            f"got {ch['experts_per_token']}",
        )
    return replace(shape, **ch)


def _deepseek(config: Mapping[str, Any], source: str, shape: ModelShape) -> dict[str, Any]:
    if _int(config, "moe_layer_freq", source, 1) != 1:
        raise InputError(
            source, "moe_layer_freq", "only 1 (every layer after the dense ones) is modelled"
        )
    out: dict[str, Any] = {}
    experts = _int(config, "n_routed_experts", source)
    if experts:
        out |= {
            "n_experts": experts,
            "experts_per_token": _int(config, "num_experts_per_tok", source, 1),
            "d_expert": _int(config, "moe_intermediate_size", source, shape.d_ffn),
            "n_shared_experts": _int(config, "n_shared_experts", source),
            "dense_layers": min(shape.n_layers, _int(config, "first_k_dense_replace", source)),
        }
    rank = _int(config, "kv_lora_rank", source)
    if rank:
        nope = _int(config, "qk_nope_head_dim", source, 128)
        rope = _int(config, "qk_rope_head_dim", source, 64)
        out |= {
            "kv_lora_rank": rank,
            "q_lora_rank": _int(config, "q_lora_rank", source),
            "rope_head_dim": rope,
            "head_dim": nope + rope,
            "v_head_dim": _int(config, "v_head_dim", source, nope),
            "n_kv_heads": shape.n_heads,
        }
    return out
