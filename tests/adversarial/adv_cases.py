"""Hand-made bad inputs, as data: each case is files to write plus a ``dse`` command line.

Every case must end with exit code 2 and one error line naming the file (or ``--set`` /
option) and the key. ``{d}`` in argv is replaced by the case's folder.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "version": 1,
    "name": "adv",
    "workload": {"model": "gpt2-medium", "batch": 1, "prompt_len": 64, "gen_len": 64},
    "platform": "u280",
    "arch": "spatial",
    "design": {"quant": "w4a8"},
    "space": {
        "m_qkv": {"type": "pow2", "low": 64, "high": 1024},
        "m_ffn": {"type": "pow2", "low": 128, "high": 4096},
        "sparsity": ["none", "nm"],
        "density_ffn": {
            "type": "categorical",
            "choices": [0.5, 0.25],
            "when": "sparsity == 'nm'",
        },
    },
    "derived": {"m_attn": "max(1, m_qkv // 8)"},
    "objectives": [
        {"metric": "decode_tokens_per_s", "direction": "maximize"},
        {"metric": "power_w", "direction": "minimize"},
    ],
    "constraints": {"max_util": {"lut": 0.8}, "min_clock_mhz": 200},
    "budget": {"trials": 20},
    "sampler": "random",
    "seed": 0,
    "batch_size": 10,
}
BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)

HOSTS: dict[str, Any] = {
    "version": 1,
    "licence_pools": {"seats": 2},
    "hosts": [
        {"name": "here", "local": True, "flows": ["ecp5"], "workdir": "/tmp/dse-adv"},
        {
            "name": "far",
            "ssh": {"host": "127.0.0.1", "port": 1, "user": "u", "connect_timeout_s": 1},
            "flows": ["vivado"],
            "licences": {"vivado": "seats"},
        },
    ],
}

HF: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 512,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "num_hidden_layers": 4,
    "intermediate_size": 1024,
    "vocab_size": 1000,
}


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    expect: tuple[str, ...] = ()  # substrings of the error line (file, key, ...)
    code: int = 2


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``doc`` with dotted ``path`` set to ``value`` (``_DEL_`` removes it)."""
    out = copy.deepcopy(doc)
    node: Any = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value == "_DEL_":
        node.pop(last, None)
    else:
        node[last] = value
    return out


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    + ["version: 1"]
)

