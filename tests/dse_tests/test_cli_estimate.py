"""``dse estimate``: every example runs; bad input gives one clear line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cost_models as cm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dse.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_estimate(example: Path) -> None:
    text = run("estimate", str(example))
    assert text.returncode == 0, text.stderr
    for needle in ("Performance", "Time per operator", "Resources per FPGA", "channel map"):
        assert needle in text.stdout
    js = run("estimate", str(example), "--json")
    data = json.loads(js.stdout)
    assert set(cm.COLUMNS) <= set(data)
    assert data["feasible"] is True, data["violations"]
    assert data["decode_tokens_per_s"] > 0


def test_set_overrides_change_the_result() -> None:
    ex = str(ROOT / "examples" / "gpt2-medium-u280-spatial.yaml")
    base = json.loads(run("estimate", ex, "--json").stdout)
    fast = json.loads(
        run(
            "estimate",
            ex,
            "--json",
            "--set",
            "design.freq_mhz=300",
            "--set",
            "design.hbm_ch_wqkv=24",
        ).stdout
    )
    # The example's decode is bound by its kernel chain (one token crosses the kernels one
    # after another), not by HBM: the clock moves it, the channel count alone does not.
    assert fast["decode_tokens_per_s"] > base["decode_tokens_per_s"]
    longer = json.loads(run("estimate", ex, "--json", "--set", "workload.prompt_len=512").stdout)
    assert longer["decode_tokens_per_s"] < base["decode_tokens_per_s"]  # a longer KV to read


BASE = """\
version: 1
workload:
  model: gpt2-medium
platform: u280
arch: spatial
design:
  m_ffn: 512
"""


def write(tmp: Path, text: str, name: str = "study.yaml") -> Path:
    p = tmp / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "extra", "pattern"),
    [
        (
            BASE.replace("u280", "u28"),
            [],
            r"study\.yaml:4: platform: unknown platform 'u28'.*"
            r"did you mean 'u280'",
        ),
        (
            BASE.replace("m_ffn", "m_fnn"),
            [],
            r"study\.yaml:7: design\.m_fnn: unknown spatial "
            r"design parameter.*did you mean 'm_ffn'",
        ),
        (
            BASE.replace("512", "-8"),
            [],
            r"study\.yaml:7: design\.m_ffn: expected an integer in "
            r"\[1, .*got -8",
        ),
        (
            BASE.replace("arch: spatial", "arch: spacial"),
            [],
            r"study\.yaml:5: arch: expected "
            r"one of spatial, temporal.*did you mean 'spatial'",
        ),
        (
            BASE.replace("model: gpt2-medium", "model: gpt2-meduim"),
            [],
            r"study\.yaml:3: workload\.model: unknown model preset 'gpt2-meduim'.*did you mean",
        ),
        (
            BASE.replace("workload:", "workloda:"),
            [],
            r"study\.yaml:2: workloda: unknown key.*"
            r"did you mean 'workload'",
        ),
        (
            BASE,
            ["--set", "design.m_fnn=3"],
            r"--set design\.m_fnn=3: design\.m_fnn: unknown spatial design "
            r"parameter.*did you mean 'm_ffn'",
        ),
        (
            BASE,
            ["--set", "desing.m_ffn=3"],
            r"--set desing\.m_ffn=3: desing\.m_ffn: unknown top-level key "
            r"'desing'.*did you mean 'design'",
        ),
        (BASE, ["--set", "m_ffn"], r"--set: m_ffn: expected KEY=VALUE"),
        (BASE + "  quant: [w8a8\n", [], r"study\.yaml:\d+: \(syntax\): not valid YAML"),
        (
            BASE.replace("model: gpt2-medium", "hf_config: bad.json"),
            [],
            r"bad\.json: model_type: unknown model type 'gtp2'.*did you mean 'gpt2'",
        ),
        (
            BASE.replace("model: gpt2-medium", "hf_config: neg.json"),
            [],
            r"neg\.json: n_head: expected a positive integer, got -16",
        ),
        (
            BASE.replace("model: gpt2-medium", "hf_config: missing.json"),
            [],
            r"missing\.json: n_layer: missing; a gpt2 config needs 'n_layer'",
        ),
        (
            BASE.replace("platform: u280", "platform: a100"),
            [],
            r"study\.yaml:4: platform: a100 "
            r"is a GPU",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, text: str, extra: list[str], pattern: str
) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"model_type": "gtp2"}))
    gpt2 = {"model_type": "gpt2", "n_embd": 1024, "n_layer": 24, "n_head": -16, "vocab_size": 50257}
    (tmp_path / "neg.json").write_text(json.dumps(gpt2))
    (tmp_path / "missing.json").write_text(json.dumps({**gpt2, "n_head": 16, "n_layer": None}))
    cfg = write(tmp_path, text)
    res = run("estimate", str(cfg), *extra, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    err = " ".join(res.stderr.split())
    assert err.startswith("error: ")
    import re

    assert re.search(pattern, err), err


def test_missing_config_file(tmp_path: Path) -> None:
    res = run("estimate", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "nope.yaml: (file): file not found" in res.stderr
