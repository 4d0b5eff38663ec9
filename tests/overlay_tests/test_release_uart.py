"""The released ECP5 overlay (on-chip image, UART host) simulated as released: tokens equal
the bit-exact reference's, through the protocol, through ``dse run`` over a pty, and the
refusals (image too big for the device, a knob without hardware, a request too long)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from dse.config import load_config
from dse.onchip_release import OnchipError, plan, publish
from overlay.onchip import digests, encode_request, run_uart
from overlay.onchip_sim import SimPort, build
from overlay.reference import run_reference

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-llama-ecp5.yaml"
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    p = plan(EXAMPLE, load_config(EXAMPLE).point, "overlay")
    assert p is not None
    folder = tmp_path_factory.mktemp("release")
    return p, folder, publish(p, folder)


def test_released_top_decodes_the_reference_tokens(released) -> None:
    p, folder, section = released
    comp = p.rel.prep.comp
    want, _ = run_reference(p.rel.prep.qm, section["simulated"]["prompt"], 8)
    assert section["simulated"]["tokens"] == want
    assert section["model"]["n_layers"] == 5 and section["model"]["vocab"] == 512
    assert (section["image_sha256"], section["program_sha256"]) == digests(comp)
    assert section["cycles_per_token"] > 1000
    # the hex files in the release are the compiler's images, word by word
    beat = comp.cfg.beat
    for g, data in comp.mem.items():
        words = (folder / "onchip" / f"{g}.hex").read_text().split()
        raw = b"".join(bytes.fromhex(w)[::-1] for w in words)
        assert len(words[0]) == 2 * beat and raw[: len(data)] == bytes(data)


def test_top_refuses_a_long_request_then_serves_the_next(released) -> None:
    p, folder, section = released
    binary = build(section["params"])
    with SimPort(binary, folder / "onchip", section["params"]["CPB"], timeout=300) as port:
        port.write(encode_request([1, 2], 64))  # 2 + 64 - 1 > 64 positions
        head = port.read(2)
        head += port.read(2 - len(head)) if len(head) < 2 else b""
        assert head == b"\x5a\x01"
        prompt = [7, 300, 511, 0]
        got, cycles = run_uart(port, prompt, 3)
    assert got == run_reference(p.rel.prep.qm, prompt, 3)[0]
    assert cycles > 0


def _bridge(master: int, port: SimPort) -> None:
    """Copy bytes between the pty (the host's serial port) and the simulated board."""
    assert port.proc.stdout is not None

    def down() -> None:
        while True:
            try:
                data = os.read(master, 256)
            except OSError:
                return
            if not data:
                return
            port.write(data)

    def up() -> None:
        while True:
            try:  # the board or the pty may close first once the host has its tokens
                data = port.read(256)
                if not data:
                    return
                os.write(master, data)
            except (OSError, ValueError):
                return

    for fn in (down, up):
        threading.Thread(target=fn, daemon=True).start()


def dse_run_over_pty(port: SimPort, results: Path, args: list[str]) -> Any:
    """``dse run ARGS`` with ``--port`` a pty bridged to the simulated board ``port``."""
    master, slave = os.openpty()
    _bridge(master, port)
    try:
        argv = [sys.executable, "-m", "dse.cli", "run", *args, "--port", os.ttyname(slave)]
        argv += ["--results", str(results)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)
    finally:
        os.close(master)
        os.close(slave)


def test_dse_run_over_a_pty(released, tmp_path: Path) -> None:
    p, folder, section = released
    rel = tmp_path / "releases" / "tiny"
    rel.mkdir(parents=True)
    (rel / "manifest.json").write_text(json.dumps({"onchip": section}))
    binary = build(section["params"])
    with SimPort(binary, folder / "onchip", section["params"]["CPB"], timeout=300) as port:
        done = dse_run_over_pty(port, tmp_path, ["tiny", "--prompt", "1,2,3", "--tokens", "5"])
    assert done.returncode == 0, done.stderr
    want = run_reference(p.rel.prep.qm, [1, 2, 3], 5)[0]
    assert done.stdout.strip() == ",".join(map(str, want))
    assert "per token" in done.stderr


def test_dse_run_bad_input_is_one_line(released, tmp_path: Path) -> None:
    _, _, section = released
    rel = tmp_path / "releases" / "tiny"
    rel.mkdir(parents=True)
    (rel / "manifest.json").write_text(json.dumps({"onchip": section}))
    cases = [
        (["nope", "--prompt", "1"], "nope"),
        (["tiny", "--prompt", "1,x"], "--prompt"),
        (["tiny", "--prompt", "1,600"], "vocabulary"),
        (["tiny", "--prompt", "1", "--tokens", "70"], "positions"),
        (["tiny", "--prompt", "1", "--port", "/nonexistent/tty"], "--port"),
    ]
    broken = tmp_path / "releases" / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"onchip": {"model": {}, "uart": 3}}))
    cases.append((["broken", "--prompt", "1"], "onchip.model.vocab"))
    for args, needle in cases:
        argv = ["run", *args, "--results", str(tmp_path)]
        if "--port" not in args:
            argv += ["--port", "/nonexistent/tty"] if needle != "--port" else []
        done = subprocess.run(
            [sys.executable, "-m", "dse.cli", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, lines)


def test_promote_refuses_what_does_not_fit_or_cannot_be_built(tmp_path: Path) -> None:
    smollm = ROOT / "examples" / "smollm-135m-ecp5.yaml"
    with pytest.raises(OnchipError, match="external memory controller"):
        plan(smollm, load_config(smollm).point, "overlay")
    assert plan(smollm, load_config(smollm).point, "llm_top") is None  # unit template
    point = {**load_config(EXAMPLE).point, "quant": "w4a16"}
    with pytest.raises(OnchipError, match="quant"):
        plan(EXAMPLE, point, "overlay")


def test_released_top_is_lint_clean() -> None:
    """The released top and its UART/memory modules: no warning under -Wall (the core's
    own -Wall findings are its file's; open outputs are deliberate)."""
    from overlay.onchip_sim import sources

    argv = ["verilator", "--lint-only", "-Wall", "-Wno-PINCONNECTEMPTY", "-Wno-UNUSEDSIGNAL"]
    argv += ["-Wno-DECLFILENAME"]  # ov_uart.v holds both halves of the UART
    argv += ["-Wno-UNUSEDPARAM", "--top-module", "overlay_uart_top", *map(str, sources())]
    done = subprocess.run(argv, capture_output=True, text=True)
    mine = [
        line
        for line in done.stderr.splitlines()
        if line.startswith("%")
        and any(f"/{s}:" in line for s in ("overlay_uart_top.v", "ov_memslave.v", "ov_uart.v"))
    ]
    assert mine == [], mine
