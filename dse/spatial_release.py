"""The part of ``dse promote`` that releases a spatial point on an ECP5 board.

A spatial point on an ECP5 platform whose weights fit on chip is released as
``templates/spatial_release``: the generated ``sp_top`` with every weight in ROMs of the
bitstream behind the overlay release's UART host interface, so ``dse run`` drives it as it
drives a released overlay (the manifest's ``onchip`` section, ``family: spatial``).
``plan`` runs before anything is built: it builds the point's dataflow plan for the study's
model and refuses, naming what is missing, a point the release cannot hold (weights
streamed, weight ROMs over the device's block RAM, more multipliers than it has).
``build_spec`` turns the promote's build into one of that top; ``publish`` writes
``onchip/`` (the released top's sources and ROMs), checks they are byte for byte the
bundle the bitstream was built from, simulates that exact top over its UART and returns the
manifest section: model shape, ROM image and plan sha256, measured cycles per token.

The HLS spatial top (``hls_spatial``) and the spatial RTL on other boards are refused by
name: there is no host for them yet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dse._release_base import ReleaseError
from dse.errors import DseError
from dse.onchip_release import SIM_TOKENS, UART_BAUD

RELEASE_TEMPLATE = "spatial_release"
SPATIAL_TEMPLATES = ("spatial_rtl", "hls_spatial")
MISSING = {
    "spatial_rtl": (
        "a released top for this board: only ECP5 boards have one (spatial_release: sp_top "
        "with its weights in ROMs behind a UART); on other boards no host drives sp_top"
    ),
    "hls_spatial": (
        "an XRT host that writes the spatial top's memory image into HBM and runs its "
        "calls (the overlay's alveo_release does this for the overlay; docs/spatial.md)"
    ),
}


class SpatialReleaseError(DseError, ValueError):
    """A spatial ECP5 point that cannot be released (one line: what is missing)."""


@dataclass
class Plan:
    rel: Any  # spatial.release.SpatialRelease
    point: dict[str, Any]  # the build's design point (the cost model's keys among them)
    need: dict[str, Any]
    available: dict[str, int]
    freq_mhz: float


def plan(config_path: Path, point: dict[str, Any], spec: Any) -> Plan | None:
    """None unless ``spec`` builds the spatial accelerator; refused (``ReleaseError``) when
    it has no released form on this board; else the release, checked to fit."""
    from dse.config import load_config
    from spatial.plan import SpatialError
    from spatial.release import check_fits, prepare, release_plan

    if spec.template not in SPATIAL_TEMPLATES:
        return None
    cfg = load_config(config_path)
    if spec.template == "hls_spatial" or cfg.platform.family.lower() != "ecp5":
        raise ReleaseError(
            f"template '{spec.template}': dse promote does not release the spatial "
            f"accelerator on {cfg.platform.name} yet; missing: {MISSING[spec.template]}"
        )
    freq = float(point.get("freq_mhz", cfg.platform.clock_default_mhz))
    cpb = max(4, round(freq * 1e6 / UART_BAUD))
    res = cfg.platform.resources
    available = {"ebr": int(res.bram36 * 2), "dsp": int(res.dsp)}  # ECP5 EBRs are 18 Kbit
    point = {**spec.point, "weights_seed": cfg.seed, "CPB": cpb}
    try:  # the fit first: a model too big for the device is not quantised at all
        need = check_fits(
            release_plan(point), available["ebr"], available["dsp"], cfg.platform.name
        )
        rel = prepare(point)
    except SpatialError as exc:
        raise SpatialReleaseError(f"{config_path.name}: design point {exc}") from None
    return Plan(rel, point, need, available, freq)


def build_spec(p: Plan, spec: Any) -> Any:
    """``spec`` (a build of ``spatial_rtl``) as a build of the released top."""
    point = {**spec.point, "weights_seed": p.rel.seed, "CPB": p.rel.cpb}
    return replace(spec, template=RELEASE_TEMPLATE, point=point)


def publish(p: Plan, release_dir: Path, log: Any = None) -> dict[str, Any]:
    """Write ``onchip/``, simulate the released top over its UART, return the manifest
    section. Raises SpatialReleaseError when the simulated tokens differ from the
    reference's or the files differ from the built bundle's."""
    from overlay.flow import default_prompt
    from spatial.release import TOP, digests, write_files

    rel, plan_ = p.rel, p.rel.plan
    folder = release_dir / "onchip"
    write_files(rel, folder)
    built = release_dir / "sources"  # the rendered bundle the bitstream was built from
    differ = [
        f.relative_to(folder).as_posix()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
        and (
            not (built / f.relative_to(folder)).is_file()
            or (built / f.relative_to(folder)).read_bytes() != f.read_bytes()
        )
    ]
    if differ:
        raise SpatialReleaseError(
            f"the simulated top's {', '.join(differ)} differ from the built bundle's: not published"
        )
    prompt = default_prompt(plan_.shape, 3, rel.seed + 11)
    if log:
        log(
            f"simulating the released top {TOP} over its UART ({len(prompt)} + {SIM_TOKENS} tokens)"
        )
    run = simulate(p, folder, prompt, SIM_TOKENS)
    if not run["simulated"]["bit_exact"]:
        raise SpatialReleaseError(
            f"the released top decoded {run['simulated']['tokens']} in simulation, the "
            f"bit-exact reference {run['simulated']['reference_tokens']}: not published"
        )
    image, plan_sha = digests(rel, folder)
    return {
        "family": "spatial",
        "top": TOP,
        "model": asdict(plan_.shape),
        "image_sha256": image,
        "plan_sha256": plan_sha,
        "weights": f"seeded random weights (overlay.model), seed {rel.seed}",
        "plan": {
            "layers_per_fpga": plan_.layers_built,
            "passes": plan_.passes,
            "w_bits": plan_.w_bits,
            "macs_per_cycle": {k.name: k.unroll for k in plan_.kernels if k.op == "gemv"},
            "m_attn": plan_.kernel("attn").unroll,
        },
        "max_positions": plan_.max_pos,
        "clock_mhz": p.freq_mhz,
        "uart": {"baud": UART_BAUD, "clocks_per_bit": rel.cpb, "format": "8N1"},
        "fit_estimate": {"need": p.need, "available": p.available},
        **run,
    }


def simulate(p: Plan, folder: Path, prompt: list[int], n: int) -> dict[str, Any]:
    """Run the released top written in ``folder`` over its UART: the prompt alone (its
    call's cycles), then the prompt and ``n`` tokens; the tokens beside the reference's and
    the cycles beside the spatial cost model's for the same run (prefill of the prompt, each
    decode step at its KV length, as the sim rung pairs them)."""
    from overlay.onchip import run_uart
    from overlay.onchip_sim import SimPort
    from overlay.reference import run_reference
    from spatial.release import build
    from spatial.simflow import model_cycles

    rel, shape = p.rel, p.rel.plan.shape
    want, _ = run_reference(rel.qm, prompt, n)
    with SimPort(build(folder), folder, rel.cpb, timeout=600) as port:
        first, prefill = run_uart(port, prompt, 1)
        got, cycles = run_uart(port, prompt, n)
    decode = (cycles - prefill) / max(1, n - 1)
    positions = [len(prompt) + i for i in range(n - 1)]
    pre_model, dec_model, _ = model_cycles(shape, p.point, len(prompt), positions)
    dec_mean = sum(dec_model) / max(1, len(dec_model))
    return {
        "simulated": {
            "prompt": prompt,
            "tokens": got,
            "reference_tokens": want,
            "bit_exact": got == want and first == want[:1],
            "call_cycles": cycles,
            "prefill_cycles": prefill,
        },
        "cycles_per_token": cycles / (len(prompt) + n - 1),
        "decode_cycles_per_token": decode,
        "model_cycles": {
            "prefill_cycles": round(pre_model),
            "decode_cycles_per_token": round(dec_mean, 1),
            "prefill_err_pct": round(100.0 * (pre_model - prefill) / prefill, 2),
            "decode_err_pct": round(100.0 * (dec_mean - decode) / decode, 2) if n > 1 else None,
        },
    }


__all__ = [
    "RELEASE_TEMPLATE",
    "Plan",
    "SpatialReleaseError",
    "build_spec",
    "plan",
    "publish",
    "simulate",
]