# Whole-file problems, shared by every YAML loader (config, hosts).
RAW_YAML: list[tuple[str, str | bytes, str]] = [
    ("empty", "", ""),
    ("comment-only", "# nothing\n", ""),
    ("top-list", "[]\n", ""),
    ("top-scalar", "42\n", ""),
    ("top-string", "just words\n", ""),
    ("top-null", "~\n", ""),
    ("unclosed-flow", "version: [1\n", ":1"),
    ("unclosed-quote", 'version: "1\n', ""),
    ("bad-indent", "version: 1\n  name: x\n nope: 2\n", ""),
    ("tab-indent", "version: 1\nworkload:\n\tmodel: x\n", ""),
    ("two-docs", "version: 1\n---\nversion: 1\n", ""),
    ("colon-soup", ": : :\n", ""),
    ("python-tag", "version: !!python/object/apply:os.system ['true']\n", ""),
    ("unknown-tag", "version: !nope 1\n", ""),
    ("bad-binary", "version: !!binary '@@@'\n", ""),
    ("bad-timestamp", "version: 2024-99-99\n", "2024-99-99"),
    ("huge-int", "version: " + "9" * 5000 + "\n", ""),
    ("alias-bomb", BOMB, "alias"),
    ("alias-simple", "x: &a 1\nversion: *a\n", "alias"),
    ("merge-key", "x: &a {y: 1}\nversion: {<<: *a}\n", "alias"),
    ("deep-list", "version: " + "[" * 2000 + "]" * 2000 + "\n", "deep"),
    ("deep-map", "version: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n", "deep"),
    ("deep-block", "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "x\n", "deep"),
    ("dup-top", "version: 1\nversion: 1\n", "duplicate"),
    ("null-key", "~: 1\nversion: 1\n", "not text"),
    ("int-key", "1: 2\nversion: 1\n", "not text"),
    ("list-key", "? [a]\n: 1\nversion: 1\n", ""),
    ("map-key", "? {a: 1}\n: 1\n", ""),
    ("utf16-bom", "version: 1\n".encode("utf-16"), "UTF-16"),
    ("utf16-le", "version: 1\n".encode("utf-16-le"), "NUL"),
    ("latin1", "name: caf\xe9\n".encode("latin-1"), "UTF-8"),
    ("nul-byte", b"version: 1\x00\n", ""),
    ("binary-junk", bytes(range(256)) * 4, ""),
    ("control-char", "version: 1\nname: a\x07b\n", ""),
    ("huge-file", "# " + "x" * (5 << 20) + "\n", "KiB"),
    ("only-dashes", "---\n...\n---\n", ""),
    ("lone-surrogate-escape", 'name: "\\ud800"\n', ""),
]


def _config_file_cases() -> list[Case]:
    cases = [
        Case(f"cfg-{name}", ("estimate", "{d}/study.yaml"), {"study.yaml": text}, ("study.yaml",))
        for name, text, _ in RAW_YAML
    ]
    cases += [
        Case("cfg-missing", ("estimate", "{d}/nope.yaml"), {}, ("nope.yaml", "not found")),
        Case("cfg-directory", ("estimate", "{d}/sub"), {"sub/x": "1"}, ("sub", "directory")),
        Case("cfg-dev-zero", ("estimate", "/dev/zero"), {}, ("/dev/zero", "regular")),
        Case(
            "cfg-emoji-path",
            ("estimate", "{d}/my:cat:config.yaml"),
            {"my:cat:config.yaml": "[]"},
            ("my:cat:config.yaml",),
        ),
        Case(
            "cfg-markup-path",
            ("estimate", "{d}/[bold]x[/bold].yaml"),
            {"[bold]x[/bold].yaml": "[]"},
            ("[bold]x[/bold].yaml",),
        ),
        Case(
            "cfg-dup-nested",
            ("estimate", "{d}/study.yaml"),
            {"study.yaml": BASE_TEXT.replace("  batch: 1\n", "  batch: 1\n  batch: 2\n")},
            ("study.yaml:", "batch", "duplicate"),
        ),
    ]
    return cases


# (id, dotted key, bad value, substrings expected in the message)
CONFIG_VALUES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("version-2", "version", 2, ("version",)),
    ("version-list", "version", [], ("version",)),
    ("version-str", "version", "one", ("version",)),
    ("name-list", "name", [], ("name",)),
    ("name-map", "name", {"a": 1}, ("name",)),
    ("name-slash", "name", "a/b", ("name",)),
    ("name-dots", "name", "..", ("name",)),
    ("name-space", "name", "a b", ("name",)),
    ("name-empty-str", "name", "", ()),
    ("workload-list", "workload", [], ("workload",)),
    ("workload-str", "workload", "gpt2", ("workload",)),
    ("workload-null", "workload", None, ("workload",)),
    ("workload-int", "workload", 3, ("workload",)),
    ("workload-missing", "workload", "_DEL_", ("workload",)),
    ("workload-unknown-key", "workload.modle", "x", ("workload.modle",)),
    ("workload-model-list", "workload.model", [], ("model",)),
    ("workload-model-map", "workload.model", {"a": 1}, ("model",)),
    ("workload-model-unknown", "workload.model", "gpt5", ("model",)),
    ("workload-model-int", "workload.model", 3, ("model",)),
    ("workload-model-null", "workload.model", None, ("model",)),
    ("workload-batch-0", "workload.batch", 0, ("batch",)),
    ("workload-batch-neg", "workload.batch", -1, ("batch",)),
    ("workload-batch-list", "workload.batch", [1], ("batch",)),
    ("workload-batch-str", "workload.batch", "one", ("batch",)),
    ("workload-batch-float", "workload.batch", 1.5, ("batch",)),
    ("workload-batch-bool", "workload.batch", True, ("batch",)),
    ("workload-prompt-map", "workload.prompt_len", {"a": 1}, ("prompt_len",)),
    ("workload-gen-neg", "workload.gen_len", -5, ("gen_len",)),
    ("workload-kv-str", "workload.kv_len", "x", ("kv_len",)),
    ("workload-lmhead-str", "workload.lm_head", "yes", ("lm_head",)),
    ("workload-shape-list", "workload", {"shape": [], "batch": 1}, ("shape",)),
    ("workload-shape-empty", "workload", {"shape": {}, "batch": 1}, ("workload",)),
    (
        "workload-shape-bad",
        "workload",
        {"shape": {"d_model": [], "n_layers": 1, "n_heads": 1}, "batch": 1},
        ("workload",),
    ),
    ("workload-hfconfig-list", "workload", {"hf_config": []}, ("hf_config",)),
    ("workload-hfconfig-empty", "workload", {"hf_config": ""}, ("hf_config",)),
    ("workload-hfconfig-missing", "workload", {"hf_config": "nope.json"}, ("nope.json",)),
    ("workload-two-models", "workload", {"model": "gpt2-medium", "shape": {}}, ("workload",)),
    ("platform-list", "platform", [], ("platform",)),
    ("platform-map", "platform", {"a": 1}, ("platform",)),
    ("platform-null", "platform", None, ("platform",)),
    ("platform-int", "platform", 280, ("platform",)),
    ("platform-unknown", "platform", "u2800", ("platform",)),
    ("platform-gpu", "platform", "a100", ("platform",)),
    ("platform-missing-file", "platform", "nope.yaml", ("nope.yaml",)),
    ("platform-missing", "platform", "_DEL_", ("platform",)),
    ("arch-list", "arch", [], ("arch",)),
    ("arch-map", "arch", {"a": 1}, ("arch",)),
    ("arch-int", "arch", 1, ("arch",)),
    ("arch-null", "arch", None, ("arch",)),
    ("arch-unknown", "arch", "spacial", ("arch",)),
    ("baseline-list", "baseline", [], ("baseline",)),
    ("baseline-map", "baseline", {"a": 1}, ("baseline",)),
    ("baseline-fpga", "baseline", "u280", ("baseline",)),
    ("baseline-unknown", "baseline", "b200x", ("baseline",)),
    ("design-list", "design", [], ("design",)),
    ("design-str", "design", "w4a8", ("design",)),
    ("design-int", "design", 3, ("design",)),
    ("design-unknown-key", "design.m_fnn", 64, ("m_fnn",)),
    ("design-quant-list", "design.quant", [], ("quant",)),
    ("design-quant-map", "design.quant", {"a": 1}, ("quant",)),
    ("design-quant-unknown", "design.quant", "w3a3", ("quant",)),
    ("design-quant-int", "design.quant", 8, ("quant",)),
    ("design-freq-neg", "design.freq_mhz", -1, ("freq_mhz",)),
    ("design-freq-map", "design.freq_mhz", {"a": 1}, ("freq_mhz",)),
    ("design-mqkv-zero", "design.m_qkv", 0, ("m_qkv",)),
    ("design-sparsity-int", "design.sparsity", 3, ("sparsity",)),
    ("design-sparsity-unknown", "design.sparsity", "bogus", ("sparsity",)),
    ("top-unknown-key", "budgett", 3, ("budgett",)),
    ("space-list", "space", [], ("space",)),
    ("space-int", "space", 3, ("space",)),
    ("space-str", "space", "all", ("space",)),
    ("space-param-int", "space.m_ffn", 3, ("m_ffn",)),
    ("space-param-null", "space.m_ffn", None, ("m_ffn",)),
    ("space-param-empty-list", "space.m_ffn", [], ("m_ffn",)),
    ("space-param-empty-map", "space.m_ffn", {}, ("m_ffn",)),
    ("space-unknown-param", "space.m_fnn", {"type": "int", "low": 1, "high": 2}, ("m_fnn",)),
    ("space-type-unknown", "space.m_ffn.type", "nope", ("m_ffn",)),
    ("space-type-list", "space.m_ffn.type", [], ("m_ffn",)),
    ("space-type-int", "space.m_ffn.type", 3, ("m_ffn",)),
    ("space-low-list", "space.m_ffn.low", [], ("m_ffn",)),
    ("space-low-str", "space.m_ffn.low", "small", ("m_ffn",)),
    ("space-low-missing", "space.m_ffn.low", "_DEL_", ("m_ffn",)),
    ("space-low-gt-high", "space.m_ffn.low", 8192, ("m_ffn",)),
    ("space-low-not-pow2", "space.m_ffn.low", 100, ("m_ffn",)),
    ("space-high-map", "space.m_ffn.high", {"a": 1}, ("m_ffn",)),
    ("space-low-bool", "space.m_ffn.low", True, ("m_ffn",)),
    ("space-int-float-low", "space.m_qkv", {"type": "int", "low": 1.5, "high": 4}, ("m_qkv",)),
    ("space-step-zero", "space.m_qkv", {"type": "int", "low": 1, "high": 4, "step": 0}, ("step",)),
    ("space-step-list", "space.m_qkv", {"type": "int", "low": 1, "high": 4, "step": []}, ("step",)),
    ("space-log-str", "space.m_qkv", {"type": "int", "low": 1, "high": 4, "log": "y"}, ("log",)),
    (
        "space-log-zero",
        "space.m_qkv",
        {"type": "int", "low": 0, "high": 4, "log": True},
        ("m_qkv",),
    ),
    ("space-unknown-field", "space.m_ffn.stepp", 2, ("m_ffn",)),
    ("space-choices-empty", "space.sparsity", [], ("sparsity",)),
    ("space-choices-nested", "space.sparsity", [["none"]], ("sparsity",)),
    ("space-choices-map", "space.sparsity", [{"a": 1}], ("sparsity",)),
    ("space-choices-dup", "space.sparsity", ["none", "none"], ("sparsity",)),
    ("space-choices-unknown", "space.sparsity", ["none", "bogus"], ("sparsity",)),
    ("space-choices-null", "space.sparsity", [None], ("sparsity",)),
    ("space-cat-nochoices", "space.sparsity", {"type": "categorical"}, ("sparsity",)),
    ("space-cat-choices-str", "space.sparsity", {"type": "categorical", "choices": "nm"}, ()),
    ("when-compare-str-int", "space.density_ffn.when", "sparsity > 3", ("when",)),
    ("when-syntax", "space.density_ffn.when", "sparsity ==", ("when",)),
    ("when-list", "space.density_ffn.when", [], ("when",)),
    ("when-int", "space.density_ffn.when", 3, ("when",)),
    ("when-empty", "space.density_ffn.when", "", ("when",)),
    ("when-import", "space.density_ffn.when", "__import__('os').system('true')", ("when",)),
    ("when-attr", "space.density_ffn.when", "sparsity.__class__", ("when",)),
    ("when-unknown-name", "space.density_ffn.when", "nope == 1", ("when",)),
    ("when-self", "space.density_ffn.when", "density_ffn == 0.5", ("when",)),
    ("when-lambda", "space.density_ffn.when", "(lambda: 1)()", ("when",)),
    ("when-huge-pow", "space.density_ffn.when", "9**9**9 > 1", ("when",)),
    ("derived-list", "derived", [], ("derived",)),
    ("derived-str", "derived", "m_attn", ("derived",)),
    ("derived-expr-list", "derived.m_attn", [], ("m_attn",)),
    ("derived-syntax", "derived.m_attn", "max(1,", ("m_attn",)),
    ("derived-unknown-name", "derived.m_attn", "nope * 2", ("m_attn",)),
    ("derived-dunder", "derived.m_attn", "().__class__", ("m_attn",)),
    ("derived-huge-pow", "derived.m_attn", "10**10**10", ("m_attn",)),
    ("derived-divzero", "derived.m_attn", "m_qkv // 0", ("m_attn",)),
    ("derived-string", "derived.m_attn", "'abc'", ("m_attn",)),
    ("derived-also-searched", "derived.m_ffn", "m_qkv * 2", ("m_ffn",)),
    ("derived-unknown-param", "derived.m_nope", "m_qkv * 2", ("m_nope",)),
    ("objectives-map", "objectives", {"metric": "power_w"}, ("objectives",)),
    ("objectives-int", "objectives", 3, ("objectives",)),
    ("objectives-empty", "objectives", [], ("objectives",)),
    ("objectives-item-int", "objectives.0", 3, ("objectives",)),
    ("objectives-item-list", "objectives.0", [], ("objectives",)),
    ("objectives-item-empty", "objectives.0", {}, ("objectives",)),
    ("objectives-metric-unknown", "objectives.0.metric", "speed", ("metric",)),
    ("objectives-metric-list", "objectives.0.metric", [], ("metric",)),
    ("objectives-direction-up", "objectives.0.direction", "up", ("direction",)),
    ("objectives-direction-int", "objectives.0.direction", 1, ("direction",)),
    ("objectives-dup", "objectives.1.metric", "decode_tokens_per_s", ("metric",)),
    ("objectives-extra-key", "objectives.0.weight", 2, ("objectives",)),
    ("constraints-list", "constraints", [], ("constraints",)),
    ("constraints-str", "constraints", "lut<0.8", ("constraints",)),
    ("constraints-maxutil-list", "constraints.max_util", [], ("max_util",)),
    ("constraints-maxutil-str", "constraints.max_util.lut", "high", ("lut",)),
    ("constraints-maxutil-neg", "constraints.max_util.lut", -0.5, ("lut",)),
    ("constraints-maxutil-unknown", "constraints.max_util.luts", 0.5, ("luts",)),
    ("constraints-maxutil-list-val", "constraints.max_util.lut", [0.5], ("lut",)),
    ("constraints-clock-list", "constraints.min_clock_mhz", [], ("min_clock_mhz",)),
    ("constraints-clock-neg", "constraints.min_clock_mhz", -200, ("min_clock_mhz",)),
    ("constraints-clock-str", "constraints.min_clock_mhz", "fast", ("min_clock_mhz",)),
    ("constraints-feasible-str", "constraints.feasible", "yes", ("feasible",)),
    ("constraints-unknown", "constraints.maxutil", {}, ("maxutil",)),
    ("constraints-min-list", "constraints.min", [], ("min",)),
    ("constraints-min-unknown", "constraints.min", {"speed": 1}, ("speed",)),
    ("constraints-max-str", "constraints.max", {"power_w": "low"}, ("power_w",)),
    ("budget-list", "budget", [], ("budget",)),
    ("budget-int", "budget", 20, ("budget",)),
    ("budget-empty", "budget", {}, ("budget",)),
    ("budget-trials-neg", "budget.trials", -5, ("trials",)),
    ("budget-trials-zero", "budget.trials", 0, ("trials",)),
    ("budget-trials-str", "budget.trials", "abc", ("trials",)),
    ("budget-trials-list", "budget.trials", [], ("trials",)),
    ("budget-trials-float", "budget.trials", 2.5, ("trials",)),
    ("budget-timeout-neg", "budget.timeout_s", -1, ("timeout_s",)),
    ("budget-timeout-str", "budget.timeout_s", "1h", ("timeout_s",)),
    ("budget-unknown", "budget.trails", 3, ("budget",)),
    ("sampler-list", "sampler", [], ("sampler",)),
    ("sampler-int", "sampler", 3, ("sampler",)),
    ("sampler-unknown", "sampler", "nsga4", ("sampler",)),
    ("sampler-null", "sampler", None, ("sampler",)),
    ("sampler-name-list", "sampler", {"name": []}, ("sampler",)),
    ("sampler-name-missing", "sampler", {"seed": 1}, ("sampler",)),
    ("seed-neg", "seed", -1, ("seed",)),
    ("seed-str", "seed", "abc", ("seed",)),
    ("seed-list", "seed", [], ("seed",)),
    ("seed-float", "seed", 1.5, ("seed",)),
    ("batch-zero", "batch_size", 0, ("batch_size",)),
    ("batch-list", "batch_size", [], ("batch_size",)),
    ("batch-huge", "batch_size", 10**9, ("batch_size",)),
    ("storage-list", "storage", [], ("storage",)),
    ("storage-int", "storage", 3, ("storage",)),
    ("storage-plain", "storage", "optuna.db", ("storage",)),
    ("build-list", "build", [], ("build",)),
    ("build-int", "build", 3, ("build",)),
    ("build-str", "build", "yes", ("build",)),
    ("build-flow-list", "build", {"flow": []}, ("flow",)),
    ("build-flow-map", "build", {"flow": {"a": 1}}, ("flow",)),
    ("build-flow-unknown", "build", {"flow": "quartus"}, ("flow",)),
    ("build-flow-int", "build", {"flow": 3}, ("flow",)),
    ("build-template-list", "build", {"template": []}, ("template",)),
    ("build-template-unknown", "build", {"template": "nope"}, ("template",)),
    ("build-every-neg", "build", {"every": -1}, ("every",)),
    ("build-every-list", "build", {"every": []}, ("every",)),
    ("build-every-str", "build", {"every": "often"}, ("every",)),
    ("build-topk-zero", "build", {"top_k": 0}, ("top_k",)),
    ("build-topk-float", "build", {"top_k": 1.5}, ("top_k",)),
    ("build-budget-neg", "build", {"budget": -1}, ("budget",)),
    ("build-wait-str", "build", {"wait": "yes"}, ("wait",)),
    ("build-atend-int", "build", {"at_end": 2}, ("at_end",)),
    ("build-nothing", "build", {"at_end": False}, ("build",)),
    ("build-diversity-neg", "build", {"diversity": -1}, ("diversity",)),
    ("build-diversity-list", "build", {"diversity": []}, ("diversity",)),
    ("build-margin-big", "build", {"clock_margin": 0.9}, ("clock_margin",)),
    ("build-timeout-zero", "build", {"step_timeout_s": 0}, ("step_timeout_s",)),
    ("build-hosts-list", "build", {"hosts": []}, ("hosts",)),
    ("build-hosts-missing", "build", {"hosts": "nope.yaml"}, ("hosts",)),
    ("build-hosts-empty", "build", {"hosts": ""}, ("hosts",)),
    ("build-unknown", "build", {"flwo": "ecp5"}, ("flwo",)),
    ("build-concurrent-zero", "build", {"max_concurrent": 0}, ("max_concurrent",)),
    ("description-list", "description", ["a"], ("description",)),
]


