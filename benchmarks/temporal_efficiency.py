"""Engine efficiency of the temporal model (issue 16 item 8), checked two ways.

1. Against the overlay cycle model (``cost_models._overlay_cycles``, itself within a few %
   of Verilator simulation: ``benchmarks/sim_vs_model.py``): decode cycles per token of the
   temporal model on the overlay's own points — 3 tiny families × the 4 hardware points of
   the sim benchmark × U280 HBM / ECP5 DDR × KV 4, 8, 11 — with both models fed the same
   per-port memory rates. Nothing is fitted: the temporal model imports the overlay's
   constants (fetch/setup cycles, stream start, serial SFU steps, outstanding bursts).
2. Against FlightLLM's own profiler (flightllm_test_demo, ``profile/.compiler_output/
   profiler_output/llama2_*_token_N.csv``, TOTAL row in ms; VHK158, config.yaml: 4 SLRs,
   MM 2×16×128, MV 64×16, SFU 16, 225 MHz, 32 HBM channels at 819.2 GB/s, 0.7 efficiency):
   our FlightLLM encoding (benchmarks/published.py) with 4 cores on ``vhk158`` using all
   64 ports. The profiler is a model too, not a measurement.

``before`` columns: the same script's figures at commit ef66385 (fixed 200 cycles per
layer, engines 100 % busy). Run: ``python benchmarks/temporal_efficiency.py``
"""

from __future__ import annotations

import statistics
from typing import Any

from published import FLIGHTLLM
from sim_vs_model import HW, MEMORY

import cost_models as cm
from cost_models._overlay_cycles import OverlayMemory, prefill_cycles, step_cycles
from cost_models._points import temporal_params
from cost_models._workload import Workload
from overlay.config import overlay_config
from overlay.flow import TINY_SHAPES
from overlay.sim import DEFAULT_LATENCY

# Profiler TOTAL (ms): decode step at KV length N, prefill of N tokens.
PROFILER_DECODE = {144: 9.281941, 256: 9.429263, 512: 9.809803, 1024: 10.615256, 2048: 12.226162}
PROFILER_PREFILL = {128: 289.882369, 512: 1181.419287}
# The profiler's busiest units (same CSVs): decode KV 144 LD / MV, prefill 128 MM (ms). Its
# inst_profiler.py divides every instruction's time by correction_factor = 3.2 (one SLR's
# instruction stream, four SLRs at 80 %), loads included.
PROFILER_UNITS = {
    "decode_ld_144": 6.704711,
    "decode_mv_144": 8.810382,
    "prefill_mm_128": 274.240853,
}
CORRECTION_FACTOR = 3.2
BEFORE_DECODE = {144: 16.8, 256: 16.3, 512: 14.7, 1024: 11.5, 2048: 6.2}  # % error at ef66385
BEFORE_PREFILL = {128: -23.0, 512: -20.9}
BEFORE_OVERLAY = (38.5, 87.0)  # median / max |error| % of the temporal model at ef66385


def overlay_memory(point: dict[str, Any]) -> tuple[Any, OverlayMemory]:
    """The overlay's config and the temporal model's per-group bytes per cycle as an
    OverlayMemory: ``min(n · min(channel peak, port) · efficiency, beat)`` (one AXI master
    per group: a beat a cycle at most; the sim's own memory model applies the efficiency
    to the channel only; here both see the same rates)."""
    cfg = overlay_config(point)
    plat = cm.load_platform(point["platform"])
    assert isinstance(plat, cm.Platform)
    mem = plat.memory
    f = cfg.freq_mhz * 1e6
    peak = mem.channel_gbps * 1e9
    if mem.port_clock_mhz > 0:
        peak = min(peak, mem.port_bits / 8 * mem.port_clock_mhz * 1e6)
    rates = {
        g: min(n * min(peak, cfg.beat * f) * mem.eff_local / f, cfg.beat)
        for g, n in cfg.hbm_ch.items()
    }
    return cfg, OverlayMemory(DEFAULT_LATENCY, rates, cfg.beat)


