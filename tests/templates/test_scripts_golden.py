"""Golden-file tests for the tool-script templates (Vivado, Vitis HLS, v++ link).

Each script template is rendered at every ``test.settings`` entry of its manifest and each
output compared byte for byte with ``golden/<template>_<index>_<file>``. After an intended
change, regenerate with ``GOLDEN_RUN=1 pytest tests/templates/test_scripts_golden.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from runners._errors import TemplateError
from runners._templates import load_template, render_template

GOLDEN = Path(__file__).parent / "golden"
SCRIPTS = ("vivado", "vitis_hls", "vitis_link")
CASES = [
    (name, i)
    for name in SCRIPTS
    for i in range(len(load_template(name).test.settings))  # type: ignore[union-attr]
]


@pytest.mark.parametrize(("name", "index"), CASES)
def test_script_matches_golden(name: str, index: int, tmp_path: Path) -> None:
    template = load_template(name)
    assert template.test is not None
    files = render_template(template, template.test.settings[index], tmp_path)
    outputs = [f for f in files if f.name != "params.json"]
    assert outputs
    for out in outputs:
        golden = GOLDEN / f"{name}_{index}_{out.name}"
        if os.environ.get("GOLDEN_RUN") == "1":
            golden.parent.mkdir(exist_ok=True)
            golden.write_bytes(out.read_bytes())
        assert golden.is_file(), f"{golden} is missing; regenerate with GOLDEN_RUN=1"
        assert out.read_bytes() == golden.read_bytes(), f"{out.name} differs from {golden}"


def _link(tmp_path: Path, kernels: list[dict[str, object]], hbm: dict[str, list[int]]) -> str:
    render_template(load_template("vitis_link"), {"kernels": kernels, "hbm": hbm}, tmp_path)
    return (tmp_path / "link.cfg").read_text()


@pytest.mark.parametrize(("channels", "units"), [(16, 2), (16, 3), (5, 4), (2, 3), (1, 1), (8, 8)])
def test_hbm_groups_split_evenly_over_compute_units(
    tmp_path: Path, channels: int, units: int
) -> None:
    first = 4
    text = _link(
        tmp_path,
        [{"name": "k", "count": units, "ports": {"m_axi_gmem0": "g"}}],
        {"g": [first, first + channels - 1]},
    )
    ranges = []
    for lo, hi in re.findall(r"^sp=k_\d+\.m_axi_gmem0:HBM\[(\d+)(?::(\d+))?\]$", text, re.M):
        ranges.append(range(int(lo), int(hi or lo) + 1))
    assert len(ranges) == units
    used = [ch for r in ranges for ch in r]
    assert set(used) == set(range(first, first + channels))  # every channel is used
    if units <= channels:
        assert len(used) == channels  # disjoint sub-ranges
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1  # balanced
    assert f"nk=k:{units}:" + ".".join(f"k_{i + 1}" for i in range(units)) in text


def test_unknown_hbm_group_is_an_error_with_location(tmp_path: Path) -> None:
    kernels: list[dict[str, object]] = [{"name": "k", "count": 1, "ports": {"m_axi_a": "nope"}}]
    with pytest.raises(TemplateError, match=r"link\.cfg\.j2:\d+: UndefinedError: .*'nope'"):
        _link(tmp_path, kernels, {"g": [0, 1]})


def test_vivado_hooks_and_clock(tmp_path: Path) -> None:
    hooks = {"after_route": "report_power -file power.rpt", "at_end": "puts done"}
    point = {"clock_mhz": 400, "hooks": hooks, "sources": ["a.v"], "top_module": "a"}
    render_template(load_template("vivado"), point, tmp_path)
    tcl = (tmp_path / "build.tcl").read_text()
    assert tcl.index("route_design") < tcl.index("report_power -file power.rpt")
    assert tcl.rstrip().endswith("puts done")
    assert "\nwrite_bitstream" not in tcl  # out of context by default
    assert (
        "create_clock -name clk -period 2.500 [get_ports clk]"
        in (tmp_path / "clocks.xdc").read_text()
    )