def _config_value_cases() -> list[Case]:
    out = []
    for cid, key, value, expect in CONFIG_VALUES:
        text = _dump(_with(BASE, key, value))
        out.append(
            Case(
                f"cfgv-{cid}",
                ("estimate", "{d}/study.yaml"),
                {"study.yaml": text},
                ("study.yaml", *expect),
            )
        )
    return out


# --set overrides: the error must name --set, not a line of the file.
SETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("no-equals", "design.m_ffn", ("--set",)),
    ("empty-key", "=3", ("--set",)),
    ("unknown-top", "nope.key=1", ("--set", "nope")),
    ("arch-list", "arch=[]", ("--set", "arch")),
    ("arch-unknown", "arch=spacial", ("--set", "arch")),
    ("workload-int", "workload=3", ("--set", "workload")),
    ("name-slash", "name=a/b", ("--set", "name")),
    ("version-2", "version=2", ("--set", "version")),
    ("design-list", "design=[]", ("--set", "design")),
    ("quant-unknown", "design.quant=w3a3", ("--set", "quant")),
    ("m-ffn-neg", "design.m_ffn=-3", ("--set", "m_ffn")),
    ("space-type", "space.m_ffn.type=nope", ("--set", "m_ffn")),
    ("space-low", "space.m_ffn.low=abc", ("--set", "m_ffn")),
    ("budget-trials", "budget.trials=-1", ("--set", "trials")),
    ("sampler", "sampler=nsga4", ("--set", "sampler")),
    ("when", "space.density_ffn.when=sparsity > 3", ("--set", "when")),
    ("objective", "objectives=[]", ("--set", "objectives")),
    ("build-flow", "build.flow=[]", ("--set", "flow")),
    ("seed", "seed=x", ("--set", "seed")),
    ("platform", "platform=u9999", ("--set", "platform")),
    ("bad-yaml", "design.quant=[unclosed", ("--set", "quant")),
    ("alias", "design.quant=*x", ("--set",)),
    ("deep", "design.quant=" + "[" * 200 + "]" * 200, ("--set",)),
    ("constraint", "constraints.max_util.lut=high", ("--set", "lut")),
]


