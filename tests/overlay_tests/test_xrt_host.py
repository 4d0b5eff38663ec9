"""The Alveo host runner (overlay.xrt_host) against a stand-in pyxrt that executes the
program with the overlay's ISA executor: tokens equal the bit-exact reference's, buffers in
the banks the channel map chose, sp= lines from the channel map."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from overlay.flow import TINY_SHAPES, prepare
from overlay.reference import run_reference
from overlay.xrt_host import XrtRunner, hbm_banks, prefill_calls, sp_lines, write_layout
from tests.overlay_tests import fake_pyxrt

POINT = {
    "quant": "w4a8", "quant_group": 32, "mv_k": 8, "mv_n": 4, "axi_port_bits": 64,
    "hbm_ch_wqkv": 2, "hbm_ch_wo": 1, "hbm_ch_wffn": 4, "hbm_ch_kv": 1, "hbm_ch_act": 1,
}  # fmt: skip


def _release(tmp: Path):
    shape = TINY_SHAPES["tiny-llama"]
    prep = prepare(shape, POINT, 3, 32)
    layout = write_layout(prep.comp, tmp, shape.vocab)
    xclbin = tmp / "overlay.xclbin"  # the stand-in's xclbin: what the link would record
    xclbin.write_text(
        json.dumps(
            {
                "kernel": layout["kernel"],
                "args": layout["args"],
                "banks": {g: p["hbm"][0] for g, p in layout["ports"].items()},
                "fmt": {g: asdict(f) for g, f in prep.comp.fmt.items()},
                "scratch_words": prep.comp.scratch_words,
            }
        )
    )
    return prep, layout, xclbin


def test_runner_decodes_the_reference_tokens(tmp_path: Path) -> None:
    prep, _, xclbin = _release(tmp_path)
    runner = XrtRunner(tmp_path, xclbin, xrt=fake_pyxrt)
    for prompt in ([5, 9, 100], [1]):
        assert runner.generate(prompt, 6) == run_reference(prep.qm, prompt, 6)[0]
    with pytest.raises(ValueError, match="positions"):
        runner.generate([1, 2], 40)


def test_runner_prefills_in_chunks_of_the_kernels_slots(tmp_path: Path) -> None:
    prep, layout, xclbin = _release(tmp_path)
    pf = prep.comp.prefill
    assert layout["prefill"] == {
        "mode": "batched", "slots": 4, "embed": pf.embed, "body": pf.body, "head": pf.head,
    }  # fmt: skip
    prompt = [3, 1, 4, 1, 5, 9]  # a chunk of four, then one of two
    calls = prefill_calls(layout, prompt)
    assert calls == [
        *((pf.embed[t], t, prompt[t]) for t in range(4)), (pf.body[3], 0, 0),
        (pf.embed[0], 4, 5), (pf.embed[1], 5, 9), (pf.body[1], 4, 0), (pf.head[1], 5, 0),
    ]  # fmt: skip
    want = run_reference(prep.qm, prompt, 5)[0]
    assert XrtRunner(tmp_path, xclbin, xrt=fake_pyxrt).generate(prompt, 5) == want
    # a kernel built with one slot: the same program prefilled token by token
    serial = write_layout(prep.comp, tmp_path, TINY_SHAPES["tiny-llama"].vocab, slots=1)
    assert serial["prefill"] == {"mode": "serial", "slots": 1}
    assert prefill_calls(serial, prompt) == [
        (prep.comp.step_pc, i, t) for i, t in enumerate(prompt)
    ]
    assert XrtRunner(tmp_path, xclbin, xrt=fake_pyxrt).generate(prompt, 5) == want


def test_buffers_sit_in_the_linked_banks(tmp_path: Path, monkeypatch) -> None:
    _, layout, xclbin = _release(tmp_path)
    assert layout["sp"] == [
        "sp=overlay_kernel_1.m_axi_wqkv:HBM[0:1]",
        "sp=overlay_kernel_1.m_axi_wo:HBM[2]",
        "sp=overlay_kernel_1.m_axi_wffn:HBM[3:6]",
        "sp=overlay_kernel_1.m_axi_kv:HBM[7]",
        "sp=overlay_kernel_1.m_axi_act:HBM[8]",
        "sp=overlay_kernel_1.m_axi_prog:HBM[8]",
        "sp=overlay_kernel_1.m_axi_out:HBM[8]",
    ]
    assert sp_lines(hbm_banks({}))[0] == "sp=overlay_kernel_1.m_axi_wqkv:HBM[0]"
    # a runner that ignored the kernel's group ids would put every buffer in bank 0
    monkeypatch.setattr(fake_pyxrt.kernel, "group_id", lambda self, i: 0)
    runner = XrtRunner(tmp_path, xclbin, xrt=fake_pyxrt)
    with pytest.raises(RuntimeError, match="linked to"):
        runner.generate([1, 2], 2)


@pytest.mark.skipif(importlib.util.find_spec("pyxrt") is not None, reason="XRT is installed")
def test_without_xrt_the_runner_says_so(tmp_path: Path) -> None:
    _, _, xclbin = _release(tmp_path)
    with pytest.raises(ModuleNotFoundError, match="pyxrt"):
        XrtRunner(tmp_path, xclbin)


def test_channel_map_starts_over_past_the_platforms_channels() -> None:
    # U280 defaults: 27 channels for each weight group, 4 for KV, 1 for activations.
    ch = {"wqkv": 27, "wo": 27, "wffn": 27, "kv": 4, "act": 1}
    banks = hbm_banks(ch, channels=32)
    # wo would start at 27 and wrap: an sp= range is contiguous, so it ends at channel 31.
    assert banks == {
        "wqkv": (0, 26), "wo": (5, 31), "wffn": (5, 31), "kv": (17, 20), "act": (21, 21)
    }  # fmt: skip
    for a, b in banks.values():
        assert 0 <= a <= b < 32
    assert [b - a + 1 for a, b in banks.values()] == [27, 27, 27, 4, 1]
