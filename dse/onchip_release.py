"""The part of ``dse promote`` that makes an ECP5 temporal release runnable on a board.

A temporal point on an ECP5 platform is released as the overlay with its program and weight
image on chip and a UART host interface (``overlay.onchip``). ``plan`` runs before anything
is built: it compiles the point's model and refuses, naming what is missing, a point whose
image does not fit the device's block RAM (there is no external memory controller yet) or
that the overlay cannot build at all. ``build_spec`` turns the promote's build into one of
that released top (template ``overlay_release``: the UART top, the core, the images as
sources), so the bitstream holds the weights and the program. ``publish`` writes
``onchip/`` into the release (the released top's sources, hex images, parameters), checks
they are byte for byte the sources the bitstream was built from, simulates that exact top in
Verilator with a UART driver, checks its tokens against the bit-exact reference and returns
the manifest's ``onchip`` section: model shape, image and program sha256, measured cycles
per token.

The weights are the overlay's seeded random weights (``overlay.model``, seed = the study's
``seed``): the release proves the hardware computes the model exactly, not what it says.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dse.errors import DseError

UART_BAUD = 115200
RELEASE_TEMPLATE = "overlay_release"  # templates/overlay_release: the released top
SIM_TOKENS = 8  # generated tokens the promote-time simulation decodes


class OnchipError(DseError, ValueError):
    """A temporal ECP5 point that cannot be released as an on-chip overlay."""


@dataclass
class Plan:
    rel: Any  # overlay.onchip.OnchipRelease
    shape: Any  # cost_models.ModelShape
    blocks: dict[str, int]
    blocks_available: int
    freq_mhz: float
    seed: int


def plan(config_path: Path, point: dict[str, Any], template: str = "overlay") -> Plan | None:
    """None unless ``template`` is the overlay and the study temporal on ECP5; else the
    compiled release, checked to fit. (The unit templates, e.g. ``llm_top``, keep their
    plain bitstream releases.)"""
    from dse.config import load_config
    from overlay.config import OverlayError
    from overlay.onchip import check_fits, prepare_release

    if template != "overlay":
        return None
    cfg = load_config(config_path)
    if cfg.arch != "temporal" or cfg.platform.family.lower() != "ecp5":
        return None
    shape = cfg.workload.model
    freq = float(point.get("freq_mhz", cfg.platform.clock_default_mhz))
    cpb = max(4, round(freq * 1e6 / UART_BAUD))
    max_pos = min(64, shape.max_positions or 64)
    available = int(cfg.platform.resources.bram36 * 2)  # ECP5 EBRs are 18 Kbit
    # Before compiling (a real model's random weights would take gigabytes): the weights
    # alone at their width, against all block RAM.
    w_bits = 4 if point.get("quant", "w4a8") == "w4a8" else 8
    need_kbit = shape.params_total() * w_bits / 1024
    if need_kbit > available * 18:
        raise OnchipError(
            f"{config_path.name}: {shape.name}'s weights need {need_kbit / 1024:.1f} Mbit "
            f"and {cfg.platform.name} has {available * 18 / 1024:.1f} Mbit of block RAM: the "
            "overlay has no external memory controller (DDR) for ECP5 yet, so only models "
            "whose image fits on chip can be released"
        )
    try:
        rel = prepare_release(shape, dict(point), cfg.seed, max_pos, cpb)
        blocks = check_fits(rel, available, cfg.platform.name)
    except OverlayError as exc:
        raise OnchipError(f"{config_path.name}: design point {exc}") from None
    except ValueError as exc:  # a shape the compiler does not support
        raise OnchipError(f"{config_path.name}: workload.shape: {exc}") from None
    return Plan(rel, shape, blocks, available, freq, cfg.seed)


def build_spec(p: Plan, spec: Any) -> Any:
    """``spec`` (a ``dse.buildspec.BuildSpec`` of the overlay) as a build of the released top:
    template ``overlay_release`` at the release's parameters, its images as sources."""
    images = {name.removesuffix(".hex"): text for name, text in p.rel.files.items()}
    return replace(
        spec, template=RELEASE_TEMPLATE, point={**spec.point, **p.rel.params, "images": images}
    )


def prefill_section(comp: Any) -> dict[str, Any]:
    """How the released hardware runs a prompt (the manifest's ``prefill``): ``serial``, token
    by token through the step program, or ``batched``, in chunks of ``token_slots`` tokens
    that share each fetched weight tile (``overlay.compiler.Prefill``)."""
    pf = comp.prefill
    if pf.slots <= 1:
        return {"mode": "serial", "token_slots": 1}
    return {
        "mode": "batched",
        "token_slots": pf.slots,
        "embed_pc": pf.embed,
        "body_pc": pf.body,
        "head_pc": pf.head,
    }


def publish(p: Plan, release_dir: Path, log: Any = None) -> dict[str, Any]:
    """Write ``onchip/``, simulate the released top over its UART, return the manifest section.

    Raises OnchipError when the simulated tokens differ from the reference's.
    """
    from overlay.flow import default_prompt
    from overlay.onchip import TOP, run_uart, write_files
    from overlay.onchip_sim import SimPort, build, sources
    from overlay.reference import run_reference

    rel = p.rel
    folder = release_dir / "onchip"
    folder.mkdir()
    for src in sources():
        shutil.copyfile(src, folder / src.name)
    write_files(rel, folder)
    built = release_dir / "sources"  # the rendered bundle the bitstream was built from
    differ = [
        f.name
        for f in sorted(folder.iterdir())
        if (built / f.name).is_file() and (built / f.name).read_bytes() != f.read_bytes()
    ]
    if differ:
        raise OnchipError(
            f"the simulated top's {', '.join(differ)} differ from the built bundle's: not published"
        )
    params = dict(rel.params)
    prompt = default_prompt(p.shape, 3, p.seed + 11)
    want, _ = run_reference(rel.prep.qm, prompt, SIM_TOKENS)
    if log:
        log(
            f"simulating the released top {TOP} over its UART ({len(prompt)} + {SIM_TOKENS} tokens)"
        )
    with SimPort(build(params), folder, params["CPB"], timeout=600) as port:
        got, cycles = run_uart(port, prompt, SIM_TOKENS)
    if got != want:
        raise OnchipError(
            f"the released top decoded {got} in simulation, the bit-exact reference {want}: "
            "not published"
        )
    steps = len(prompt) + SIM_TOKENS - 1
    section = {
        "top": TOP,
        "model": asdict(p.shape),
        "image_sha256": rel.image_sha256,
        "program_sha256": rel.program_sha256,
        "weights": f"overlay.model seeded random weights, seed {p.seed}",
        "params": params,
        "max_positions": rel.max_pos,
        "prefill": prefill_section(rel.prep.comp),
        "clock_mhz": p.freq_mhz,
        "uart": {"baud": UART_BAUD, "clocks_per_bit": params["CPB"], "format": "8N1"},
        "block_ram": {"need": p.blocks, "available": p.blocks_available},
        "simulated": {
            "prompt": prompt,
            "tokens": got,
            "reference_tokens": want,
            "bit_exact": True,
            "step_cycles": cycles,
        },
        "cycles_per_token": cycles / steps,
    }
    return section
