"""``dse release show``: the study's cost model beside a release's measured cycles per token.

The release's run is real: the ECP5 example's released top (UART, images on chip) simulated
in Verilator by ``dse.onchip_release.publish``, the section ``dse promote`` writes into the
manifest. The release folder around it holds what ``show`` reads (manifest, study.yaml).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dse import alveo_release
from dse.cli import app
from dse.config import load_config
from dse.onchip_release import plan, publish

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-llama-ecp5.yaml"
ALVEO = ROOT / "examples" / "tiny-llama-u280.yaml"
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results root with release ``tiny``: the example's default point, its run measured."""
    root = tmp_path_factory.mktemp("results")
    point = load_config(EXAMPLE).point
    p = plan(EXAMPLE, point, "overlay")
    assert p is not None
    folder = root / "releases" / "tiny"
    folder.mkdir(parents=True)
    section = publish(p, folder)
    shutil.copyfile(EXAMPLE, folder / "study.yaml")
    manifest = {"name": "tiny", "parameters": point, "onchip": section}
    (folder / "manifest.json").write_text(json.dumps(manifest, default=str))
    return root


def _show(results: Path, *extra: str) -> str:
    res = CliRunner().invoke(app, ["release", "show", "tiny", "--results", str(results), *extra])
    assert res.exit_code == 0, res.output
    return res.output


def test_show_puts_the_models_prediction_of_the_run_beside_the_measured(results: Path) -> None:
    manifest = json.loads((results / "releases" / "tiny" / "manifest.json").read_text())
    onchip = manifest["onchip"]
    run = json.loads(_show(results, "--json"))["run_model"]
    assert run["measured_cycles_per_token"] == onchip["cycles_per_token"]
    prompt, tokens = len(onchip["simulated"]["prompt"]), len(onchip["simulated"]["tokens"])
    assert (run["prompt_tokens"], run["generated_tokens"]) == (prompt, tokens)
    assert run["steps"] == prompt + tokens - 1  # serial prefill: a step per prompt token
    assert run["clock_mhz"] == onchip["clock_mhz"]
    # Same object, same fidelity: the temporal model on the run's on-chip memory is within
    # 10 % of the released top's cycles (-7.5 % when written; the DDR the study assumed
    # would charge every streamed operand 200 ns instead of 2 cycles).
    assert abs(run["error_pct"]) < 10.0, run
    assert run["model_tokens_per_s"] == pytest.approx(
        run["clock_mhz"] * 1e6 / run["model_cycles_per_token"]
    )
    table = " ".join(_show(results).split())  # the console wraps the title
    assert "cost model vs measured" in table
    assert f"{run['measured_cycles_per_token']:,.0f}" in table
    assert f"{run['model_cycles_per_token']:,.0f}" in table


def test_a_clock_changes_tokens_per_s_not_cycles(results: Path, tmp_path: Path) -> None:
    """Cycles per token are the run's; tokens/s follow the release's clock."""
    other = tmp_path / "results"
    shutil.copytree(results, other)
    path = other / "releases" / "tiny" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["onchip"]["clock_mhz"] *= 2
    path.write_text(json.dumps(manifest))
    a = json.loads(_show(results, "--json"))["run_model"]
    b = json.loads(_show(other, "--json"))["run_model"]
    assert b["model_cycles_per_token"] == pytest.approx(a["model_cycles_per_token"], rel=1e-9)
    assert b["model_tokens_per_s"] == pytest.approx(2 * a["model_tokens_per_s"])


def test_a_study_that_no_longer_loads_is_one_line(results: Path, tmp_path: Path) -> None:
    other = tmp_path / "results"
    shutil.copytree(results, other)
    (other / "releases" / "tiny" / "study.yaml").write_text("version: 1\nname: [\n")
    out = " ".join(_show(other).split())
    assert "model of the release's run: not available" in out
    assert "Traceback" not in out


def test_a_release_without_an_overlay_run_shows_no_model_row(results: Path, tmp_path: Path) -> None:
    """A plain bitstream has no run; a spatial release pairs the spatial model itself."""
    other = tmp_path / "results"
    shutil.copytree(results, other)
    path = other / "releases" / "tiny" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["onchip"]["family"] = "spatial"
    path.write_text(json.dumps(manifest))
    assert json.loads(_show(other, "--json"))["run_model"] is None
    del manifest["onchip"]
    path.write_text(json.dumps(manifest))
    assert json.loads(_show(other, "--json"))["run_model"] is None
    assert "cost model vs measured" not in " ".join(_show(other).split())


def test_an_alveo_run_is_predicted_on_the_boards_hbm(tmp_path: Path) -> None:
    """The Alveo section's run (the sim rung on the released program, 40-cycle HBM at the
    board's port rates: what ``alveo_release.simulate_release`` records beside the kernel's
    tokens) beside the study's model on the U280's HBM at that latency, and the overlay
    cycle model's figure the manifest recorded."""
    from cost_models._overlay_cycles import run_cycles
    from overlay.flow import default_prompt
    from overlay.sim import DEFAULT_LATENCY, simulate
    from overlay.simflow import memory_of

    point = load_config(ALVEO).point
    p = alveo_release.plan(ALVEO, point, "overlay", alveo_release.FLOW)
    assert p is not None
    mem = memory_of(p.point, p.prep.cfg, DEFAULT_LATENCY)
    prompt = default_prompt(p.shape, 3, p.seed + 11)
    run = simulate(p.prep.comp, prompt, 8, dict(mem.rates), DEFAULT_LATENCY)
    pre, dec = run_cycles(p.shape, p.point, len(prompt), 8, mem, p.prep.comp.max_pos)
    steps = len(run.step_cycles)
    section = {
        "kernel": "overlay_kernel",
        "model": asdict(p.shape),
        "clock_mhz": p.freq_mhz,
        "simulated": {"prompt": prompt, "tokens": run.tokens, "step_cycles": sum(run.step_cycles)},
        "cycles_per_token": sum(run.step_cycles) / steps,
        "model_cycles_per_token": (pre + sum(dec)) / steps,
    }
    folder = tmp_path / "releases" / "tiny"
    folder.mkdir(parents=True)
    shutil.copyfile(ALVEO, folder / "study.yaml")
    manifest = {"name": "tiny", "parameters": point, "alveo": section}
    (folder / "manifest.json").write_text(json.dumps(manifest, default=str))
    got = json.loads(_show(tmp_path, "--json"))["run_model"]
    assert got["memory"] == "u280 HBM" and got["steps"] == steps == len(prompt) + 8 - 1
    assert got["measured_cycles_per_token"] == section["cycles_per_token"]
    assert got["cycle_model_cycles_per_token"] == section["model_cycles_per_token"]
    # The overlay has one AXI master per group, a beat a cycle at most, and the temporal
    # model charges that (-2.8 % when written; -21.8 % while it gave a group of n channels
    # n ports' worth; the cycle model within 1 %).
    assert abs(got["error_pct"]) < 5.0, got
    assert "overlay cycle model" in " ".join(_show(tmp_path).split())