def _set_cases() -> list[Case]:
    return [
        Case(
            f"set-{cid}",
            ("estimate", "{d}/study.yaml", "--set", text),
            {"study.yaml": BASE_TEXT},
            expect,
        )
        for cid, text, expect in SETS
    ]


HOSTS_VALUES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("hosts-missing", "hosts", "_DEL_", ("hosts",)),
    ("hosts-empty", "hosts", [], ("hosts",)),
    ("hosts-map", "hosts", {"a": 1}, ("hosts",)),
    ("hosts-str", "hosts", "here", ("hosts",)),
    ("host-int", "hosts.0", 3, ("hosts",)),
    ("host-list", "hosts.0", [], ("hosts",)),
    ("host-empty", "hosts.0", {}, ("hosts",)),
    ("name-missing", "hosts.0.name", "_DEL_", ("name",)),
    ("name-space", "hosts.0.name", "a b", ("name",)),
    ("name-slash", "hosts.0.name", "../x", ("name",)),
    ("name-list", "hosts.0.name", [], ("name",)),
    ("name-empty", "hosts.0.name", "", ("name",)),
    ("name-dup", "hosts.1.name", "here", ("here",)),
    ("flows-empty", "hosts.0.flows", [], ("flows",)),
    ("flows-unknown", "hosts.0.flows", ["quartus"], ("flows",)),
    ("flows-str", "hosts.0.flows", "ecp5", ("flows",)),
    ("flows-int", "hosts.0.flows", [3], ("flows",)),
    ("flows-map", "hosts.0.flows", {"ecp5": 1}, ("flows",)),
    ("local-str", "hosts.0.local", "yes", ("local",)),
    ("local-and-ssh", "hosts.0.ssh", {"host": "x"}, ("here",)),
    ("no-place", "hosts.0.local", False, ("here",)),
    ("ssh-list", "hosts.1.ssh", [], ("ssh",)),
    ("ssh-str", "hosts.1.ssh", "127.0.0.1", ("ssh",)),
    ("ssh-empty", "hosts.1.ssh", {}, ("host",)),
    ("ssh-host-empty", "hosts.1.ssh.host", "", ("host",)),
    ("ssh-host-list", "hosts.1.ssh.host", [], ("host",)),
    ("ssh-port-zero", "hosts.1.ssh.port", 0, ("port",)),
    ("ssh-port-big", "hosts.1.ssh.port", 70000, ("port",)),
    ("ssh-port-list", "hosts.1.ssh.port", [], ("port",)),
    ("ssh-port-str", "hosts.1.ssh.port", "ssh", ("port",)),
    ("ssh-user-list", "hosts.1.ssh.user", [], ("user",)),
    ("ssh-key-map", "hosts.1.ssh.key", {"a": 1}, ("key",)),
    ("ssh-jump-space", "hosts.1.ssh.jump", "a b", ("jump",)),
    ("ssh-jump-port", "hosts.1.ssh.jump", "gw:99999", ("jump",)),
    ("ssh-jump-portword", "hosts.1.ssh.jump", "gw:ssh", ("jump",)),
    ("ssh-jump-list", "hosts.1.ssh.jump", [], ("jump",)),
    ("ssh-jump-at", "hosts.1.ssh.jump", "@", ("jump",)),
    ("ssh-jump-cmd", "hosts.1.ssh.jump", "gw;touch x", ("jump",)),
    ("ssh-timeout-zero", "hosts.1.ssh.connect_timeout_s", 0, ("connect_timeout_s",)),
    ("ssh-timeout-str", "hosts.1.ssh.connect_timeout_s", "soon", ("connect_timeout_s",)),
    ("ssh-unknown", "hosts.1.ssh.hostname", "x", ("hostname",)),
    ("ssh-accept-str", "hosts.1.ssh.accept_unknown_host_keys", "maybe", ("accept",)),
    ("ssh-config-missing", "ssh_config", "nope_config", ("ssh_config",)),
    ("ssh-config-list", "ssh_config", [], ("ssh_config",)),
    ("slots-list", "hosts.0.slots", [], ("slots",)),
    ("slots-neg", "hosts.0.slots", {"ecp5": -1}, ("slots",)),
    ("slots-str", "hosts.0.slots", {"ecp5": "two"}, ("slots",)),
    ("slots-unknown-flow", "hosts.0.slots", {"vivado": 1}, ("slots",)),
    ("licences-list", "hosts.1.licences", [], ("licences",)),
    ("licences-unknown-pool", "hosts.1.licences", {"vivado": "nope"}, ("nope",)),
    ("pools-list", "licence_pools", [], ("licence_pools",)),
    ("pools-neg", "licence_pools", {"seats": -1}, ("seats",)),
    ("pools-str", "licence_pools", {"seats": "many"}, ("seats",)),
    ("unknown-top", "hostz", [], ("hostz",)),
    ("unknown-host-key", "hosts.0.flow", ["ecp5"], ("flow",)),
    ("workdir-list", "hosts.0.workdir", [], ("workdir",)),
    ("setup-map", "hosts.0.setup", {"a": 1}, ("setup",)),
    ("disk-neg", "hosts.0.max_disk_gb", -1, ("max_disk_gb",)),
    ("mem-str", "hosts.0.max_memory_gb", "lots", ("max_memory_gb",)),
    ("ray-node-list", "hosts.0.ray_node", [], ("ray_node",)),
]


