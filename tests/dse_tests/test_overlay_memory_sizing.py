"""A temporal study's overlay holds the program of the study's own model: its build gets the
SPAD, IMEM and XBUF that program needs (not the manifest's 1024/256 defaults), the model
predicts that accelerator, and a model whose program needs more than the template's largest
memories is infeasible in the model and refused by ``dse build`` in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cost_models import _overlay_program as ovp
from dse.buildspec import overlay_words, resolve_build
from dse.config import load_config
from dse.scoring import Model
from overlay.flow import TINY_SHAPES, prepare
from overlay.sim import max_reduction
from runners import load_template

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny-llama-ecp5.yaml"
LLAMA = ROOT / "examples" / "llama2-7b-u280-temporal.yaml"
# the knobs that make the example's point one the overlay builds (one core, int8 KV cache,
# the unified engine's 8 prefill slots): its x buffers then need d_ffn x 8 = 88,064 words,
# more than the template's 65,536 whatever the compiler's scratchpad layout
OVERLAY_7B = {"kv_bits": 8, "cores": 1, "prefill_serial": False, "tile_tokens": 8,
              "mm_k": 16, "mm_n": 64}  # fmt: skip
POINTS = [
    {"mv_n": 2, "sfu_lanes": 4},  # the example's serial prefill
    {"mv_n": 4, "mm_k": 8, "mm_n": 4, "sfu_lanes": 1, "prefill_serial": False,
     "tile_tokens": 4, "mm_t": 2},
]  # fmt: skip


@pytest.mark.parametrize("point", POINTS, ids=("serial", "batched"))
def test_a_study_build_holds_the_compiled_program_of_its_model(point: dict) -> None:
    cfg = load_config(TINY)
    spec = resolve_build(cfg, point, template="overlay", flow="yosys-ecp5")
    params = spec.template_params()
    w = cfg.workload
    max_pos = ovp.study_max_pos(w.model, w.prompt_len, w.gen_len)
    comp = prepare(w.model, {**cfg.design, **point}, 0, max_pos).comp
    slots = params["TT"]
    assert comp.scratch_words <= params["SPAD"] < 2 * max(comp.scratch_words, 32)
    assert len(comp.program) <= params["IMEM"]
    assert max_reduction(comp) * slots <= params["XBUF"]
    assert params["SPAD"] > 1024  # more than the manifest's default: the 5 layers' constants
    # the model's template point is the same accelerator
    words = overlay_words(cfg, load_template("overlay"), spec.point)
    assert (params["SPAD"], params["IMEM"], params["XBUF"]) == (
        words["spad_words"],
        words["imem_words"],
        words["xbuf_words"],
    )


def test_the_model_calls_a_model_too_big_for_the_templates_memories_infeasible() -> None:
    """LLaMA-2-7B on the overlay with 8 prefill slots: its x buffers need more than the
    template's largest (and its program more instruction memory)."""
    big = Model.of(load_config(LLAMA)).evaluate(OVERLAY_7B, detail=True, baseline=False)
    assert not bool(big["feasible"].iloc[0])
    assert "x buffer over the overlay's (XBUF > 65536 words)" in str(big["violations"].iloc[0])
    assert bool(big["over_xbuf_words"].iloc[0]) and bool(big["over_imem_words"].iloc[0])
    tiny = Model.of(load_config(TINY)).evaluate(POINTS[0], detail=True, baseline=False)
    assert "SPAD" not in str(tiny["violations"].iloc[0])
    assert not bool(tiny["over_spad_words"].iloc[0])
    w = load_config(LLAMA).workload
    need = ovp.program_sizes(w.model, ovp.study_max_pos(w.model, 128, 256), np.array([8]))
    assert float(need["max_reduction"][0]) * 8 > 65536


def test_dse_build_refuses_it_in_one_line(tmp_path: Path) -> None:
    # vivado: absent here, so a refusal that did not happen fails in seconds, not a synthesis
    argv = [sys.executable, "-m", "dse.cli", "build", str(LLAMA), "--flow", "vivado"]
    argv += ["--point", json.dumps(OVERLAY_7B), "--results", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert done.returncode == 2 and len(lines) == 1, lines
    assert "llama2-7b-u280-temporal.yaml" in lines[0] and "workload.model" in lines[0]
    assert "x-buffer words (XBUF) 131072 > 65536" in lines[0]
    assert "Traceback" not in lines[0]
    assert not (tmp_path / "builds").exists()  # nothing was built


@pytest.mark.parametrize("example", ["tiny-llama-ecp5.yaml", "tiny-llama-u280.yaml"])
def test_a_tiny_study_accelerator_holds_the_sim_rungs_program(example: str) -> None:
    """The sim rung simulates its tiny model (``sim_model``, default tiny-llama: the study's
    family) with memories sized for that program; the study's accelerator (same knobs) is
    at least as large at every slot count, so the simulated program runs on it too (memory
    depths do not change cycles)."""
    w = load_config(ROOT / "examples" / example).workload
    slots = np.arange(1, 9)
    study = ovp.memory_words(w.model, ovp.study_max_pos(w.model, w.prompt_len, w.gen_len), slots)
    assert ovp.fits(study).all()
    sim = ovp.memory_words(TINY_SHAPES["tiny-llama"], 32, slots)  # overlay/simflow.py's
    for key, need in sim.items():
        assert (study[key] >= need).all(), key
