"""The contract of a board (an FPGA platform file), checked for every file in
``cost_models/platforms/``: adding the file adds its tests.

Its ``build:`` section names registered flows; its part is in its own family; for each
flow it lists, the part ``dse`` picks (the board's part, or its Vitis platform) passes
that flow's own check on a template the flow builds; each Vitis platform maps back to
this board's part and to no other board. A bad ``build:`` section is one error naming
the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import cost_models as cm
from dse.buildspec import choose_part, default_flow, flow_vendor
from dse.errors import ConfigError
from runners import TOOLCHAINS, get_toolchain, list_templates

BOARDS = [n for n in cm.list_platforms() if isinstance(cm.load_platform(n), cm.Platform)]
GPUS = [n for n in cm.list_platforms() if n not in BOARDS]


def _board(name: str) -> cm.Platform:
    board = cm.load_platform(name)
    assert isinstance(board, cm.Platform)
    return board


@pytest.mark.parametrize("name", BOARDS)
def test_board_names_registered_flows_and_its_family(name: str) -> None:
    board = _board(name)
    unknown = [f for f in board.build.flows if f not in TOOLCHAINS]
    assert not unknown, f"{board.source}: build.flows names unregistered flows {unknown}"
    assert default_flow(board) == board.build.flows[0]
    family = cm.family_of_part(board.part)
    assert family is not None and family.name == board.family
    assert board.build.vendor == family.vendor


@pytest.mark.parametrize("name", BOARDS)
def test_every_flow_of_a_board_accepts_the_part_dse_picks(name: str) -> None:
    board = _board(name)
    study = SimpleNamespace(platform=board)  # choose_part reads only the platform
    for flow in board.build.flows:
        tc = get_toolchain(flow)
        part = choose_part(study, flow, None)  # type: ignore[arg-type]
        if tc.part_kind == "vitis_platform":
            assert part in board.build.vitis_platforms, (
                f"{board.source}: flow {flow} builds for a Vitis platform; list the board's "
                "under build.vitis_platforms"
            )
        else:
            assert part == board.part
        template = next(t for t in list_templates() if tc.accepts(t))
        tc.check(template, part)  # raises ToolchainError when the flow refuses the part


@pytest.mark.parametrize("name", BOARDS)
def test_a_flow_of_the_vendor_the_board_does_not_list_is_refused(name: str) -> None:
    """Building a Versal board's study with yosys-xilinx must not quietly build a U280."""
    board = _board(name)
    study = SimpleNamespace(platform=board)
    for flow, tc in TOOLCHAINS.items():
        if flow in board.build.flows:
            continue
        if flow_vendor(tc) == board.build.vendor:
            with pytest.raises(ConfigError, match=r"build\.flows"):
                choose_part(study, flow, None)  # type: ignore[arg-type]
        else:  # another vendor's flow (or a simulation): its own part, or the board's
            part = choose_part(study, flow, None)  # type: ignore[arg-type]
            assert part in (tc.default_part, board.part)


@pytest.mark.parametrize("name", BOARDS)
def test_vitis_platforms_map_back_to_this_board(name: str) -> None:
    board = _board(name)
    for platform in board.build.vitis_platforms:
        owners = [b for b in BOARDS if platform in _board(b).build.vitis_platforms]
        assert owners == [name], f"Vitis platform {platform} is listed by {owners}"
        assert cm.part_of_vitis_platform(platform) == board.part


@pytest.mark.parametrize("name", GPUS)
def test_a_gpu_baseline_has_no_build_flow(name: str) -> None:
    with pytest.raises(ConfigError, match="GPU baseline has no build flow"):
        default_flow(cm.load_platform(name))


U280 = Path(cm.__file__).resolve().parent / "platforms" / "u280.yaml"
BUILD = """build:                      # what builds for this board (runners and dse read it)
  vendor: amd
  flows: [yosys-xilinx, vivado, vitis-hls, vitis-link]   # the first is the default flow
  vitis_platforms: [xilinx_u280_gen3x16_xdma_1_202211_1]  # AMD UG1120 (Alveo platforms)
"""


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (BUILD, "", r"build: missing; expected a mapping"),
        ("vendor: amd", "vendor: lattice", r"build\.vendor: expected 'amd'"),
        ("  flows: [yosys-xilinx, vivado, vitis-hls, vitis-link]", "  flows: []", r"build\.flows"),
        ("  vendor: amd", "  vendor: amd\n  flowz: [vivado]", r"build\.flowz: .*did you mean"),
        ("family: ultrascale+", "family: ultrascale++", r"family: unknown FPGA family"),
        ("[xilinx_u280_gen3x16_xdma_1_202211_1]", "['a b']", r"build\.vitis_platforms\[0\]"),
        ("flows: [yosys-xilinx,", "flows: [vivado, vivado,", r"build\.flows: a name is listed"),
    ],
)
def test_a_bad_build_section_names_file_and_key(
    old: str, new: str, key: str, tmp_path: Path
) -> None:
    text = U280.read_text()
    assert old in text, "the u280 file changed: update this test's fragment"
    bad = tmp_path / "board.yaml"
    bad.write_text(text.replace(old, new))
    with pytest.raises(cm.InputError, match=rf"board\.yaml: {key}"):
        cm.load_platform(bad)
