"""The core's three wrappers (overlay_top, the XRT kernel, the UART release top) repeat its
parameter list by hand (plain Verilog is copied, not rendered: Verilator, iverilog, Yosys,
Vivado, package_xo and the I/O wrapper's port parser all read these files as they are).
These checks catch the drift that repetition allows: a parameter declared but not passed
on, and a template parameter the kernel IP lacks (package_xo sets every one on it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runners import load_template

T = Path(__file__).resolve().parents[2] / "templates"
WRAPPERS = {
    "overlay_top": (T / "overlay" / "overlay_top.v", "overlay_core"),
    "overlay_kernel": (T / "overlay_kernel" / "overlay_kernel.v", "overlay_top"),
    "overlay_uart_top": (T / "overlay_release" / "overlay_uart_top.v", "overlay_core"),
}


def _declared(text: str, module: str) -> list[str]:
    head = text[re.search(rf"\bmodule\s+{module}\b", text).end() :]  # type: ignore[union-attr]
    head = re.sub(r"//[^\n]*", "", head)
    return re.findall(r"\bparameter\s+(\w+)\s*=", head[: head.index(") (")])


def _passed(text: str, inner: str) -> set[str]:
    block = text[text.index(f"{inner} #(") : text.index(") u_", text.index(f"{inner} #("))]
    return {a for a, b in re.findall(r"\.(\w+)\((\w+)\)", block) if a == b}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_every_core_parameter_a_wrapper_declares_is_passed_on(wrapper: str) -> None:
    path, inner = WRAPPERS[wrapper]
    text = path.read_text()
    core = set(_declared((T / "overlay" / "overlay_core.v").read_text(), "overlay_core"))
    shared = core & set(_declared(text, wrapper))
    assert shared, wrapper
    assert shared <= _passed(text, inner), sorted(shared - _passed(text, inner))


def test_the_kernel_declares_every_parameter_of_the_overlay_template() -> None:
    kernel = set(_declared(WRAPPERS["overlay_kernel"][0].read_text(), "overlay_kernel"))
    assert set(load_template("overlay").parameters) <= kernel


@pytest.mark.parametrize(
    "keys",
    [
        {"tile_tokens": 8, "mm_t": 4},
        {"tile_tokens": 4, "mm_t": 2},
        {"tile_tokens": 4, "mm_t": 1},
        {"tile_tokens": 4, "mm_t": 2, "prefill_serial": True},
        {"tile_tokens": 4, "mm_t": 2, "unified_engine": False, "mm_k": 16, "mm_n": 4},
        {"tile_tokens": 4, "mm_t": 1, "unified_engine": True, "mm_k": 8, "mm_n": 8},
    ],
)
def test_synthesis_builds_the_prefill_slots_and_token_lanes_the_sim_rung_runs(keys: dict) -> None:
    """The manifest maps tile_tokens and mm_t onto TT and MT as overlay.config does (the
    sim rung's parameters), so Yosys/Vivado/nextpnr build the simulated engine."""
    from overlay.config import overlay_config
    from overlay.sim import verilator_params

    point = {"quant": "w4a8", "sparsity": "none", "mv_k": 8, "mv_n": 8, "sfu_lanes": 4}
    point.update({"axi_port_bits": 128, "prefill_serial": False, **keys})
    synth = load_template("overlay").resolve_params(point)
    sim = verilator_params(overlay_config(point))
    assert (synth["TT"], synth["MT"]) == (sim.get("TT", 1), sim.get("MT", 1))
    # the separate MM engine and its shape (SEP 0: none, whatever mm_k / mm_n say)
    assert synth["SEP"] == sim.get("SEP", 0)
    if synth["SEP"]:
        assert (synth["MM_K"], synth["MM_N"]) == (sim["MM_K"], sim["MM_N"])
        assert max(synth["CAP"], synth["CAP_MM"]) >= 2 * (2 * 4 + 4 * 16 * 12 // 8)
    assert synth["XBUF"] >= 256 * synth["TT"]