def _hosts_cases() -> list[Case]:
    out = [
        Case(
            f"hosts-{name}",
            ("hosts", "check", "{d}/hosts.yaml"),
            {"hosts.yaml": text},
            ("hosts.yaml",),
        )
        for name, text, _ in RAW_YAML
    ]
    out += [
        Case("hosts-file-missing", ("hosts", "check", "{d}/nope.yaml"), {}, ("nope.yaml",)),
        Case("hosts-file-dir", ("hosts", "check", "{d}/sub"), {"sub/x": ""}, ("sub",)),
        Case(
            "hosts-dup-host-key",
            ("hosts", "check", "{d}/hosts.yaml"),
            {"hosts.yaml": "version: 1\nhosts:\n  - name: a\n    name: b\n    local: true\n"},
            ("hosts.yaml", "name", "duplicate"),
        ),
    ]
    for cid, key, value, expect in HOSTS_VALUES:
        text = _dump(_with(HOSTS, key, value))
        out.append(
            Case(
                f"hostsv-{cid}",
                ("hosts", "check", "{d}/hosts.yaml"),
                {"hosts.yaml": text},
                ("hosts.yaml", *expect),
            )
        )
    return out


def _hf(**changes: Any) -> str:
    d = dict(HF)
    for k, v in changes.items():
        if v == "_DEL_":
            d.pop(k)
        else:
            d[k] = v
    return json.dumps(d)


HF_TEXTS: list[tuple[str, str | bytes, tuple[str, ...]]] = [
    ("empty", "", ()),
    ("list", "[]", ()),
    ("number", "3", ()),
    ("string", '"llama"', ()),
    ("null", "null", ()),
    ("truncated", _hf()[:40], ()),
    ("trailing-comma", '{"model_type": "llama",}', ()),
    ("single-quotes", "{'model_type': 'llama'}", ()),
    ("nan", _hf().replace('"hidden_size": 512', '"hidden_size": NaN'), ("NaN",)),
    ("infinity", _hf().replace('"hidden_size": 512', '"hidden_size": Infinity'), ("Infinity",)),
    ("neg-infinity", _hf().replace('"vocab_size": 1000', '"vocab_size": -Infinity'), ()),
    ("1e400", _hf().replace('"hidden_size": 512', '"hidden_size": 1e400'), ("1e400",)),
    ("huge-int", _hf().replace('"hidden_size": 512', '"hidden_size": ' + "9" * 5000), ()),
    ("deep", '{"model_type": "llama", "x": ' + "[" * 5000 + "]" * 5000 + "}", ("deep",)),
    ("deep-100", '{"model_type": "llama", "x": ' + "[" * 100 + "]" * 100 + "}", ("deep",)),
    ("utf16", _hf().encode("utf-16"), ("UTF-16",)),
    ("latin1", _hf().replace("llama", "caf\xe9").encode("latin-1"), ("UTF-8",)),
    ("nul", _hf().encode() + b"\x00", ()),
    ("no-model-type", _hf(model_type="_DEL_"), ("model_type",)),
    ("model-type-list", _hf(model_type=[]), ("model_type",)),
    ("model-type-unknown", _hf(model_type="llamma"), ("model_type",)),
    ("hidden-missing", _hf(hidden_size="_DEL_"), ("hidden_size",)),
    ("hidden-str", _hf(hidden_size="512"), ("hidden_size",)),
    ("hidden-list", _hf(hidden_size=[512]), ("hidden_size",)),
    ("hidden-map", _hf(hidden_size={"a": 1}), ("hidden_size",)),
    ("hidden-zero", _hf(hidden_size=0), ("hidden_size",)),
    ("hidden-neg", _hf(hidden_size=-512), ("hidden_size",)),
    ("hidden-float", _hf(hidden_size=512.5), ("hidden_size",)),
    ("hidden-bool", _hf(hidden_size=True), ("hidden_size",)),
    (
        "hidden-lt-heads",
        _hf(hidden_size=4, num_attention_heads=8, num_key_value_heads=8),
        ("hidden_size",),
    ),
    ("heads-zero", _hf(num_attention_heads=0), ("num_attention_heads",)),
    ("heads-str", _hf(num_attention_heads="8"), ("num_attention_heads",)),
    ("kv-not-divide", _hf(num_key_value_heads=3), ("num_key_value_heads",)),
    ("kv-zero", _hf(num_key_value_heads=0), ("num_key_value_heads",)),
    ("layers-neg", _hf(num_hidden_layers=-1), ("num_hidden_layers",)),
    ("layers-list", _hf(num_hidden_layers=[4]), ("num_hidden_layers",)),
    ("vocab-zero", _hf(vocab_size=0), ("vocab_size",)),
    ("vocab-missing", _hf(vocab_size="_DEL_"), ("vocab_size",)),
    ("ffn-str", _hf(intermediate_size="big"), ("intermediate_size",)),
    ("ffn-zero", _hf(intermediate_size=0), ("intermediate_size",)),
    ("headdim-neg", _hf(head_dim=-1), ("head_dim",)),
    ("maxpos-str", _hf(max_position_embeddings="x"), ("max_position_embeddings",)),
    ("duplicate-key", _hf().replace("{", '{"hidden_size": 64, ', 1), ("hidden_size", "duplicate")),
]


