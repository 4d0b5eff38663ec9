"""``evaluate``: score a batch of design points with an architecture's cost model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cost_models._common import Channels, channels
from cost_models._errors import InputError
from cost_models._gpu import GpuResult, gpu_baseline
from cost_models._platform import RESOURCES, Gpu, Platform, load_platform
from cost_models._points import as_columns, normalise_columns, param_specs
from cost_models._spatial import BOUNDS, evaluate_spatial
from cost_models._temporal import evaluate_temporal
from cost_models._workload import Workload, preset_shape

ARCHS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "spatial": evaluate_spatial,
    "temporal": evaluate_temporal,
}

# The columns every architecture returns (DESIGN.md "Interfaces worth keeping stable").
COLUMNS = (
    "prefill_latency_s",
    "prefill_tokens_per_s",
    "decode_latency_s_per_token",
    "decode_tokens_per_s",
    "decode_bytes_per_token",
    "hbm_bw_gbps",
    "hbm_bw_util",
    *RESOURCES,
    *(f"{r}_util" for r in RESOURCES),
    "power_w",
    "energy_per_token_j",
    "achievable_clock_mhz",
    "n_fpga",
    "gpu_decode_tokens_per_s",
    "decode_speedup_vs_gpu",
    "prefill_speedup_vs_gpu",
    "energy_ratio_vs_gpu",
    "bound_prefill",
    "bound_decode",
    "feasible",
    "violations",
)

# Each violation is one bit of a mask; masks map to readable text once per distinct mask.
VIOLATIONS = (
    "lut over device",
    "ff over device",
    "dsp over device",
    "bram36 over device",
    "uram over device",
    "slr over capacity",
    "sll crossings exceed wires",
    "clock above achievable",
    "memory capacity exceeded",
    "no inter-FPGA link",
)


def _resolve(workload: Workload | str, platform: Platform | str) -> tuple[Workload, Platform]:
    wl = Workload(model=preset_shape(workload)) if isinstance(workload, str) else workload
    plat = load_platform(platform) if isinstance(platform, str) else platform
    if isinstance(plat, Gpu):
        raise InputError(
            plat.source,
            "kind",
            "this is a GPU baseline; design points need an "
            "FPGA platform (use it as baseline= instead)",
        )
    return wl, plat


def evaluate(
    workload: Workload | str,
    platform: Platform | str,
    points: Any,
    arch: str = "spatial",
    baseline: Gpu | str | None = "a100",
    detail: bool = False,
) -> pd.DataFrame:
    """Score design points; one output row per input row.

    Args:
        workload: a :class:`Workload` or a preset name (``"gpt2-medium"``).
        platform: an FPGA :class:`Platform` or its name (``"u280"``).
        points: a dict of scalars (one point), a dict of arrays, a list of dicts or a
            DataFrame of design parameters; missing parameters take their defaults.
        arch: ``"spatial"`` or ``"temporal"``.
        baseline: GPU to compare against (name, :class:`Gpu`, or None for no ratios).
        detail: also return the resolved design parameters, the per-operator breakdown
            (``op_<phase>_<op>_s``) and the intermediate figures the CLI shows.

    Raises:
        InputError: unknown parameter or value out of range, naming the key.
    """
    wl, plat = _resolve(workload, platform)
    specs = param_specs(arch, plat)
    raw, n = as_columns(points)
    gpu: GpuResult | None = None
    if baseline is not None:
        g = load_platform(baseline) if isinstance(baseline, str) else baseline
        if not isinstance(g, Gpu):
            raise InputError(str(baseline), "baseline", "expected a GPU platform (a100, h100, ...)")
        gpu = gpu_baseline(wl, g)
    # Work in cache-sized chunks: each numpy temporary then stays in L2 instead of
    # streaming megabytes through memory (≈3× faster at 10^6 points).
    merged: dict[str, np.ndarray] = {}
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        chunk = {
            k: v[lo:hi] if isinstance(v, np.ndarray) and v.ndim == 1 else v for k, v in raw.items()
        }
        pc = normalise_columns(chunk, hi - lo, specs, arch)
        ch = channels(pc, plat)
        r = ARCHS[arch](pc, wl, plat, ch)
        cols = _columns(r, pc, wl, plat, ch, gpu, hi - lo)
        if detail:
            # The resolved design parameters (defaults filled, categoricals as codes) too,
            # so a caller can show what was evaluated without normalising again.
            for k, v in {**pc, **r}.items():
                if k not in cols:
                    cols[k] = np.broadcast_to(v, (hi - lo,))
        if lo == 0:
            merged = {k: np.empty(n, dtype=np.asarray(v).dtype) for k, v in cols.items()}
        for k, v in cols.items():
            merged[k][lo:hi] = v
    frame: dict[str, Any] = dict(merged)
    frame["bound_prefill"] = _bounds(merged["bound_prefill"])
    frame["bound_decode"] = _bounds(merged["bound_decode"])
    frame["violations"] = _describe(merged["violations"])
    return pd.DataFrame(frame, copy=False)


CHUNK = 65536


def _bounds(codes: np.ndarray) -> Any:
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(BOUNDS)))


def _columns(
    r: dict[str, np.ndarray],
    p: dict[str, np.ndarray],
    w: Workload,
    plat: Platform,
    ch: Channels,
    gpu: GpuResult | None,
    n: int,
) -> dict[str, Any]:
    c: dict[str, Any] = {}
    b = w.batch
    c["prefill_latency_s"] = r["prefill_latency_s"]
    c["prefill_tokens_per_s"] = b * w.prompt_len / r["prefill_latency_s"]
    c["decode_latency_s_per_token"] = r["decode_latency_s_per_token"] = r["decode_latency_s"]
    tps = b / r["decode_latency_s"]
    c["decode_tokens_per_s"] = tps
    c["decode_bytes_per_token"] = r["decode_bytes_per_token"]
    n_fpga = r["n_fpga"]
    c["hbm_bw_gbps"] = ch.union_bw * n_fpga / 1e9
    c["hbm_bw_util"] = r["decode_bytes_per_token"] * tps / (ch.peak_bw * n_fpga)
    avail = plat.available()
    util_max = np.zeros(n)
    mask = np.zeros(n, dtype=np.int64)
    for i, res in enumerate(RESOURCES):
        c[res] = r[res]
        cap = getattr(avail, res)
        u = r[res] / cap if cap > 0 else np.where(r[res] > 0, np.inf, 0.0)
        c[f"{res}_util"] = u
        util_max = np.maximum(util_max, np.where(np.isfinite(u), u, 1.0))
        mask |= (u > 1.0).astype(np.int64) << i
    mask |= _slr_violation(r, plat).astype(np.int64) << 5
    mask |= (
        (r["sll_bits"] > plat.sll_per_boundary).astype(np.int64) << 6 if len(plat.slrs) > 1 else 0
    )
    fmax = plat.fmax_estimate(util_max)
    c["achievable_clock_mhz"] = fmax
    mask |= (p["freq_mhz"] > fmax).astype(np.int64) << 7
    mask |= _capacity_violation(r, ch).astype(np.int64) << 8
    mask |= ((n_fpga > 1) & (plat.link_count == 0)).astype(np.int64) << 9

    # Power per FPGA: static + activity of each resource at the clock + memory traffic.
    pw = plat.power
    mhz = p["freq_mhz"]
    dyn = (
        mhz
        * 1e-6
        * (
            r["lut"] * pw.lut_uw_per_mhz
            + r["ff"] * pw.ff_uw_per_mhz
            + r["dsp"] * pw.dsp_uw_per_mhz
            + r["bram36"] * pw.bram36_uw_per_mhz
            + r["uram"] * pw.uram_uw_per_mhz
        )
    )
    mem_w = r["decode_bytes_per_token"] * tps * plat.memory.pj_per_byte * 1e-12
    power = n_fpga * (pw.static_w + dyn) + mem_w
    c["power_w"] = power
    c["energy_per_token_j"] = power * r["decode_latency_s"] / b
    c["n_fpga"] = n_fpga
    if gpu is not None:
        c["gpu_decode_tokens_per_s"] = np.full(n, gpu.decode_tokens_per_s)
        c["decode_speedup_vs_gpu"] = tps / gpu.decode_tokens_per_s
        c["prefill_speedup_vs_gpu"] = gpu.prefill_latency_s / r["prefill_latency_s"]
        c["energy_ratio_vs_gpu"] = gpu.energy_per_token_j(b) / c["energy_per_token_j"]
    else:
        for k in (
            "gpu_decode_tokens_per_s",
            "decode_speedup_vs_gpu",
            "prefill_speedup_vs_gpu",
            "energy_ratio_vs_gpu",
        ):
            c[k] = np.full(n, np.nan)
    for phase in ("prefill", "decode"):
        c[f"bound_{phase}"] = np.broadcast_to(r[f"bound_{phase}"], (n,)).astype(np.int64)
    c["feasible"] = mask == 0
    c["violations"] = mask  # turned into text once, after the chunks are merged
    for k, v in c.items():
        if isinstance(v, np.ndarray) and v.shape != (n,):
            c[k] = np.broadcast_to(v, (n,)).copy()
    return c


def _slr_violation(r: dict[str, np.ndarray], plat: Platform) -> np.ndarray:
    """Units (layers or cores) are dealt round-robin to SLRs; fixed logic sits in the shell SLR."""
    units = np.asarray(r["layers_built"], dtype=np.int64)
    slrs = plat.slr_available()
    k = len(slrs)
    bad = np.zeros(units.shape, dtype=bool)
    if k == 1:
        return bad
    for i, slr in enumerate(slrs):
        here = units // k + (i < units % k)
        for res in RESOURCES:
            need = here * r[f"{res}_per_layer"] + (
                r[f"{res}_fixed"] if i == plat.shell_slr else 0.0
            )
            bad |= need > getattr(slr, res) + 1e-9
    return bad


def _capacity_violation(r: dict[str, np.ndarray], ch: Channels) -> np.ndarray:
    """A group must fit its channels; groups sharing channels share their capacity."""
    bad = np.zeros(np.shape(r["n_fpga"]), dtype=bool)
    total = np.zeros(np.shape(r["n_fpga"]))
    for g in ("wqkv", "wo", "wffn", "kv", "act"):
        need = r[f"group_bytes_{g}"]
        bad = bad | (need > ch.cap[g])
        total = total + need
    return bad | (total > ch.distinct * ch.channel_capacity)


def _describe(mask: np.ndarray) -> Any:
    """Violation bit masks -> readable text, computed once per distinct mask (O(n))."""
    present = np.flatnonzero(np.bincount(mask, minlength=1))
    lookup = np.zeros(present[-1] + 1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    labels = ["; ".join(v for i, v in enumerate(VIOLATIONS) if (int(m) >> i) & 1) for m in present]
    return pd.Categorical.from_codes(lookup[mask], categories=pd.Index(labels))
