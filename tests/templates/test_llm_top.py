"""Drive every unit of ``llm_top`` through its narrow muxed port and check the results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runners._templates import load_template

from ._refs import Stream, gemv_stream, softmax_stream, sparse_stream, systolic_stream
from ._tools import simulate, write_hex

TEMPLATE = load_template("llm_top")
assert TEMPLATE.test is not None
SETTINGS = TEMPLATE.test.settings
IDLE, SHIFT, FIRE, READ = 0, 1, 2, 3


def _cmd(op: int, data: int = 0, last: int = 0, unit: int = 0) -> int:
    return (op << 35) | (last << 34) | (unit << 32) | (data & 0xFFFF_FFFF)


def _beats_to_commands(unit: int, stream: Stream) -> list[int]:
    words = (stream.payload_bits + 31) // 32
    out: list[int] = []
    for valid, last, payload in stream.beats:
        if not valid:
            out.append(_cmd(IDLE))
            continue
        out += [_cmd(SHIFT, payload >> (32 * (words - 1 - k))) for k in range(words)]
        out.append(_cmd(FIRE, last=last, unit=unit))
    return out


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


@pytest.mark.parametrize("index", range(len(SETTINGS)))
def test_llm_top_units_match_numpy(index: int, tmp_path: Path) -> None:
    p = {k: int(v) for k, v in TEMPLATE.resolve_params(SETTINGS[index]).items()}
    rng = np.random.default_rng(2000 + index)
    acc = p["ACCBITS"]
    # (unit id, stream, result bits, result element bits) in result-space order.
    units: list[tuple[int, Stream, int, int]] = []
    if p["HAS_GEMV"]:
        s = gemv_stream(rng, p["GEMV_LANES"], p["GEMV_WBITS"], acc)
        units.append((0, s, p["GEMV_LANES"] * acc, acc))
    if p["HAS_SYSTOLIC"]:
        s = systolic_stream(rng, p["SYS_MT"], p["SYS_NT"], acc)
        units.append((1, s, p["SYS_MT"] * p["SYS_NT"] * acc, acc))
    if p["HAS_SPARSE"]:
        s = sparse_stream(rng, p["SP_LANES"], p["SP_N"], p["SP_M"], acc)
        units.append((2, s, p["SP_LANES"] * acc, acc))
    if p["HAS_SOFTMAX"]:
        s = softmax_stream(rng, 16, 8, p["SM_MAXLEN"])
        units.append((3, s, p["SM_MAXLEN"] * 16, 16))
    commands: list[int] = []
    for unit, stream, _, _ in units:
        commands += _beats_to_commands(unit, stream)
    commands += [_cmd(IDLE)] * (3 * p["SM_MAXLEN"] + 80)  # let the last results land
    total_words = sum((bits + 31) // 32 for _, _, bits, _ in units)
    commands += [_cmd(READ, addr) for addr in range(total_words + 1)]
    count = write_hex(tmp_path / "stim.hex", commands, 37)

    got = simulate(TEMPLATE, SETTINGS[index], tmp_path, {"NBEATS": count})
    words = [row[0] for row in got]
    assert len(words) == total_words + 1 and words[-1] == 0  # past the end reads zero
    base = 0
    for unit, stream, bits, elem in units:
        nwords = (bits + 31) // 32
        region = sum(w << (32 * i) for i, w in enumerate(words[base : base + nwords]))
        base += nwords
        values = [(region >> (elem * i)) & ((1 << elem) - 1) for i in range(bits // elem)]
        expected = stream.expected[-1]  # the units keep the most recent result
        if unit == 3:  # softmax: element i of an L-vector sits in slot L-1-i
            assert values[: len(expected)][::-1] == expected
        else:
            assert [_signed(v, elem) for v in values] == expected
