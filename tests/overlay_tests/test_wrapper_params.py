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
