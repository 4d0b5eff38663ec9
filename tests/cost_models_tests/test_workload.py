"""Workloads: Hugging Face key conventions, presets, and errors on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cost_models as cm


def test_every_preset_loads() -> None:
    names = cm.list_presets()
    assert {"gpt2-medium", "llama-2-7b", "chatglm2-6b", "qwen2-7b", "bert-base-uncased"} <= set(
        names
    )
    for name in names:
        shape = cm.preset_shape(name)
        assert shape.d_model > 0 and shape.n_layers > 0


def test_gpt2_null_n_inner_means_four_times_d() -> None:
    s = cm.preset_shape("gpt2-medium")
    assert (s.d_model, s.n_layers, s.n_heads, s.d_ffn, s.ffn) == (1024, 24, 16, 4096, "gelu")
    # 24 layers × 12.6 M + the tied LM head + 1024 learned positions ≈ 355 M parameters
    assert s.params_total() == pytest.approx(24 * 12 * 1024**2 + 50257 * 1024 + 1024 * 1024)


def test_chatglm_multi_query_groups_and_fused_swiglu() -> None:
    s = cm.preset_shape("chatglm2-6b")
    assert (s.n_heads, s.n_kv_heads, s.head_dim, s.d_kv) == (32, 2, 128, 256)
    assert s.ffn == "swiglu" and s.ffn_matrices == 3 and s.vocab == 65024


def test_llama_family_gqa() -> None:
    q = cm.preset_shape("qwen2-7b")
    assert (q.n_heads, q.n_kv_heads, q.d_kv) == (28, 4, 512)
    assert not cm.preset_shape("bert-base-uncased").causal


def test_hf_config_file_and_short_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "model_type": "mistral",
                "hidden_size": 256,
                "num_hidden_layers": 2,
                "num_attention_heads": 8,
                "num_key_value_heads": 2,
                "intermediate_size": 512,
                "vocab_size": 1000,
            }
        )
    )
    w = cm.load_workload({"hf_config": "config.json", "batch": 2}, "study.yaml", tmp_path)
    assert (w.model.n_kv_heads, w.model.ffn, w.batch) == (2, "swiglu", 2)
    short = cm.load_workload(
        {"shape": {"d_model": 64, "n_layers": 2, "n_heads": 4, "d_ffn": 256, "vocab": 100}}
    )
    assert short.model.head_dim == 16


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"model_type": "gtp2"}, r"model_type: unknown model type 'gtp2'.*did you mean 'gpt2'"),
        (
            {"model_type": "llama", "hidden_size": 64},
            r"num_attention_heads: missing; a llama "
            r"config needs 'num_attention_heads'",
        ),
        (
            {"model_type": "gpt2", "n_embd": -4, "n_layer": 2, "n_head": 2, "vocab_size": 9},
            r"n_embd: expected a positive integer, got -4",
        ),
        ({"hidden_size": 4}, r"model_type: expected a string"),
    ],
)
def test_bad_hf_configs_name_the_key(config: dict[str, object], pattern: str) -> None:
    with pytest.raises(cm.InputError, match=r"^cfg\.json: " + pattern):
        cm.shape_from_hf(config, "cfg.json")


def test_unknown_preset_and_workload_key() -> None:
    with pytest.raises(cm.InputError, match=re.escape("did you mean 'gpt2-medium'")):
        cm.load_workload({"model": "gpt2-meduim"}, "s.yaml")
    with pytest.raises(cm.InputError, match=r"^s\.yaml: workload\.prompt_lenght: unknown key"):
        cm.load_workload({"model": "gpt2", "prompt_lenght": 3}, "s.yaml")
    with pytest.raises(cm.InputError, match=r"workload\.batch: expected an integer ≥ 1, got 0"):
        cm.load_workload({"model": "gpt2", "batch": 0}, "s.yaml")
