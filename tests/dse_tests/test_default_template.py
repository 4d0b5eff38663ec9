"""What a study builds when no template is named: the whole accelerator of its arch (the
overlay for temporal, the spatial RTL for spatial), for every flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dse.buildspec import resolve_build
from dse.config import load_config
from runners import load_template
from tests.dse_tests.sweep_cases import cli

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "examples" / "tiny-llama-ecp5.yaml"
SPATIAL = REPO / "examples" / "gpt2-medium-u280-spatial.yaml"


def _with_build(tmp_path: Path, example: Path, build: dict | None) -> Path:
    doc = yaml.safe_load(example.read_text())
    doc.pop("build", None)
    if build is not None:
        doc["build"] = build
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("flow", load_template("overlay").flows)
def test_a_temporal_study_builds_the_overlay_with_every_flow(tmp_path: Path, flow: str) -> None:
    cfg = load_config(_with_build(tmp_path, TINY, {"flow": flow, "at_end": True}))
    assert cfg.build is not None and cfg.build.template == "overlay"
    spec = resolve_build(cfg, {}, template=cfg.build.template, flow=flow)
    assert spec.template == "overlay" and spec.flow == flow
    # dse build / promote name no template either: the same accelerator
    assert resolve_build(cfg, {}, flow=flow).template == "overlay"


def test_a_unit_template_is_built_only_by_name(tmp_path: Path) -> None:
    cfg = load_config(_with_build(tmp_path, TINY, {"template": "llm_top", "flow": "yosys-ecp5"}))
    assert cfg.build is not None and cfg.build.template == "llm_top"
    assert resolve_build(cfg, {}, template="gemv_int", flow="yosys-ecp5").template == "gemv_int"


@pytest.mark.parametrize("flow", load_template("spatial_rtl").flows)
def test_a_spatial_study_builds_the_spatial_accelerator_with_every_flow(
    tmp_path: Path, flow: str
) -> None:
    cfg = load_config(_with_build(tmp_path, SPATIAL, {"flow": flow, "at_end": True}))
    assert cfg.build is not None and cfg.build.template == "spatial_rtl"
    assert resolve_build(cfg, {}, flow=flow).template == "spatial_rtl"
    named = resolve_build(cfg, {}, template="llm_top", flow="yosys-xilinx")
    assert named.template == "llm_top"


def test_dse_build_of_a_spatial_point_it_cannot_build_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the example leaves weight_storage at the model's auto; the RTL keeps weights on chip
    path = _with_build(tmp_path, SPATIAL, None)
    code, _, err = cli(["build", str(path), "--results", str(tmp_path / "r")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "template 'spatial_rtl'" in err and "weight_storage: auto" in err
    assert not any((tmp_path / "r" / "builds").glob("*/result.json"))
