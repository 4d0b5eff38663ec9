"""The study config's ``baseline:`` takes a full GPU baseline spec: N GPUs and a stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_cases import BASE, cli

import cost_models as cm
from dse.config import load_config


def _config(tmp_path: Path, baseline: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(BASE + f"baseline: {baseline}\n")
    return path


def test_baseline_spec_keeps_count_and_stack(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, "4xv100s:graphs"))
    assert cfg.baseline is not None
    assert (cfg.baseline.name, cfg.baseline.n_gpus, cfg.baseline.serving) == ("v100s", 4, "graphs")
    # The evaluated ratio is against four V100S on CUDA graphs, not one eager V100S.
    point = {"quant": "w4a8", "m_qkv": 256, "m_ffn": 1024, "m_attn": 32}
    four = cm.evaluate(cfg.workload, cfg.platform, point, arch=cfg.arch, baseline=cfg.baseline)
    one = cm.evaluate(cfg.workload, cfg.platform, point, arch=cfg.arch, baseline="v100s")
    assert float(four.gpu_decode_tokens_per_s.iloc[0]) > float(one.gpu_decode_tokens_per_s.iloc[0])


def test_plain_name_and_default_still_work(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, "h100"))
    assert cfg.baseline is not None
    assert (cfg.baseline.name, cfg.baseline.n_gpus, cfg.baseline.serving) == ("h100", 1, "eager")
    path = tmp_path / "default.yaml"
    path.write_text(BASE)
    default = load_config(path).baseline
    assert default is not None and default.name == "a100"


@pytest.mark.parametrize(
    "spec",
    ["4xv100s:vllm", "0xa100", "a1000", "u280", "[a100]", "7", "2xu280:graphs"],
)
def test_a_bad_baseline_is_one_line_naming_file_and_key(
    tmp_path: Path, spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, spec)
    code, out, err = cli(["estimate", str(path)], capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert str(path) in err and "baseline" in err and "[N x]gpu[:stack]" in err
    assert len([line for line in err.strip().splitlines() if line.strip()]) == 1
