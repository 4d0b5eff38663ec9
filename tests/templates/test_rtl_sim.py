"""Simulate every RTL template with iverilog against numpy references.

Stimulus is written by Python as a ``$readmemh`` file; the testbench ``$fwrite``s results.
Each template runs at every setting listed under ``test.settings`` in its manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runners._templates import load_template

from ._refs import (
    Stream,
    gemv_stream,
    softmax_bound,
    softmax_stream,
    sparse_stream,
    systolic_stream,
)
from ._tools import simulate, write_hex


def _cases(name: str) -> list[tuple[str, int]]:
    template = load_template(name)
    assert template.test is not None and template.test.tool == "iverilog"
    return [(name, i) for i in range(len(template.test.settings))]


def _run_unit(name: str, index: int, tmp_path: Path) -> tuple[Stream, list[list[int]]]:
    template = load_template(name)
    assert template.test is not None
    setting = template.test.settings[index]
    p = template.resolve_params(setting)
    rng = np.random.default_rng(1000 + index)
    if name == "gemv_int":
        stream = gemv_stream(rng, int(p["LANES"]), int(p["WBITS"]), int(p["ACCBITS"]))
    elif name == "systolic_gemm":
        stream = systolic_stream(rng, int(p["MT"]), int(p["NT"]), int(p["ACCBITS"]))
    elif name == "gemv_nm_sparse":
        args = (int(p["LANES"]), int(p["N"]), int(p["M"]), int(p["ACCBITS"]))
        stream = sparse_stream(rng, *args)
    else:
        stream = softmax_stream(rng, int(p["XBITS"]), int(p["XFRAC"]), int(p["MAXLEN"]))
    bits = stream.payload_bits
    words = [(v << (bits + 1)) | (last << bits) | payload for v, last, payload in stream.beats]
    count = write_hex(tmp_path / "stim.hex", words, bits + 2)
    return stream, simulate(template, setting, tmp_path, {"NBEATS": count})


@pytest.mark.parametrize(
    ("name", "index"),
    _cases("gemv_int") + _cases("systolic_gemm") + _cases("gemv_nm_sparse"),
)
def test_integer_units_match_numpy(name: str, index: int, tmp_path: Path) -> None:
    stream, got = _run_unit(name, index, tmp_path)
    assert got == stream.expected


@pytest.mark.parametrize(("name", "index"), _cases("softmax_fx"))
def test_softmax_bit_exact_and_within_bound(name: str, index: int, tmp_path: Path) -> None:
    stream, got = _run_unit(name, index, tmp_path)
    assert got == stream.expected  # bit-exact with the integer model
    for y, ref in zip(got, stream.floats, strict=True):
        err = np.abs(np.array(y) / 32768.0 - ref).max()
        assert err <= softmax_bound(len(y)), (err, softmax_bound(len(y)))
