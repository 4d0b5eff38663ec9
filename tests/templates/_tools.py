"""Helpers shared by the template tests: locate tools, render a template, run a simulation."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from runners._templates import Template, render_template

# Debian package providing each external tool the template tests run.
PACKAGES = {"iverilog": "iverilog", "vvp": "iverilog", "verilator": "verilator", "g++": "g++"}


def require_tool(name: str) -> str:
    """Path of a tool; fail (or skip when DSE_ALLOW_MISSING_SIM=1) if it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    package = PACKAGES.get(name, name)
    message = f"{name} is not on PATH; `make test` installs it (apt-get install -y {package})"
    if os.environ.get("DSE_ALLOW_MISSING_SIM") == "1":
        pytest.skip(message)
    pytest.fail(message)


def run(cmd: Sequence[str], cwd: Path, timeout: float = 300) -> str:
    """Run a command in ``cwd``; return stdout + stderr, failing the test on a nonzero exit."""
    proc = subprocess.run(
        list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited with {proc.returncode}:\n{output}"
    return output


def write_hex(path: Path, words: Iterable[int], width: int) -> int:
    """Write ``$readmemh`` words (one per line, zero-padded); return how many were written."""
    digits = (width + 3) // 4
    lines = [format(w & ((1 << width) - 1), f"0{digits}x") for w in words]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return len(lines)


def simulate(
    template: Template,
    setting: Mapping[str, object],
    workdir: Path,
    tb_params: Mapping[str, int],
) -> list[list[int]]:
    """Render ``template`` with its testbench, run iverilog + vvp in ``workdir``.

    The caller has written ``stim.hex`` into ``workdir``; returns ``out.txt`` as rows of ints.
    """
    iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
    files = render_template(template, setting, workdir, include_test=True)
    params = {**template.resolve_params(setting), **tb_params}
    defs = [f"-Ptb.{k}={v}" for k, v in sorted(params.items())]
    verilog = [f.name for f in files if f.suffix == ".v"]
    log = run([iverilog, "-g2005", "-Wall", "-o", "sim.vvp", "-s", "tb", *defs, *verilog], workdir)
    assert "warning" not in log.lower(), log  # the templates compile warning-free
    log = run([vvp, "-n", "sim.vvp"], workdir)
    assert "error" not in log.lower(), log
    text = (workdir / "out.txt").read_text(encoding="ascii")
    return [[int(v) for v in line.split()] for line in text.splitlines() if line.strip()]