def _hf_cases() -> list[Case]:
    study = _dump(_with(BASE, "workload", {"hf_config": "config.json", "batch": 1}))
    out = [
        Case(
            f"hf-{cid}",
            ("estimate", "{d}/study.yaml"),
            {"study.yaml": study, "config.json": text},
            ("config.json", *expect),
        )
        for cid, text, expect in HF_TEXTS
    ]
    out += [
        Case(
            "hf-directory",
            ("estimate", "{d}/study.yaml"),
            {
                "study.yaml": _dump(_with(BASE, "workload", {"hf_config": "sub", "batch": 1})),
                "sub/config.json": _hf(),
            },
            ("sub", "directory"),
        ),
        Case(
            "hf-dev-zero",
            ("estimate", "{d}/study.yaml"),
            {"study.yaml": _dump(_with(BASE, "workload", {"hf_config": "/dev/zero", "batch": 1}))},
            ("/dev/zero",),
        ),
    ]
    return out


PLATFORM_TEXTS: list[tuple[str, str | bytes, tuple[str, ...]]] = [
    ("empty", "", ()),
    ("list", "[]", ()),
    ("bomb", BOMB, ("alias",)),
    ("deep", "a: " + "[" * 3000 + "]" * 3000, ("deep",)),
    ("dup", "version: 1\nversion: 1\n", ("duplicate",)),
    ("utf16", "version: 1\n".encode("utf-16"), ("UTF-16",)),
    ("version-2", "version: 2\nkind: fpga\n", ("version",)),
    ("kind-unknown", "version: 1\nkind: asic\nname: x\n", ("kind",)),
    ("kind-list", "version: 1\nkind: []\nname: x\n", ("kind",)),
    ("fpga-empty", "version: 1\nkind: fpga\n", ()),
    ("gpu-missing", "version: 1\nkind: gpu\nname: g\n", ()),
]


def _platform_cases() -> list[Case]:
    study = _dump(_with(BASE, "platform", "board.yaml"))
    folder = Case(
        "plat-directory",
        ("estimate", "{d}/study.yaml"),
        {"study.yaml": study, "board.yaml/x": "1"},
        ("board.yaml", "is a directory"),
    )
    return [folder] + [
        Case(
            f"plat-{cid}",
            ("estimate", "{d}/study.yaml"),
            {"study.yaml": study, "board.yaml": text},
            ("board.yaml", *expect),
        )
        for cid, text, expect in PLATFORM_TEXTS
    ]


REPORTS: list[tuple[str, str | bytes]] = [
    ("empty", ""),
    ("whitespace", "   \n\n"),
    ("binary", bytes(range(256)) * 16),
    ("json-list", "[1, 2, 3]"),
    ("json-deep", "{" + '"a": {' * 3000 + "}" * 3001),
    ("json-deep-list", '{"modules": ' + "[" * 5000 + "]" * 5000 + "}"),
    ("json-nextpnr-truncated", '{"fmax": {"clk": {"achieved": 1'),
    ("json-nextpnr-wrong-types", '{"fmax": [], "utilization": 3}'),
    ("json-nextpnr-strings", '{"fmax": {"clk": {"achieved": "fast", "constraint": "x"}}}'),
    ("json-yosys-stat-wrong", '{"modules": {"top": {"num_cells": "many"}}, "design": []}'),
    ("json-yosys-netlist-wrong", '{"modules": {"top": {"cells": 3}}}'),
    ("json-yosys-netlist-cells-list", '{"modules": {"top": {"cells": [1, 2]}}}'),
    ("json-utf16", '{"fmax": {}}'.encode("utf-16")),
    ("xml-broken", "<?xml version='1.0'?><profile><AreaEstimates>"),
    (
        "xml-billion-laughs",
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            + "".join(
                f'<!ENTITY {n} "{("&" + p + ";") * 10}">'
                for p, n in zip("abcdef", "bcdefg", strict=True)
            )
            + "]><profile><AreaEstimates>&g;</AreaEstimates></profile>"
        ),
    ),
    ("xml-deep", "<?xml version='1.0'?><profile>" + "<a>" * 5000 + "</a>" * 5000 + "</profile>"),
    (
        "vivado-util-head-only",
        "Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.\n"
        "| Tool Version : Vivado v.2023.2\n| Command      : report_utilization\n",
    ),
    (
        "timing-head-only",
        "| Tool Version : Vivado v.2023.2\n| Command      : report_timing_summary\n",
    ),
    ("csynth-head-only", "== Vitis HLS Report for 'top'\n"),
    ("random-text", "hello world\nthis is not a report\n"),
]


def _report_cases() -> list[Case]:
    out = [
        Case(f"report-{cid}", ("report", "parse", "{d}/r.txt"), {"r.txt": text}, ("r.txt",))
        for cid, text in REPORTS
    ]
    out += [
        Case(
            f"report-json-{cid}",
            ("report", "parse", "--json", "{d}/r.txt"),
            {"r.txt": text},
            ("r.txt",),
        )
        for cid, text in REPORTS
        if cid.startswith("json")
    ]
    out += [
        Case("report-missing", ("report", "parse", "{d}/nope.rpt"), {}, ("nope.rpt",)),
        Case("report-dir", ("report", "parse", "{d}/sub"), {"sub/x": ""}, ("sub",)),
        Case("report-dev-zero", ("report", "parse", "/dev/zero"), {}, ("/dev/zero",)),
    ]
    return out


