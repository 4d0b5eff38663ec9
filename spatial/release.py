"""The spatial accelerator released for a board without external memory (ECP5).

``templates/spatial_release`` is the generated ``sp_top`` (spatial.rtl: every weight in a
ROM initialised from ``rom/*.hex``, i.e. from the bitstream) behind ``sp_uart_top``, which
speaks the overlay release's UART protocol with the overlay's UART (``ov_uart.v``), so one
host (``overlay.onchip.run_uart``, ``dse run``) drives both families. This module is that
template's generator (``write_sources``), the fit check ``dse promote`` runs before any tool
(``check_fits``) and the simulation of the exact released top (``build``: the rendered
files and the overlay's UART harness in Verilator; ``overlay.onchip_sim.SimPort`` runs it).

Digests (recorded in a release manifest): ``image_sha256`` is the sha256 over the ROM images
(``rom/*.hex``, sorted by name: name, NUL, bytes); ``plan_sha256`` the sha256 of the plan
(``spatial.plan.SpatialPlan`` as sorted JSON), i.e. the dataflow the RTL was generated from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_models._spatial_params import plan_instances
from cost_models._spatial_resources import predict
from overlay.onchip import HARNESS, RELEASE_DIR, ecp5_blocks
from overlay.reference import QuantModel
from overlay.sim import verilate
from spatial.flow import SIM_FLOW, plan_of, quantised
from spatial.hls import jinja_env
from spatial.plan import SpatialError, SpatialPlan
from spatial.rtl import LIBRARY, RTL_DIR, gemvs, render, write_roms

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "spatial_release"
TOP = "sp_uart_top"
UART = RELEASE_DIR / "ov_uart.v"  # the overlay release's UART, one copy for both families


@dataclass
class SpatialRelease:
    plan: SpatialPlan
    qm: QuantModel
    seed: int
    cpb: int


def release_plan(point: Mapping[str, Any]) -> SpatialPlan:
    """The plan of ``point`` for the study's model, refused unless its weights are on chip."""
    if point.get("weight_storage", "onchip") != "onchip":
        raise SpatialError(
            "weight_storage",
            f"{point.get('weight_storage')!r}: the released spatial top keeps every weight in "
            "ROMs in the bitstream (onchip); streamed weights need a memory controller the "
            "ECP5 release does not have",
        )
    return plan_of(point)


