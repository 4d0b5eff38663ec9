"""``dse promote`` of a temporal ECP5 point builds the released top, not the bare overlay:
template ``overlay_release`` (UART host, program and weight images in block RAM), whose
bundle holds byte for byte the files the promote-time simulation runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dse.buildspec import resolve_build
from dse.config import load_config
from dse.onchip_release import RELEASE_TEMPLATE, build_spec, plan
from overlay.onchip import TOP, write_files
from overlay.onchip_sim import sources
from runners import load_template, make_bundle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-llama-ecp5.yaml"


@pytest.fixture(scope="module")
def planned():
    cfg = load_config(EXAMPLE)
    p = plan(EXAMPLE, cfg.point, "overlay")
    assert p is not None
    return p, resolve_build(cfg, {}, flow="ecp5")


def test_the_promote_build_is_the_released_top_with_its_images(planned, tmp_path: Path) -> None:
    p, spec = planned
    assert spec.template == "overlay"  # what the study builds by default ...
    released = build_spec(p, spec)  # ... and what its promote builds
    assert released.template == RELEASE_TEMPLATE and released.flow == "ecp5"
    bundle = make_bundle(released.template, released.point, released.flow, released.part, tmp_path)
    assert bundle.template.top == TOP
    simulated = tmp_path / "simulated"
    simulated.mkdir()
    write_files(p.rel, simulated)
    for src in sources():
        shutil.copyfile(src, simulated / src.name)
    for f in sorted(simulated.iterdir()):  # every file the simulation reads, the same bytes
        built = bundle.folder / f.name
        assert built.is_file(), f"{f.name}: list it in templates/overlay_release/manifest.yaml"
        assert built.read_bytes() == f.read_bytes(), f.name
    script = (bundle.folder / "synth.ys").read_text()
    read = re.findall(r"^read_verilog (\S+)", script, re.M)
    assert sorted(read) == sorted(s.name for s in sources())
    assert f"synth_ecp5 -top {TOP}" in script
    for name, value in p.rel.params.items():  # the simulated values
        if name in load_template(RELEASE_TEMPLATE).parameters:
            assert f"-set {name} {value} " in script, name


def test_the_tests_release_the_point_make_demo_promotes(tmp_path: Path) -> None:
    """The released-top tests plan the example's default point; ``make demo`` promotes
    ``best:decode_tokens_per_s`` of the example's sweep. They must be the same engine, or
    the simulated top is not the one the bitstream holds."""
    from dse._release_trial import select_trial
    from dse.layout import layout

    done = subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(EXAMPLE), "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cfg = load_config(EXAMPLE)
    chosen = select_trial(cfg.name, "best:decode_tokens_per_s", None, layout(tmp_path))
    names = cfg.space.names
    assert names and {k: chosen.point[k] for k in names} == {k: cfg.point[k] for k in names}


def test_the_template_declares_every_parameter_of_the_released_top() -> None:
    text = (ROOT / "templates" / "overlay_release" / f"{TOP}.v").read_text()
    head = text[text.index(f"module {TOP}") : text.index(") (")]
    declared = set(re.findall(r"parameter\s+(\w+)\s*=\s*\d", head))  # numbers, not file names
    assert declared == set(load_template(RELEASE_TEMPLATE).parameters)
