"""The spatial RTL's ``sim`` rung through the same path as synthesis: bundle, build cache,
the real local executor, and the farm (a private Ray instance, this machine as its host)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dse.buildspec import resolve_build
from dse.calibration import SAME_RUN
from dse.config import load_config
from runners import LocalExecutor, build, local_inventory
from runners.toolchains import get_toolchain

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-gpt2-ecp5-spatial.yaml"
needs_verilator = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


def _spec(point: dict | None = None):  # type: ignore[no-untyped-def]
    return resolve_build(load_config(EXAMPLE), point or {}, flow="sim-verilator")


def _check(metrics: dict, n_new: int) -> None:
    assert metrics["bit_exact"] is True
    assert len(metrics["tokens"].split(",")) == n_new
    assert isinstance(metrics["prefill_cycles"], int) and metrics["prefill_cycles"] > 0
    decode = [k for k in metrics if k.startswith("decode_cycles_kv")]
    assert len(decode) == n_new - 1
    # what calibration pairs: the measured cycles and the model's for the same run
    for measured, predicted in SAME_RUN.items():
        assert metrics[measured] > 0 and metrics[predicted] > 0
    # nothing is fitted: the model prices the generated design within a few per cent
    assert abs(metrics["model_decode_err_pct"]) < 10
    assert abs(metrics["model_prefill_err_pct"]) < 15


@needs_verilator
def test_dse_build_of_a_spatial_point_on_the_sim_rung(tmp_path: Path) -> None:
    spec = _spec()
    assert spec.template == "spatial_rtl"
    res = build(
        spec.template, spec.point, spec.flow, part=spec.part, cache_root=tmp_path,
        executor=LocalExecutor(),
    )  # fmt: skip
    assert res.ok, res.first_error
    assert res.fidelity == "sim" == get_toolchain("sim-verilator").fidelity
    assert res.template == "spatial_rtl" and res.params["M_QKV"] == 8
    _check(res.metrics, 8)
    assert res.metrics["tokens"] == ",".join(map(str, _expected_tokens(res.result_dir)))
    again = build(spec.template, spec.point, spec.flow, part=spec.part, cache_root=tmp_path)
    assert again.cached and again.metrics == res.metrics


def _expected_tokens(folder: str) -> list[int]:
    import json

    return list(json.loads((Path(folder) / "expected.json").read_text())["tokens"])


@needs_verilator
def test_sim_rung_of_a_llama_style_sparse_point(tmp_path: Path) -> None:
    """The tiny model of the LLaMA family (GQA, RoPE, SwiGLU) at W4 with N:M FFN weights."""
    point = {"sim_model": "tiny-llama", "quant": "w4a8", "sparsity": "nm", "nm_m": 4}
    point |= {"density_ffn": 0.5, "sim_tokens": 4, "layers_per_fpga": 2}
    spec = _spec(point)
    res = build(spec.template, spec.point, spec.flow, part=spec.part, cache_root=tmp_path)
    assert res.ok, res.first_error
    _check(res.metrics, 4)


@needs_verilator
def test_sim_rung_through_the_farm(tmp_path: Path) -> None:
    from runners import BuildFarm

    spec = _spec({"sim_tokens": 3})
    inventory = local_inventory(["sim-verilator"], workdir=str(tmp_path / "work"))
    with BuildFarm(inventory, cache_root=tmp_path / "builds", num_cpus=1) as farm:
        res = farm.submit(spec.template, spec.point, spec.flow, part=spec.part).result()
    assert res.ok, res.first_error
    assert res.host == "local" and res.fidelity == "sim"
    _check(res.metrics, 3)


@needs_verilator
def test_a_sweep_builds_on_the_sim_rung_and_calibrates_cycles(tmp_path: Path) -> None:
    """build: {flow: sim-verilator} of a spatial study: the candidate runs the spatial RTL,
    and calibration pairs its cycles with the model's for the same run."""
    import subprocess
    import sys

    import yaml

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc |= {"name": "sp-sweep", "budget": {"trials": 4}}
    doc["build"] = {"flow": "sim-verilator", "at_end": True, "top_k": 1, "budget": 1}
    doc["build"]["wait"] = True
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(doc, sort_keys=False))
    argv = [sys.executable, "-m", "dse.cli", "sweep", str(study)]
    argv += ["--results", str(tmp_path / "results")]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "builds: 1 requested, 1 done, 0 failed" in out
    row = next(ln.split() for ln in out.splitlines() if ln.strip().startswith("cycles "))
    assert row[1:3] == ["sim-verilator", "1"]  # one build's cycles calibrate the latency
