"""The spatial HLS top as a template: ``vitis-hls`` / ``vitis-link`` get the generated top's
scripts, run against the stand-in executables of tests/runners/test_standin_flows.py (they
check their argv and inputs and answer with real report files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.buildspec import resolve_build
from dse.config import load_config
from runners import build, load_template
from tests.runners.test_standin_flows import standins  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-gpt2-ecp5-spatial.yaml"


def _point(**extra: object) -> dict:
    cfg = load_config(EXAMPLE)
    spec = resolve_build(cfg, dict(extra), template="hls_spatial", flow="vitis-hls", part="x")
    return spec.point


@pytest.mark.parametrize("storage", ["onchip", "stream"])
def test_vitis_hls_synthesises_the_generated_top(
    standins: Path,  # noqa: F811
    storage: str,
) -> None:
    res = build("hls_spatial", _point(weight_storage=storage), "vitis-hls", cache_root=standins)
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    assert res.template == "hls_spatial" and res.artefacts == {"xo": "spatial_top.xo"}
    folder = Path(res.result_dir)
    tcl = (folder / "run_hls.tcl").read_text()
    assert "set_top spatial_top" in tcl and "add_files spatial_top.cpp" in tcl
    assert "tb_spatial" not in tcl
    top = (folder / "spatial_top.h").read_text()
    assert f"WEIGHTS_ONCHIP = {'true' if storage == 'onchip' else 'false'}" in top
    assert "constexpr int D = 64" in top and (folder / "spatial_ops.h").is_file()
    assert (folder / "dse_types.h").is_file()


def test_vitis_link_links_the_generated_kernel(standins: Path) -> None:  # noqa: F811
    res = build("hls_spatial", _point(), "vitis-link", cache_root=standins)
    assert res.ok, (res.failure_class, res.first_error, res.log_tail)
    assert set(res.artefacts) == {"xo", "xclbin"} and res.fidelity == "bitstream"
    calls = (standins / "calls.txt").read_text().splitlines()
    assert calls[-1].endswith("-o design.xclbin spatial_top.xo")


def test_the_hls_template_refuses_what_it_cannot_build() -> None:
    from runners import TemplateError, make_bundle

    tpl = load_template("hls_spatial")
    with pytest.raises(TemplateError, match="weight_storage: auto"):
        make_bundle(tpl, _point(weight_storage="auto"), "vitis-hls")
    with pytest.raises(TemplateError, match="quant: 'w4a16'"):
        make_bundle(tpl, _point(quant="w4a16"), "vitis-hls")
