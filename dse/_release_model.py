"""The study's cost model beside a release's measured cycles per token (``dse release show``).

A runnable release records the cycles per token of its own run at its clock: ``onchip``
(ECP5) the released top simulated over its UART, ``alveo`` the sim rung on the released
program. ``run_prediction`` is the cost model's prediction of that same run: the study's
model (``study.yaml`` in the release; the raw model, as a release records no calibration)
at the trial's point and the release's clock, for the release's model shape, prompt and
generated tokens, on the memory the run had: on chip, ``ONCHIP_LATENCY`` cycles and one
beat a cycle per port; on an Alveo card, the board's HBM with the sim rung's latency.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cost_models as cm
from dse._release_read import Release


def _memory(kind: str, platform: Any, clock_mhz: float, beat: int) -> Any:
    """``platform`` with the memory the release's measured run had."""
    from overlay.onchip import ONCHIP_LATENCY
    from overlay.sim import DEFAULT_LATENCY

    mem = platform.memory
    if kind == "onchip":  # one block-RAM port per group: a beat a cycle, 2-cycle reads
        mem = replace(
            mem,
            channels=len(cm.GROUPS),
            channel_gbps=beat * clock_mhz * 1e6 / 1e9,
            eff_local=1.0,
            eff_global=1.0,
            port_clock_mhz=0.0,
            segment_channels=0,
            read_latency_ns=ONCHIP_LATENCY / clock_mhz * 1e3,
        )
    else:  # the board's HBM at the sim rung's latency (cycles, whatever the clock)
        mem = replace(mem, read_latency_ns=DEFAULT_LATENCY / clock_mhz * 1e3)
    return replace(platform, memory=mem)


def run_prediction(rel: Release) -> dict[str, Any] | None:
    """Measured and predicted cycles per token (and tokens/s at the release's clock) of the
    release's own run; None for a release that records no overlay run (a plain bitstream;
    a spatial release, whose manifest pairs the spatial model with its run itself).

    Raises:
        ValueError: the release's study or point no longer evaluates (the message says why).
    """
    from dse.config import load_config
    from dse.scoring import Model

    kind = next((k for k in ("onchip", "alveo") if isinstance(rel.manifest.get(k), dict)), None)
    section = rel.manifest.get(kind) if kind else None
    sim = section.get("simulated") if section else None
    measured = section.get("cycles_per_token") if section else None
    if not isinstance(sim, dict) or not isinstance(measured, int | float) or measured <= 0:
        return None
    assert kind is not None and section is not None
    if section.get("family", "overlay") != "overlay":
        return None
    try:
        cfg = load_config(rel.path / "study.yaml")
        shape = cm.ModelShape(**section["model"])
        prompt, tokens = len(sim["prompt"]), len(sim["tokens"])
        steps = round(float(sim["step_cycles"]) / float(measured))
        clock = float(section["clock_mhz"])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{rel.path}: cannot read the release's run ({exc})") from None
    point = {**rel.parameters, "freq_mhz": clock, "host_overhead_us": 0.0}
    point.setdefault("axi_port_bits", cfg.design.get("axi_port_bits", 128))
    if kind == "onchip":
        point.update({f"hbm_ch_{g}": 1 for g in cm.GROUPS}, hbm_placement="local")
    platform = _memory(kind, cfg.platform, clock, int(point["axi_port_bits"]) // 8)
    base = Model.of(cfg)
    cycles = 0.0
    # The prompt's prefill, then each generated token but the last (a decode step at the KV
    # length it attends over: the model charges kv_len + 1 entries).
    for i in range(tokens):
        wl = cm.Workload(shape, 1, prompt, tokens, True, prompt - 1 + i if i else None)
        model = replace(base, workload=wl, platform=platform)
        try:
            row = model.evaluate(point, baseline=False).iloc[0]
        except (cm.InputError, ValueError) as exc:
            raise ValueError(
                f"{rel.path / 'study.yaml'}: the model cannot evaluate {exc}"
            ) from None
        if i == 0:
            cycles += float(row["prefill_latency_s"]) * clock * 1e6
        else:
            cycles += float(row["decode_latency_s_per_token"]) * clock * 1e6
    predicted = cycles / steps
    out = {
        "run": section.get("top") or section.get("kernel") or kind,
        "memory": "on-chip block RAM" if kind == "onchip" else f"{cfg.platform.name} HBM",
        "prompt_tokens": prompt,
        "generated_tokens": tokens,
        "steps": steps,
        "clock_mhz": clock,
        "measured_cycles_per_token": float(measured),
        "model_cycles_per_token": predicted,
        "error_pct": 100.0 * (predicted / float(measured) - 1.0),
        "measured_tokens_per_s": clock * 1e6 / float(measured),
        "model_tokens_per_s": clock * 1e6 / predicted,
    }
    cycle_model = section.get("model_cycles_per_token")  # the overlay cycle model (Alveo)
    if isinstance(cycle_model, int | float):
        out["cycle_model_cycles_per_token"] = float(cycle_model)
    return out
