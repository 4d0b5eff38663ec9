"""Streamed weights in the spatial RTL (spatial/rtl_stream.py, sp_gemv STREAM): GPT-2-,
LLaMA- (GQA, SwiGLU, N:M sparse FFN) and BERT-style tiny models whose GEMVs read their rows
from memory ports, served by the harness as the cost model prices the point's memory, are
bit-exact with overlay/reference.py for a 5-token prompt and 8 greedy decode steps (the
encoder: its one pass). The plans are benchmarks/spatial_vs_model.py's streamed ones, so
the two share their Verilator builds (one a model; the memory is the run's).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import cost_models
from cost_models import Workload
from overlay.flow import default_prompt
from overlay.model import make_float_model
from overlay.reference import quantise_model, run_reference
from spatial.plan import SpatialError, build_plan
from spatial.rtl import simulate
from spatial.rtl_stream import ports
from spatial.simflow import write_bundle

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import spatial_vs_model as svm

# the memory each model runs under: tight (memory-bound, ports back-pressured) to ample
MEMORY = {"tiny-gpt2": "ch1-64b", "tiny-llama": "ch1-128b", "tiny-bert": "hbm"}
needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="no verilator")


def _point(shape: str, memory: str) -> dict:
    pt = next(p for s, p in svm.stream_points() if s == shape and p["_name"].endswith(memory))
    return {k: v for k, v in pt.items() if k != "_name"}


def _run(shape: str, memory: str) -> tuple[list[int], list[bool]]:
    pt = _point(shape, memory)
    plan = build_plan(pt, svm.SHAPE_OF[shape], max_pos=svm.MAX_POS)
    assert not plan.weights_onchip
    prompt = default_prompt(plan.shape, 5)
    qm = quantise_model(make_float_model(plan.shape, 11, svm.MAX_POS), plan.quant_spec(), prompt)
    n_new = 1 if plan.encoder else 9
    run = simulate(plan, qm, prompt, n_new, pt)
    _, want = run_reference(qm, prompt, n_new)
    assert len(run.accs) == n_new
    return run.cycles, [np.array_equal(g, w) for g, w in zip(run.accs, want, strict=True)]


@needs_verilator
@pytest.mark.parametrize("shape", list(MEMORY))
def test_streamed_rtl_is_bit_exact_prefill_and_decode(shape: str) -> None:
    cycles, exact = _run(shape, MEMORY[shape])
    assert [i for i, ok in enumerate(exact) if not ok] == []
    assert all(c > 0 for c in cycles)


@needs_verilator
def test_a_narrower_memory_takes_more_cycles_every_call() -> None:
    """The same build under HBM and under one 64-bit channel a group: the weights' bytes
    now pace the GEMVs, so every call takes longer, with the same results."""
    wide, ok_wide = _run("tiny-gpt2", "hbm")
    narrow, ok_narrow = _run("tiny-gpt2", "ch1-64b")
    assert all(ok_wide) and all(ok_narrow)
    assert all(n > w for n, w in zip(narrow, wide, strict=True))


@pytest.mark.parametrize("shape", list(MEMORY))
def test_the_ports_stream_the_bytes_the_cost_model_prices(shape: str) -> None:
    """Per tensor group, the image's bytes (every layer's rows once; N:M values with their
    in-block offsets) are the model's stored weight bytes (``group_bytes_*``)."""
    pt = _point(shape, MEMORY[shape])
    plan = build_plan(pt, svm.SHAPE_OF[shape], max_pos=svm.MAX_POS)
    wl = Workload(plan.shape, batch=1, prompt_len=8, gen_len=8)
    row = cost_models.evaluate(wl, "u280", pt, arch="spatial", baseline=None, detail=True)
    row = row.iloc[0]
    got: dict[str, int] = {}
    for p in ports(plan).values():
        got[p.group] = got.get(p.group, 0) + p.beats * p.bb
    for group, n in got.items():
        assert n == pytest.approx(float(row[f"group_bytes_{group}"])), group


def test_the_sim_rung_bundles_a_streamed_point_with_its_memory(tmp_path: Path) -> None:
    """The ``sim`` rung's bundle of a streamed point (no tools run): the top with memory
    ports, the weight image and the run file's memory lines; weight groups that share HBM
    channels (which the harness does not model) are refused naming the key."""
    point = {**_point("tiny-gpt2", "ch1-64b"), "sim_model": "tiny-gpt2"}
    write_bundle(tmp_path / "ok", point)
    run = (tmp_path / "ok" / "run.txt").read_text().splitlines()
    assert "wm_ar_v" in (tmp_path / "ok" / "sp_top.v").read_text()
    assert (tmp_path / "ok" / "weights.bin").stat().st_size > 0
    groups = [ln.split() for ln in run if ln.startswith("group ")]
    assert len(groups) == 3 and all(float(g[3]) == pytest.approx(5.6) for g in groups)
    with pytest.raises(SpatialError) as exc:
        write_bundle(tmp_path / "shared", {**point, "hbm_ch_wqkv": 30})
    assert exc.value.key == "hbm_ch_wqkv"
    # a design that fetches a tile ahead is the model's, not this RTL's (two rows buffered)
    with pytest.raises(SpatialError) as exc:
        write_bundle(tmp_path / "ahead", {**point, "weight_prefetch": "tile"})
    assert exc.value.key == "weight_prefetch"