ARGV: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("unknown-command", ("bogus",), ("bogus",)),
    ("unknown-option", ("--bogus",), ("--bogus",)),
    ("sweep-no-config", ("sweep",), ("config",)),
    ("sweep-trials-neg", ("sweep", "{d}/study.yaml", "--trials", "-5"), ("--trials",)),
    ("sweep-trials-zero", ("sweep", "{d}/study.yaml", "--trials", "0"), ("--trials",)),
    ("sweep-trials-abc", ("sweep", "{d}/study.yaml", "--trials", "abc"), ("--trials",)),
    ("sweep-trials-float", ("sweep", "{d}/study.yaml", "--trials", "1.5"), ("--trials",)),
    ("sweep-trials-empty", ("sweep", "{d}/study.yaml", "--trials", ""), ("--trials",)),
    ("sweep-trials-missing-value", ("sweep", "{d}/study.yaml", "--trials"), ("--trials",)),
    ("sweep-timeout-neg", ("sweep", "{d}/study.yaml", "--timeout", "-1"), ("--timeout",)),
    ("sweep-timeout-nan", ("sweep", "{d}/study.yaml", "--timeout", "nan"), ("--timeout",)),
    ("sweep-timeout-word", ("sweep", "{d}/study.yaml", "--timeout", "soon"), ("--timeout",)),
    ("sweep-unknown-option", ("sweep", "{d}/study.yaml", "--trails", "3"), ("--trails",)),
    ("sweep-extra-arg", ("sweep", "{d}/study.yaml", "extra"), ("extra",)),
    ("estimate-no-config", ("estimate",), ("config",)),
    ("estimate-two-configs", ("estimate", "{d}/study.yaml", "{d}/study.yaml"), ()),
    ("estimate-set-no-value", ("estimate", "{d}/study.yaml", "--set"), ("--set",)),
    ("status-unknown-study", ("status", "nostudy", "--results", "{d}/r"), ("nostudy",)),
    ("pareto-no-study", ("pareto",), ("study",)),
    ("pareto-unknown-study", ("pareto", "nostudy", "--results", "{d}/r"), ("nostudy",)),
    ("export-unknown-study", ("export", "nostudy", "--results", "{d}/r"), ("nostudy",)),
    ("export-bad-format", ("export", "nostudy", "--format", "xlsx", "--results", "{d}/r"), ()),
    ("build-no-config", ("build",), ("config",)),
    ("build-point-bad-json", ("build", "{d}/study.yaml", "--point", "{nope"), ("--point",)),
    ("build-point-list", ("build", "{d}/study.yaml", "--point", "[1, 2]"), ("--point",)),
    (
        "build-point-deep",
        ("build", "{d}/study.yaml", "--point", "[" * 5000 + "]" * 5000),
        ("--point",),
    ),
    ("build-point-nan", ("build", "{d}/study.yaml", "--point", '{"m_ffn": NaN}'), ("--point",)),
    (
        "build-point-duplicate",
        ("build", "{d}/study.yaml", "--point", '{"m_ffn": 64, "m_ffn": 128}'),
        ("--point", "m_ffn", "duplicate"),
    ),
    (
        "build-point-missing-file",
        ("build", "{d}/study.yaml", "--point", "@{d}/nope.json"),
        ("nope.json",),
    ),
    ("build-trial-bad", ("build", "{d}/study.yaml", "--trial", "nocolon"), ("--trial",)),
    ("build-trial-notnum", ("build", "{d}/study.yaml", "--trial", "s:abc"), ("--trial",)),
    # a spatial study builds a unit template by name too
    (
        "build-flow-unknown",
        ("build", "{d}/study.yaml", "--template", "llm_top", "--flow", "quartus"),
        ("quartus",),
    ),
    ("build-template-unknown", ("build", "{d}/study.yaml", "--template", "nope"), ("nope",)),
    (
        "build-part-inject",
        (
            "build",
            "{d}/study.yaml",
            "--template",
            "llm_top",
            "--flow",
            "vivado",
            "--part",
            "x [exec touch X]",
        ),
        ("part",),
    ),
    ("hosts-no-file", ("hosts", "check"), ("hosts_file",)),
    ("hosts-unknown-sub", ("hosts", "bogus"), ("bogus",)),
    ("report-no-file", ("report", "parse"), ("file",)),
    ("report-unknown-sub", ("report", "bogus"), ("bogus",)),
    ("release-unknown-sub", ("release", "bogus"), ("bogus",)),
    ("release-show-missing", ("release", "show", "nope", "--results", "{d}/r"), ("nope",)),
    ("release-verify-missing", ("release", "verify", "nope", "--results", "{d}/r"), ("nope",)),
    ("release-show-name-traversal", ("release", "show", "../../etc", "--results", "{d}/r"), ()),
    ("promote-no-name", ("promote", "s", "1"), ("--name",)),
    (
        "promote-unknown-study",
        ("promote", "nostudy", "1", "--name", "r1", "--results", "{d}/r"),
        ("nostudy",),
    ),
    ("templates-unknown-sub", ("templates", "bogus"), ("bogus",)),
    ("dashboard-port-word", ("dashboard", "--port", "http"), ("--port",)),
    ("dashboard-port-neg", ("dashboard", "--port", "-1"), ("--port",)),
]


MORE_ARGV: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("build-point-str-value", ("build", "{d}/study.yaml", "--point", '{"m_ffn": "x"}'), ("m_ffn",)),
    (
        "build-point-unknown",
        ("build", "{d}/study.yaml", "--template", "llm_top", "--point", '{"nope": 1}'),
        ("nope",),
    ),
    ("build-point-1e400", ("build", "{d}/study.yaml", "--point", '{"m_ffn": 1e400}'), ("1e400",)),
    (
        "build-point-dup-key",
        ("build", "{d}/study.yaml", "--point", '{"m_ffn": 1, "m_ffn": "x"}'),
        (),
    ),
    ("build-point-file-utf16", ("build", "{d}/study.yaml", "--point", "@{d}/study.yaml"), ()),
    ("build-trial-no-study", ("build", "{d}/study.yaml", "--trial", "nostudy:1"), ("nostudy",)),
    (
        "build-part-space",
        ("build", "{d}/study.yaml", "--template", "llm_top", "--flow", "vivado", "--part", "a b"),
        ("part",),
    ),
    ("promote-name-traversal", ("promote", "s", "1", "--name", "../x"), ("../x",)),
    ("promote-name-dot", ("promote", "s", "1", "--name", "."), ()),
    ("promote-hosts-missing", ("promote", "s", "1", "--name", "r", "--hosts", "{d}/no.yaml"), ()),
    ("release-show-traversal-2", ("release", "show", "../../etc"), ("../../etc",)),
    (
        "release-verify-bad-digest",
        ("release", "verify", "r1", "--digest", "zz", "--results", "{d}/r"),
        (),
    ),
    ("dashboard-port-zero", ("dashboard", "--port", "0"), ("--port",)),
    ("dashboard-port-huge", ("dashboard", "--port", "70000"), ("--port",)),
    ("hosts-check-dev-null", ("hosts", "check", "/dev/null"), ("/dev/null",)),
    ("report-etc-passwd", ("report", "parse", "/etc/passwd"), ("/etc/passwd",)),
    ("set-1e400", ("estimate", "{d}/study.yaml", "--set", "design.m_qkv=1e400"), ("--set",)),
    ("set-nan", ("estimate", "{d}/study.yaml", "--set", "design.m_qkv=.nan"), ("--set",)),
    (
        "set-huge-int",
        ("estimate", "{d}/study.yaml", "--set", "workload.batch=" + "9" * 30),
        ("--set",),
    ),
    (
        "set-huge-digits",
        ("estimate", "{d}/study.yaml", "--set", "workload.batch=" + "9" * 5000),
        ("--set",),
    ),
    ("set-newline-name", ("estimate", "{d}/study.yaml", "--set", 'name="a\\n"'), ("--set",)),
    ("set-under-scalar", ("estimate", "{d}/study.yaml", "--set", "arch.x=1"), ("--set",)),
    ("set-empty-value-arch", ("estimate", "{d}/study.yaml", "--set", "arch="), ("--set",)),
    ("templates-show-unknown", ("templates", "show", "nope"), ("nope",)),
    ("models-extra-arg", ("models", "extra"), ("extra",)),
]