def temporal_point(point: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """The overlay point as a temporal design point (one core, no separate attention
    engine, the overlay's defaults written out)."""
    tp = {k: v for k, v in point.items() if k != "platform"}
    tp.update(cores=1, attn_macs=0, sfu_lanes=cfg.sfu_lanes, axi_port_bits=cfg.axi_port_bits)
    tp.update({f"hbm_ch_{g}": n for g, n in cfg.hbm_ch.items()})
    tp.setdefault("quant", "w4a8")
    tp.setdefault("mv_k", 16)
    tp.setdefault("mv_n", 16)
    return tp


def overlay_errors(kv_lens: tuple[int, ...] = (4, 8, 11), verbose: bool = True) -> list[float]:
    errs = []
    for model, shape in TINY_SHAPES.items():
        for hw_name, hw in HW.items():
            for mem_name, mk in MEMORY.items():
                point = {**hw, **mk, "freq_mhz": 200.0}
                cfg, mem = overlay_memory(point)
                tp = temporal_point(point, cfg)
                for t in kv_lens:
                    ov = step_cycles(shape, point, t, mem)["total"]
                    wl = Workload(shape, 1, 4, 8, True, t - 1)
                    r = cm.evaluate(wl, mk["platform"], tp, arch="temporal", baseline=None)
                    tc = float(r.decode_latency_s_per_token.iloc[0]) * cfg.freq_mhz * 1e6
                    errs.append(100 * (tc / ov - 1))
                    if verbose and t == 8:
                        print(f"  {model:13} {hw_name:24} {mem_name:5} KV {t:2}: overlay "
                              f"{ov:7.0f}  temporal {tc:7.0f}  {errs[-1]:+5.1f} %")  # fmt: skip
    return errs


# (mm_t, tile_tokens) of the prefill check: one lane, and the MM mode's token lanes
PREFILL_LANES = ((1, 4), (2, 4), (4, 4), (4, 8))
BEFORE_PREFILL_OVERLAY = (42.2, 61.1)  # median / max |error| % (mm_t 1 rows) before issue 13


def overlay_prefill_errors(prompt: int = 8, verbose: bool = True) -> list[float]:
    """Prefill of ``prompt`` tokens: the temporal model vs the overlay cycle model on the
    same points with the MM mode's token lanes (mm_k, mm_n = the MV array, as built)."""
    errs = []
    for mm_t, tt in PREFILL_LANES:
        for model, shape in TINY_SHAPES.items():
            for hw_name, hw in HW.items():
                for mem_name, mk in MEMORY.items():
                    point = {**hw, **mk, "freq_mhz": 200.0, "mm_t": mm_t, "tile_tokens": tt}
                    cfg, mem = overlay_memory(point)
                    tp = {**temporal_point(point, cfg), "mm_k": cfg.mv_k, "mm_n": cfg.mv_n}
                    ov = prefill_cycles(shape, point, prompt, mem)["total"]
                    wl = Workload(shape, 1, prompt, 8, True)
                    r = cm.evaluate(wl, mk["platform"], tp, arch="temporal", baseline=None)
                    tc = float(r.prefill_latency_s.iloc[0]) * cfg.freq_mhz * 1e6
                    errs.append(100 * (tc / ov - 1))
                    if verbose and hw_name == "dense-w8-8x8" and mem_name == "u280":
                        print(f"  mm_t {mm_t} tile {tt} {model:13}: overlay {ov:7.0f}  "
                              f"temporal {tc:7.0f}  {errs[-1]:+5.1f} %")  # fmt: skip
    return errs


def profiler_rows() -> list[tuple[str, int, float, float, float]]:
    point = {**FLIGHTLLM.point, "cores": 4}
    point.update({f"hbm_ch_{g}": 64 for g in ("wqkv", "wo", "wffn", "kv")})
    rows = []
    for kv, ms in PROFILER_DECODE.items():
        wl = cm.load_workload({"model": "llama-2-7b", "prompt_len": kv, "kv_len": kv - 1}, "p")
        r = cm.evaluate(wl, "vhk158", point, arch="temporal", baseline=None)
        pred = 1e3 * float(r.decode_latency_s_per_token.iloc[0])
        rows.append(("decode ms/step", kv, ms, pred, BEFORE_DECODE[kv]))
    for n, ms in PROFILER_PREFILL.items():
        wl = cm.load_workload({"model": "llama-2-7b", "prompt_len": n}, "p")
        r = cm.evaluate(wl, "vhk158", point, arch="temporal", baseline=None)
        pred = 1e3 * float(r.prefill_latency_s.iloc[0])
        rows.append(("prefill ms", n, ms, pred, BEFORE_PREFILL[n]))
    return rows


def why_the_profiler_differs() -> None:
    """What the profiler's own unit times imply, against the memory both models have."""
    point = {**FLIGHTLLM.point, "cores": 4}
    point.update({f"hbm_ch_{g}": 64 for g in ("wqkv", "wo", "wffn", "kv")})
    wl = cm.load_workload({"model": "llama-2-7b", "prompt_len": 144, "kv_len": 143}, "p")
    r = cm.evaluate(wl, "vhk158", point, arch="temporal", baseline=None).iloc[0]
    plat = cm.load_platform("vhk158")
    assert isinstance(plat, cm.Platform)
    peak = plat.memory.channels * plat.memory.channel_gbps
    moved = float(r.decode_bytes_per_token)
    ld = PROFILER_UNITS["decode_ld_144"] * 1e-3
    ours = float(r.decode_latency_s_per_token)
    space = {q.name: q.default for q in temporal_params(plat)}
    bits, cores = int(point.get("axi_port_bits", space["axi_port_bits"])), int(point["cores"])
    port = cores * bits / 8 * float(point["freq_mhz"]) * 1e6
    print(
        f"  decode KV 144: our encoding moves {moved / 1e9:.2f} GB per token; the profiler's "
        f"LD time ({ld * 1e3:.2f} ms) implies {moved / ld / 1e9:.0f} GB/s, above the "
        f"{peak:.1f} GB/s peak of its own config (and of ours): every instruction time is "
        f"divided by {CORRECTION_FACTOR}, loads included; our model is memory-bound at "
        f"{moved / ours / 1e9:.0f} GB/s: a group streams through one {bits}-bit AXI master "
        f"per core, a beat a cycle ({port / 1e9:.1f} GB/s for its {cores} cores, the "
        f"overlay's ports), where the channels at {plat.memory.eff_local} of peak would give "
        f"{plat.memory.eff_local * peak:.0f}. Its decode is MV-bound instead "
        f"({PROFILER_UNITS['decode_mv_144']:.2f} ms = one core's MV time / {CORRECTION_FACTOR})."
    )
    print(
        f"  prefill 128: its MM time ({PROFILER_UNITS['prefill_mm_128']:.1f} ms) is one core's "
        f"MM work / {CORRECTION_FACTOR}, i.e. 4 cores at {CORRECTION_FACTOR / 4:.0%} scaling; "
        "ours runs each core's engine at its own rate (as the overlay RTL and its sim do), so its "
        "MM work is faster by about that factor; ours then runs norms and attention token by "
        "token, each query streaming its K/V rows, as the overlay does (issue 13), which "
        f"FlightLLM's MM-mode attention does not. Neither gap is engine efficiency. And every "
        f"chunk of tile_tokens reloads its weights through the groups' ports "
        f"({port / 1e9:.1f} GB/s), which bind our prefill as they bind decode."
    )


def main() -> None:
    print("1. Temporal model vs the overlay cycle model on the overlay's points (KV 8 shown):")
    errs = [abs(e) for e in overlay_errors()]
    print(
        f"overlay_points={len(errs)} median_abs_err_pct={statistics.median(errs):.1f} "
        f"max_abs_err_pct={max(errs):.1f} (before: {BEFORE_OVERLAY[0]} / {BEFORE_OVERLAY[1]})"
    )
    print("\n   Prefill (8 tokens) on the MM mode's token lanes (dense-w8-8x8 u280 shown):")
    perr = [abs(e) for e in overlay_prefill_errors()]
    print(
        f"overlay_prefill_points={len(perr)} median_abs_err_pct={statistics.median(perr):.1f} "
        f"max_abs_err_pct={max(perr):.1f} (before, mm_t 1: {BEFORE_PREFILL_OVERLAY[0]} / "
        f"{BEFORE_PREFILL_OVERLAY[1]})"
    )
    print("\n2. FlightLLM profiler (VHK158) vs the temporal model:")
    print(f"  {'figure':15} {'N':>5} {'profiler':>9} {'model':>9} {'err_%':>7} {'before_%':>8}")
    dec: list[float] = []
    pre: list[float] = []
    for name, n, ms, pred, before in profiler_rows():
        err = 100 * (pred / ms - 1)
        (dec if name.startswith("decode") else pre).append(err)
        print(f"  {name:15} {n:5} {ms:9.2f} {pred:9.2f} {err:+7.1f} {before:+8.1f}")
    why_the_profiler_differs()
    print(
        f"profiler_decode_median_err_pct={statistics.median(dec):+.1f} "
        f"profiler_decode_max_err_pct={max(dec, key=abs):+.1f} "
        f"profiler_prefill_err_pct={min(pre):+.1f}..{max(pre):+.1f}"
    )


if __name__ == "__main__":
    main()