def prepare(point: Mapping[str, Any]) -> SpatialRelease:
    """The plan of ``point`` for the study's model and its seeded, quantised weights."""
    plan = release_plan(point)
    seed = point.get("weights_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpatialError("weights_seed", f"expected an integer >= 0, got {seed!r}")
    cpb = point.get("CPB", 217)
    if isinstance(cpb, bool) or not isinstance(cpb, int) or not 4 <= cpb < 1 << 16:
        raise SpatialError("CPB", f"clocks per UART bit: expected 4..65535, got {cpb!r}")
    return SpatialRelease(plan, quantised(plan, seed), seed, cpb)


def render_top(rel: SpatialRelease, out: Path) -> Path:
    """``sp_uart_top.v`` of the release (its constants baked in: a generated top takes no
    HDL parameters)."""
    text = (
        jinja_env(TEMPLATE_DIR)
        .get_template(f"{TOP}.v.j2")
        .render(CPB=rel.cpb, MAXPOS=rel.plan.max_pos)
    )
    path = out / f"{TOP}.v"
    path.write_text(text, encoding="utf-8")
    return path


def write_files(rel: SpatialRelease, out: Path) -> list[str]:
    """Every file the released top is built and simulated from, as the template's bundle
    holds them: ``sp_uart_top.v``, ``sp_top.v``, the library, ``ov_uart.v``, ``rom/*.hex``.
    Returns the Verilog file names."""
    out.mkdir(parents=True, exist_ok=True)
    files = [render_top(rel, out), *render(rel.plan, out)]
    shutil.copyfile(UART, out / UART.name)
    write_roms(rel.plan, rel.qm, out)
    (out / "sim_main.cpp").unlink()  # sp_top's own harness: not part of the release
    return [f.name for f in files if f.suffix == ".v"] + [UART.name]


def write_sources(folder: Path, point: Mapping[str, Any], flow: str) -> list[str]:
    """The generator of ``templates/spatial_release``: the generated tops and the ROMs
    (names relative to ``folder``); the library and ``ov_uart.v`` are the manifest's."""
    if flow == SIM_FLOW:
        raise SpatialError("flow", "the released top is built with ecp5 / yosys-ecp5")
    rel = prepare(point)
    render_top(rel, folder)
    with tempfile.TemporaryDirectory(prefix="sp-release-") as tmp:
        render(rel.plan, Path(tmp))  # the library comes from the manifest's sources
        shutil.copyfile(Path(tmp) / "sp_top.v", folder / "sp_top.v")
    write_roms(rel.plan, rel.qm, folder)
    roms = sorted(p.relative_to(folder).as_posix() for p in (folder / "rom").glob("*.hex"))
    return [f"{TOP}.v", "sp_top.v", *roms]


def build(folder: Path) -> Path:
    """The Verilator simulator of the released top whose files are in ``folder`` (built
    once per content; the ROMs are read at run time from the working directory)."""
    verilog = [folder / f"{TOP}.v", folder / "sp_top.v", *(folder / n for n in LIBRARY)]
    return verilate(TOP, [*verilog, folder / UART.name, RELEASE_DIR / HARNESS], {}, tag="sp-uart")


def digests(rel: SpatialRelease, folder: Path) -> tuple[str, str]:
    """(image_sha256, plan_sha256) of a release written into ``folder``."""
    img = hashlib.sha256()
    for path in sorted((folder / "rom").glob("*.hex")):
        img.update(path.name.encode() + b"\0" + path.read_bytes())
    plan = json.dumps(dataclasses.asdict(rel.plan), sort_keys=True, default=str)
    return img.hexdigest(), hashlib.sha256(plan.encode()).hexdigest()


def rom_blocks(plan: SpatialPlan) -> dict[str, int]:
    """ECP5 EBRs (18 Kbit) of the weight ROMs, per GEMV over all layer instances."""
    out: dict[str, int] = {}
    for name, g in gemvs(plan).items():
        n = 1 if name == "lm" else plan.layers_built
        passes = 1 if name == "lm" else plan.passes
        blocks = ecp5_blocks(g.word_bits(plan.w_bits), passes * g.issue_rows * g.ng * g.nch)
        if g.sparse:
            blocks += ecp5_blocks(g.unroll * g.cb, passes * g.rows * g.ng * g.nch)
        if g.ch:
            depth = passes * (g.k // g.ch) * g.nrc * g.njc
            blocks += ecp5_blocks(g.rpc * g.lpr * plan.w_bits, depth)
            if g.sparse:
                blocks += ecp5_blocks(g.rpc * g.lpr * g.ccb, depth)
        out[name] = n * blocks
    return out


def multipliers(plan: SpatialPlan) -> int:
    """The MULT18X18D the released top takes: the whole-design model's count of its sp_top
    (``cost_models._spatial_dsp``, what synth_ecp5 maps; the UART wrapper has none)."""
    return int(predict(plan_instances(plan), "yosys-ecp5", {})["dsp"])


def check_fits(plan: SpatialPlan, ebr: int, dsp: int, where: str) -> dict[str, Any]:
    """What the released top needs (ROM blocks, multipliers); :class:`SpatialError`
    naming what is missing when it cannot fit ``where`` (``ebr`` block RAMs, ``dsp``
    multipliers)."""
    roms = rom_blocks(plan)
    need = {"weight_rom_ebr": sum(roms.values()), "multipliers": multipliers(plan)}
    if need["weight_rom_ebr"] > ebr:
        parts = ", ".join(f"{k} {v}" for k, v in roms.items())
        raise SpatialError(
            "weight_storage",
            f"the weight ROMs need {need['weight_rom_ebr']} block RAMs ({parts}) and {where} "
            f"has {ebr}: the released spatial top keeps every weight on chip, so only models "
            "whose weights fit can be released (fewer layers_per_fpga does not help: every "
            "layer's weights are held)",
        )
    if need["multipliers"] > dsp:
        raise SpatialError(
            "m_ffn",
            f"the top needs {need['multipliers']} multipliers (the weight lanes of m_qkv "
            "and m_ffn, 2 x m_attn, and each GEMV's scale and requantiser, norm and "
            f"attention arithmetic besides) and {where} has {dsp} MULT18X18D: "
            "lower m_qkv, m_ffn, m_attn or layers_per_fpga",
        )
    return need


__all__ = [
    "RTL_DIR",
    "TOP",
    "build",
    "check_fits",
    "prepare",
    "release_plan",
    "write_files",
    "write_sources",
]
