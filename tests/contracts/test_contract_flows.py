"""The contract of a tool flow, checked for every entry of ``runners.TOOLCHAINS``.

A new flow is tested by registering it: its description, fidelity, default part and
programs; that some template lists it and builds for its default part (at the flow's
``example_point``); that ``prepare`` is deterministic (same bundle hash twice) and writes
argv lists whose programs are the flow's versioned ``programs``; that ``parse`` of a
bundle whose tools never ran is a failure with a message, never ``ok`` or an exception.
Real tool runs are in ``tests/runners`` (open tools and stand-ins for the vendor tools).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runners import TOOLCHAINS, list_templates, make_bundle
from runners.toolchains import FIDELITIES, StepFlow, Toolchain


def _template(tc: Toolchain) -> str:
    names = [t.name for t in list_templates() if tc.accepts(t)]
    assert names, f"flow '{tc.name}': no template lists it in its manifest's flows:"
    return names[0]


@pytest.mark.parametrize("name", list(TOOLCHAINS))
def test_flow_describes_itself(name: str) -> None:
    tc = TOOLCHAINS[name]
    assert tc.name == name, "the registry key is the flow's name"
    assert tc.description and tc.fidelity in FIDELITIES and tc.default_part
    assert tc.part_kind in ("part", "vitis_platform")
    assert tc.programs and all(isinstance(a, tuple) for a in tc.programs.values())
    if tc.deliverable is not None:
        key, suffix = tc.deliverable
        assert key and suffix.startswith(".")
    if isinstance(tc, StepFlow):  # its programs are its steps' programs
        assert dict(tc.programs) == {p: a for s in tc.steps for p, a in s.programs().items()}


@pytest.mark.parametrize("name", list(TOOLCHAINS))
def test_flow_prepares_a_deterministic_bundle(name: str, tmp_path: Path) -> None:
    tc = TOOLCHAINS[name]
    template = _template(tc)
    point = dict(tc.example_point)
    first = make_bundle(template, point, name, root=tmp_path / "a")
    again = make_bundle(template, point, name, root=tmp_path / "b")
    assert first.hash == again.hash, "prepare() must not depend on time, paths or randomness"
    assert first.part == tc.default_part and first.commands
    for cmd in first.commands:
        assert isinstance(cmd.argv, tuple) and all(isinstance(a, str) for a in cmd.argv)
        # A tool is versioned (part of the hash), or the command runs a program the flow
        # built in the bundle itself (``env obj/Vtop``: the simulator Verilator made).
        built_here = cmd.argv[0] == "env" and not Path(cmd.argv[1]).is_absolute()
        assert cmd.argv[0] in tc.programs or built_here, f"{cmd.argv[0]} runs, unversioned"
        assert not Path(cmd.log).is_absolute()


@pytest.mark.parametrize("name", list(TOOLCHAINS))
def test_flow_parse_of_a_run_that_left_nothing_is_a_failure(name: str, tmp_path: Path) -> None:
    tc = TOOLCHAINS[name]
    bundle = make_bundle(_template(tc), dict(tc.example_point), name, root=tmp_path)
    res = tc.parse(bundle.folder)
    assert res.status == "failed" and res.failure_class != "none"
    assert res.first_error, "a failed parse says what is missing"
    assert not res.artefacts
