"""Shared pieces of the sweep tests: a small study config and an in-process CLI runner."""

from __future__ import annotations

import pytest

from dse.cli import main

BASE = """\
version: 1
name: t
workload: {model: gpt2-medium, batch: 1, prompt_len: 64, gen_len: 64}
platform: u280
arch: spatial
design:
  quant: w4a8
space:
  m_qkv: {type: pow2, low: 64, high: 1024}
  m_ffn: {type: pow2, low: 128, high: 4096}
  layers_per_fpga: {type: int, low: 1, high: 4}
  sparsity: [none, nm]
  density_ffn: {type: categorical, choices: [0.5, 0.25], when: "sparsity == 'nm'"}
derived:
  m_attn: "max(1, m_qkv // 8)"
objectives:
  - {metric: decode_tokens_per_s, direction: maximize}
  - {metric: power_w, direction: minimize}
constraints:
  max_util: {lut: 0.8, dsp: 0.9}
  min_clock_mhz: 200
budget: {trials: 300}
sampler: nsga2
seed: 0
batch_size: 30
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``dse ARGV`` in this process: (exit code, stdout, stderr)."""
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``run`` with stderr's whitespace folded (rich wraps long error lines)."""
    code, out, err = run(args, capsys)
    return code, out, " ".join(err.split())


def sub(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new)