def _argv_cases() -> list[Case]:
    return [
        Case(f"argv-{cid}", argv, {"study.yaml": BASE_TEXT}, expect)
        for cid, argv, expect in ARGV + MORE_ARGV
    ]


def _storage_cases() -> list[Case]:
    """Odd --results / --storage / -o paths and broken databases."""
    sweep = ("sweep", "{d}/study.yaml", "--trials", "2", "--no-builds", "-q")
    files: dict[str, str | bytes] = {"study.yaml": BASE_TEXT}
    corrupt = {**files, "r/adv/optuna.db": b"this is not a database" * 100}
    return [
        Case(
            "storage-results-is-file",
            (*sweep, "--results", "{d}/study.yaml"),
            files,
            ("study.yaml",),
        ),
        Case(
            "storage-results-under-file",
            (*sweep, "--results", "{d}/study.yaml/sub"),
            files,
            ("study.yaml",),
        ),
        Case("storage-results-dev-null", (*sweep, "--results", "/dev/null"), files, ("/dev/null",)),
        Case("storage-results-proc", (*sweep, "--results", "/proc/nope"), files, ("/proc",)),
        Case("storage-url-garbage", (*sweep, "--storage", "not a url"), files, ("storage",)),
        Case(
            "storage-url-unknown-scheme",
            (*sweep, "--storage", "mongodb://x/y"),
            files,
            ("mongodb",),
        ),
        Case("storage-url-sqlite-dir", (*sweep, "--storage", "sqlite:///{d}"), files, ("storage",)),
        Case(
            "storage-url-sqlite-under-file",
            (*sweep, "--storage", "sqlite:///{d}/study.yaml/x.db"),
            files,
            ("storage", "cannot create"),
        ),
        Case(
            "storage-url-sqlite-proc",
            (*sweep, "--storage", "sqlite:////proc/x/y.db"),
            files,
            ("storage", "/proc/x"),
        ),
        Case(
            "storage-status-missing-db",
            ("status", "--storage", "sqlite:///{d}/none.db"),
            files,
            ("no such database file",),
        ),
        Case(
            "storage-pareto-missing-db",
            ("pareto", "adv", "--storage", "sqlite:///{d}/none.db"),
            files,
            ("no such database file",),
        ),
        Case(
            "storage-url-postgres-refused",
            (*sweep, "--storage", "postgresql://u@127.0.0.1:1/db"),
            files,
            ("127.0.0.1",),
        ),
        Case("storage-corrupt-db-sweep", (*sweep, "--results", "{d}/r"), corrupt, ("optuna.db",)),
        Case(
            "storage-corrupt-db-status", ("status", "--results", "{d}/r"), corrupt, ("optuna.db",)
        ),
        Case(
            "storage-corrupt-db-status-one",
            ("status", "adv", "--results", "{d}/r"),
            corrupt,
            ("optuna.db",),
        ),
        Case(
            "storage-corrupt-db-pareto",
            ("pareto", "adv", "--results", "{d}/r"),
            corrupt,
            ("optuna.db",),
        ),
        Case(
            "storage-corrupt-db-export",
            ("export", "adv", "--results", "{d}/r"),
            corrupt,
            ("optuna.db",),
        ),
        Case(
            "storage-empty-db-status",
            ("status", "adv", "--results", "{d}/r"),
            {"r/adv/optuna.db": b""},
            ("adv",),
        ),
        Case(
            "storage-status-results-file",
            ("status", "--results", "{d}/study.yaml"),
            files,
            ("study.yaml",),
        ),
        Case(
            "storage-export-o-dir", ("export", "adv", "--results", "{d}/r", "-o", "{d}"), files, ()
        ),
    ]


def _sampler_cases() -> list[Case]:
    """Sampler options are checked against Optuna's own constructors."""
    bad = [
        ("nsga2-pop-str", {"name": "nsga2", "population_size": "big"}, ("population_size",)),
        ("nsga2-pop-list", {"name": "nsga2", "population_size": []}, ("population_size",)),
        ("nsga2-pop-one", {"name": "nsga2", "population_size": 1}, ("population_size",)),
        ("nsga2-mutation-str", {"name": "nsga2", "mutation_prob": "often"}, ("mutation_prob",)),
        ("nsga2-crossover-unknown", {"name": "nsga2", "crossover": "nope"}, ("crossover",)),
        ("nsga2-crossover-list", {"name": "nsga2", "crossover": []}, ("crossover",)),
        ("nsga2-crossover-prob-big", {"name": "nsga2", "crossover_prob": 3}, ("crossover_prob",)),
        ("nsga2-unknown-option", {"name": "nsga2", "populaton_size": 10}, ("populaton_size",)),
        ("tpe-startup-str", {"name": "tpe", "n_startup_trials": "ten"}, ("n_startup_trials",)),
        ("tpe-startup-neg", {"name": "tpe", "n_startup_trials": -1}, ("n_startup_trials",)),
        ("tpe-ei-list", {"name": "tpe", "n_ei_candidates": []}, ("n_ei_candidates",)),
        ("tpe-multivariate-str", {"name": "tpe", "multivariate": "yes"}, ("multivariate",)),
        ("tpe-avoid-str", {"name": "tpe", "avoid_repeats": "yes"}, ("avoid_repeats",)),
        ("tpe-unknown-option", {"name": "tpe", "n_startup": 3}, ("n_startup",)),
        ("random-unknown-option", {"name": "random", "speed": 3}, ("speed",)),
    ]
    return [
        Case(
            f"sampler-{cid}",
            ("sweep", "{d}/study.yaml", "--trials", "3", "--no-builds", "-q", "--results", "{d}/r"),
            {"study.yaml": _dump(_with(BASE, "sampler", spec))},
            ("study.yaml:", *expect),
        )
        for cid, spec, expect in bad
    ]


def all_cases() -> list[Case]:
    cases = (
        _config_file_cases()
        + _config_value_cases()
        + _set_cases()
        + _hosts_cases()
        + _hf_cases()
        + _platform_cases()
        + _report_cases()
        + _argv_cases()
        + _storage_cases()
        + _sampler_cases()
    )
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases
