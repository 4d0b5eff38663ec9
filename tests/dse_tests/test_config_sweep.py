"""Study-config search sections: malformed configs give one clear line and exit code 2;
the search space samples and enumerates (conditionals, derived keys) correctly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from sweep_cases import BASE, cli, sub

import cost_models as cm
from dse._expr import ExprError, compile_expr
from dse.config import load_config, sample_columns
from dse.space import SpaceError

ROOT = Path(__file__).resolve().parents[2]

# (config text, extra CLI args, anchored pattern of the one error line)
BAD = [
    (
        sub("  m_qkv:", "  m_qvk:"),
        [],
        r"study\.yaml:9: space\.m_qvk: unknown spatial design "
        r"parameter.*did you mean 'm_qkv'",
    ),
    (
        sub("  quant: w4a8", "  quant: w4a8\n  m_ffn: 512"),
        [],
        r"study\.yaml:11: space\.m_ffn: also fixed in design: \(line 8\).*either fixed or searched",
    ),
    (
        sub("low: 1, high: 4}", "low: 5, high: 4}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.low: low \(5\) is greater than high \(4\)",
    ),
    (
        sub("low: 64, high: 1024", "low: 64, high: 1000"),
        [],
        r"study\.yaml:9: space\.m_qkv\.high: expected a power of two, got 1000",
    ),
    (
        sub("{type: int, low: 1", "{type: intt, low: 1"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.type: expected one of int, pow2, float, "
        r"categorical, got 'intt'.*did you mean 'int'",
    ),
    (
        sub("low: 1, high: 4}", "low: 1, hihg: 4}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.hihg: unknown key.*did you mean 'high'",
    ),
    (
        sub("  sparsity: [none, nm]", "  sparsity: [none, nm]\n  quant: [w4a8]"),
        [],
        r"study\.yaml:13: space\.quant: also fixed in design",
    ),
    (
        sub("[none, nm]", "[none, nmm]"),
        [],
        r"study\.yaml:12: space\.sparsity\.choices\[1\]: expected one of none, nm, log, "
        r"got 'nmm'.*did you mean 'nm'",
    ),
    (
        sub("low: 1, high: 4}", "low: 1, high: 5000}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.high: expected an integer in \[1, 1024\], "
        r"got 5000",
    ),
    (
        sub("sparsity == 'nm'", "sparsity = 'nm'"),
        [],
        r"study\.yaml:13: space\.density_ffn\.when: not a valid expression",
    ),
    (
        sub("sparsity == 'nm'", "sparsty == 'nm'"),
        [],
        r"study\.yaml:13: space\.density_ffn\.when: 'sparsty' is not a design parameter or a "
        r"space parameter declared before 'density_ffn'.*did you mean 'sparsity'",
    ),
    (
        sub("sparsity == 'nm'", "__import__('os').system('true')"),
        [],
        r"study\.yaml:13: space\.density_ffn\.when: function '__import__'"
        r"|study\.yaml:13: space\.density_ffn\.when: .*is not allowed",
    ),
    (
        sub("  m_attn:", "  m_atn:"),
        [],
        r"study\.yaml:15: derived\.m_atn: unknown spatial design parameter.*did you mean 'm_attn'",
    ),
    (
        sub("max(1, m_qkv // 8)", "max(1, m_qvk // 8)"),
        [],
        r"study\.yaml:15: derived\.m_attn: 'm_qvk' is not a design, space or earlier derived "
        r"parameter.*did you mean 'm_qkv'",
    ),
    (
        sub("max(1, m_qkv // 8)", "m_qkv - 100000"),
        [],
        r"study\.yaml:15: derived\.m_attn: gives invalid values: expected an integer in \[1, ",
    ),
    (
        sub("metric: decode_tokens_per_s", "metric: decode_token_per_s"),
        [],
        r"study\.yaml:17: objectives\[0\]\.metric: unknown metric 'decode_token_per_s'.*"
        r"did you mean 'decode_tokens_per_s'",
    ),
    (
        sub("metric: power_w", "metric: violations"),
        [],
        r"study\.yaml:18: objectives\[1\]\.metric: unknown metric 'violations'; expected a "
        r"numeric cost-model column",
    ),
    (
        sub("direction: maximize", "direction: maximise"),
        [],
        r"study\.yaml:17: objectives\[0\]\.direction: expected maximize or minimize, got "
        r"'maximise'.*did you mean 'maximize'",
    ),
    (
        BASE.split("objectives:")[0] + "budget: {trials: 3}\n",
        [],
        r"study\.yaml:8: objectives: missing; a study with space: needs objectives",
    ),
    (
        sub("  max_util:", "  max_utl:"),
        [],
        r"study\.yaml:20: constraints\.max_utl: unknown key.*did you mean 'max_util'",
    ),
    (
        sub("{lut: 0.8, dsp: 0.9}", "{lut: 0.8, dsps: 0.9}"),
        [],
        r"study\.yaml:20: constraints\.max_util\.dsps: unknown resource.*did you mean 'dsp'",
    ),
    (
        sub("{lut: 0.8, dsp: 0.9}", "{lut: 1.5, dsp: 0.9}"),
        [],
        r"study\.yaml:20: constraints\.max_util\.lut: expected a fraction in \(0, 1\], got 1\.5",
    ),
    (
        sub("budget: {trials: 300}", "budget: {trails: 300}"),
        [],
        r"study\.yaml:22: budget\.trails: unknown key.*did you mean 'trials'",
    ),
    (
        sub("budget: {trials: 300}", "budget: {}"),
        [],
        r"study\.yaml:22: budget: has neither trials: nor timeout_s:",
    ),
    (
        sub("budget: {trials: 300}", "budget: {trials: -3}"),
        [],
        r"study\.yaml:22: budget\.trials: expected a positive integer, got -3",
    ),
    (
        sub("sampler: nsga2", "sampler: nsga"),
        [],
        r"study\.yaml:23: sampler: unknown sampler 'nsga'.*did you mean 'nsga2'",
    ),
    (
        sub("sampler: nsga2", "sampler: {name: tpee, n_startup_trials: 5}"),
        [],
        r"study\.yaml:23: sampler\.name: unknown sampler 'tpee'.*did you mean 'tpe'",
    ),
    (
        sub("sampler: nsga2", "sampler: grid").replace(
            "  sparsity: [none, nm]",
            "  freq_mhz: {type: float, low: 150, high: 300}\n  sparsity: [none, nm]",
        ),
        [],
        r"study\.yaml:24: sampler: grid enumerates the space, but space\.freq_mhz is a float "
        r"without step",
    ),
    (sub("seed: 0", "seed: -1"), [], r"study\.yaml:24: seed: expected a non-negative integer"),
    (
        sub("batch_size: 30", "batch_size: 0"),
        [],
        r"study\.yaml:25: batch_size: expected an integer in \[1, 100000\], got 0",
    ),
    (
        BASE + "storage: results/t.db\n",
        [],
        r"study\.yaml:26: storage: expected a database URL such as sqlite:///",
    ),
    (sub("name: t", "name: my study"), [], r"study\.yaml:2: name: expected letters, digits"),
    (
        sub("low: 1, high: 4}", "low: 1, high: 4, log: true, step: 2}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.step: log: true cannot be combined with a step",
    ),
    (
        sub("{type: int, low: 1, high: 4}", "{type: float, low: 1, high: 4}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.type: layers_per_fpga is an integer; use "
        r"type: int or pow2",
    ),
    (
        sub("  sparsity: [none, nm]", "  sparsity: {type: int, low: 0, high: 2}"),
        [],
        r"study\.yaml:12: space\.sparsity\.type: sparsity takes one of none, nm, log; search it "
        r"as type: categorical",
    ),
    (
        BASE,
        ["--set", "space.m_ffn.low=100"],
        # A --set value is blamed on the --set, not on the file line it replaced (issue 12).
        r"--set space\.m_ffn\.low=100: space\.m_ffn\.low: expected a power of two, got 100",
    ),
    (
        sub("  m_qkv: {type: pow2, low: 64, high: 1024}", "  m_qkv: {type: pow2, high: 1024}"),
        [],
        r"study\.yaml:9: space\.m_qkv\.low: missing; a pow2 parameter needs low and high",
    ),
    (
        sub("low: 1, high: 4}", "low: 1, high: 4, default: 9}"),
        [],
        r"study\.yaml:11: space\.layers_per_fpga\.default: expected a value of type int "
        r"in \[1, 4\], got 9",
    ),
    (
        BASE + "build: {flow: ecp6}\n",
        [],
        r"study\.yaml:26: build\.flow: template 'spatial_rtl' builds with .*got 'ecp6'.*"
        r"did you mean 'ecp5'",
    ),
    (
        BASE + "build: {evry: 10}\n",
        [],
        r"study\.yaml:26: build\.evry: unknown key.*did you mean 'every'",
    ),
    (
        BASE + "build: {top_k: 0}\n",
        [],
        r"study\.yaml:26: build\.top_k: expected an integer >= 1, got 0",
    ),
    (
        BASE + "build: {at_end: false}\n",
        [],
        r"study\.yaml:26: build: builds nothing: set every:",
    ),
    (
        BASE + "build: {hosts: nowhere.yaml}\n",
        [],
        r"study\.yaml:26: build\.hosts: no such file: .*nowhere\.yaml",
    ),
    (
        BASE + "build: {template: llm_tpo}\n",
        [],
        r"study\.yaml:26: build\.template: expected one of .*did you mean 'llm_top'",
    ),
]


@pytest.mark.parametrize(("text", "extra", "pattern"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_malformed_config_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    extra: list[str],
    pattern: str,
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(text)
    code, out, err = cli(
        ["sweep", str(cfg), "--storage", f"sqlite:///{tmp_path}/s.db", *extra], capsys
    )
    assert code == 2, out + err
    assert err.startswith("error: ") and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert re.search("^error: .*" + pattern, err), err
    assert not (tmp_path / "s.db").exists()  # nothing written for a bad config


def test_malformed_config_through_a_real_process(tmp_path: Path) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(sub("metric: power_w", "metric: power"))
    res = subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert re.search(
        r"study\.yaml:18: objectives\[1\]\.metric: unknown metric 'power'.*"
        r"did you mean 'power_w'",
        " ".join(res.stderr.split()),
    )
    assert not (tmp_path / "results").exists()


def test_sweep_needs_a_budget_and_a_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(sub("budget: {trials: 300}\n", ""))
    code, _, err = cli(["sweep", str(cfg), "--storage", f"sqlite:///{tmp_path}/s.db"], capsys)
    assert code == 2 and "budget: missing; set budget.trials" in err
    cfg.write_text("version: 1\nworkload: {model: gpt2}\nplatform: u280\n")
    code, _, err = cli(["sweep", str(cfg), "--trials", "5"], capsys)
    assert code == 2 and "space: missing" in err


def test_examples_load_with_search_sections() -> None:
    gpt2 = load_config(ROOT / "examples" / "gpt2-medium-u280-spatial.yaml")
    assert gpt2.space.size() == 112_896  # promised in the example's header comment
    assert [o.metric for o in gpt2.objectives] == ["decode_tokens_per_s", "power_w"]
    ecp5 = load_config(ROOT / "examples" / "smollm-135m-ecp5.yaml")
    assert ecp5.space.size() is None  # continuous clock
    with pytest.raises(SpaceError, match=r"space\.freq_mhz: a float without step"):
        ecp5.space.grid()


# -- the search space -----------------------------------------------------------------


def _cfg(tmp_path: Path, text: str = BASE):  # type: ignore[no-untyped-def]
    p = tmp_path / "study.yaml"
    p.write_text(text)
    return load_config(p)


def test_grid_expands_conditionals_and_derived(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    space = cfg.space
    # 5 m_qkv × 6 m_ffn × 4 layers × (1 dense + 2 sparse densities)
    assert space.size() == 5 * 6 * 4 * 3
    g = space.grid()
    n = len(g["m_qkv"])
    assert n == space.size()
    nm = g["sparsity"] == "nm"
    assert nm.sum() == 5 * 6 * 4 * 2 and (~nm).sum() == 5 * 6 * 4
    assert np.isnan(g["density_ffn"][~nm]).all()
    assert set(g["density_ffn"][nm]) == {0.5, 0.25}
    assert np.array_equal(g["m_attn"], np.maximum(1, g["m_qkv"] // 8))
    rows = {tuple(str(g[k][i]) for k in g) for i in range(n)}
    assert len(rows) == n  # every point exactly once
    # The grid is valid input for the cost model as it is (absent -> default).
    df = cm.evaluate(cfg.workload, cfg.platform, {**cfg.design, **g}, arch=cfg.arch)
    assert len(df) == n and df["decode_tokens_per_s"].gt(0).all()
    with pytest.raises(SpaceError, match="more than the limit"):
        space.grid(limit=100)


def test_conditional_on_a_conditional_and_int_steps(tmp_path: Path) -> None:
    text = sub(
        "  density_ffn: {type: categorical, choices: [0.5, 0.25], when: \"sparsity == 'nm'\"}",
        "  density_ffn: {type: categorical, choices: [0.5, 0.25], when: \"sparsity == 'nm'\"}\n"
        '  nm_m: {type: int, low: 4, high: 16, step: 4, when: "density_ffn == 0.25"}\n'
        "  tile_tokens: {type: int, low: 8, high: 256, log: true}",
    )
    space = _cfg(tmp_path, text).space
    # dense: 1; nm: 0.5 -> 1, 0.25 -> 4 nm_m values; tile_tokens 8..256 log (249 values)
    assert space.size() == 5 * 6 * 4 * (1 + 1 + 4) * 249
    g = space.grid(limit=10**6)
    assert len(g["m_qkv"]) == space.size()
    has_m = ~np.isnan(g["nm_m"])
    assert (g["density_ffn"][has_m] == 0.25).all()
    assert set(g["nm_m"][has_m]) == {4, 8, 12, 16}


def test_suggest_follows_conditions_and_adds_derived(tmp_path: Path) -> None:
    space = _cfg(tmp_path).space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_sparse = seen_dense = 0
    for _ in range(60):
        t = study.ask()
        v = space.suggest(t)
        assert v["m_attn"] == max(1, v["m_qkv"] // 8)
        assert v["m_qkv"] & (v["m_qkv"] - 1) == 0 and 64 <= v["m_qkv"] <= 1024
        assert t.params["log2_m_qkv"] == int(np.log2(v["m_qkv"]))  # pow2 searched as exponent
        if v["sparsity"] == "nm":
            seen_sparse += 1
            assert v["density_ffn"] in (0.5, 0.25)
        else:
            seen_dense += 1
            assert "density_ffn" not in v and "density_ffn" not in t.params
        assert space.decode(t.params) == {k: v[k] for k in v if k != "m_attn"}
        study.tell(t, 0.0)
    assert seen_sparse and seen_dense
    assert set(space.distributions()) == {"log2_m_qkv", "log2_m_ffn", "layers_per_fpga", "sparsity"}
    cols = sample_columns(space, 50, np.random.default_rng(0))
    assert len(cols["m_qkv"]) == 50


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "m.__class__",
        "(lambda: 1)()",
        "[x for x in y]",
        "open('f')",
        "a if b",
        "x.y",
        "f(a=1)",
    ],
)
def test_expressions_reject_anything_outside_the_whitelist(text: str) -> None:
    with pytest.raises(ExprError):
        compile_expr(text)


def test_expressions_vectorise() -> None:
    e = compile_expr("min(a, 8) * 2 if s in ('x', 'y') and not a > 100 else -1")
    assert e.names == {"a", "s"}
    assert e.evaluate({"a": 3, "s": "x"}) == 6
    out = e.evaluate({"a": np.array([3, 50, 200]), "s": np.array(["x", "z", "y"], dtype=object)})
    assert out.tolist() == [6, -1, -1]
    assert compile_expr("s == 'nm'").evaluate(
        {"s": np.array(["nm", None], dtype=object)}
    ).tolist() == [True, False]
