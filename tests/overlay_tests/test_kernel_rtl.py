"""The Vitis RTL kernel (templates/overlay_kernel/overlay_kernel.v) driven as XRT drives it:
arguments and ap_start through s_axi_control, the program loaded over its own master on the
init call, every port's image in device memory at the buffer's address, the token written
back to the out buffer; its tokens equal the bit-exact reference's, with the prompt
prefilled in chunks of the kernel's token slots (batched) and token by token."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from overlay.flow import TINY_SHAPES, prepare
from overlay.reference import run_reference
from overlay.sim import RTL_DIR, SOURCES, verilate, verilator_params
from overlay.xrt_host import KERNEL, kernel_run_file, write_layout

ROOT = Path(__file__).resolve().parents[2]
KERNEL_DIR = ROOT / "templates" / "overlay_kernel"
POINT = {
    "quant": "w4a8", "quant_group": 32, "mv_k": 8, "mv_n": 4, "axi_port_bits": 64,
    "hbm_ch_wqkv": 2, "hbm_ch_wo": 1, "hbm_ch_wffn": 4, "hbm_ch_kv": 1, "hbm_ch_act": 1,
}  # fmt: skip
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


def test_the_kernel_decodes_the_reference_tokens(tmp_path: Path) -> None:
    shape = TINY_SHAPES["tiny-llama"]
    prep = prepare(shape, POINT, 3, 32)
    text = (KERNEL_DIR / f"{KERNEL}.v").read_text()
    declared = set(re.findall(r"parameter\s+(\w+)\s*=", text[: text.index(") (")]))
    params = {k: v for k, v in verilator_params(prep.cfg, prep.comp, 12).items() if k in declared}
    # the kernel packaged with the point's tile_tokens slots runs the prefill batched
    slots = params.get("TT", 1)  # (a kernel without TT: serial only)
    assert prep.comp.prefill.slots == 4 and slots in (1, 4)
    files = [KERNEL_DIR / f"{KERNEL}.v", RTL_DIR / "overlay_top.v"]
    files += [RTL_DIR / s for s in SOURCES] + [KERNEL_DIR / "kernel_main.cpp"]
    binary = verilate(KERNEL, files, params, tag="kernel")
    # six prompt tokens: a full chunk of four and a partial one of two; then token by token
    prompt, n_new = [5, 9, 100, 3, 77, 120], 4
    want = run_reference(prep.qm, prompt, n_new)[0]
    for n_slots, mode in ((slots, "batched" if slots > 1 else "serial"), (1, "serial")):
        layout = write_layout(prep.comp, tmp_path, shape.vocab, slots=n_slots)
        assert layout["prefill"]["mode"] == mode
        out = tmp_path / f"result-{mode}.txt"
        run = kernel_run_file(prep.cfg.beat, tmp_path, layout, prompt, n_new, out)
        (tmp_path / "run.txt").write_text(run)
        done = subprocess.run(
            [str(binary), str(tmp_path / "run.txt")], capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, done.stderr
        steps = [ln.split() for ln in out.read_text().splitlines()]
        assert [int(f[1]) for f in steps] == list(range(len(prompt) + n_new - 1))
        assert [int(f[3]) for f in steps[len(prompt) - 1 :]] == want, mode
