"""``evaluate``: score a batch of design points with an architecture's cost model."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from cost_models._common import Channels, channels, per_channel_peak, uniform
from cost_models._errors import InputError
from cost_models._gpu import GpuResult, gpu_baseline
from cost_models._platform import load_platform
from cost_models._platform_types import RESOURCES, Gpu, Platform
from cost_models._point_columns import as_columns, resolve_columns
from cost_models._points import GROUPS, Param, param_specs
from cost_models._shape_sources import preset_shape
from cost_models._spatial import BOUNDS, evaluate_spatial
from cost_models._temporal import evaluate_temporal
from cost_models._workload import Workload

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
    # an overlay point whose workload's program needs more than the template's largest
    # memory (cost_models/_overlay_program.py): nothing builds it
    "program over the overlay's scratchpad (SPAD > 65536 words)",
    "program over the overlay's instruction memory (IMEM > 65536)",
    "x buffer over the overlay's (XBUF > 65536 words)",
)
# The model's flags behind those three (set by _temporal_resources where the overlay builds).
_OVERLAY_OVER = ("over_spad_words", "over_imem_words", "over_xbuf_words")


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
    # Validate every column once over the whole batch; a parameter with one value for all
    # points stays a scalar, so the models broadcast it instead of computing on n copies.
    params = resolve_columns(raw, n, specs, arch)
    gpu = None if baseline is None else _baseline(wl, baseline)
    merged = score_resolved(params, n, wl, plat, arch, gpu, detail, specs)
    frame: dict[str, Any] = dict(merged)
    frame["bound_prefill"] = _bounds(merged["bound_prefill"])
    frame["bound_decode"] = _bounds(merged["bound_decode"])
    frame["violations"] = _describe(merged["violations"])
    return pd.DataFrame(frame, copy=False)


def score_resolved(
    params: dict[str, Any],
    n: int,
    wl: Workload,
    plat: Platform,
    arch: str,
    gpu: GpuResult | None,
    detail: bool = False,
    specs: Mapping[str, Param] | None = None,
    need: Collection[str] | None = None,
    chunk: int | None = None,
) -> dict[str, np.ndarray]:
    """The model's columns for ``n`` already-resolved points (``resolve_columns``' output:
    scalars broadcast, categoricals as codes), as numpy arrays: ``bound_*`` as codes into
    ``BOUNDS`` and ``violations`` as the bit mask of ``VIOLATIONS`` (``evaluate`` turns
    those into text). The search calls this directly (``cost_models.Prepared``), with
    ``specs`` (``param_specs(arch, plat)``, built once: building it costs more than
    scoring a few thousand points). ``need``: only these columns are returned, and a
    model that can skip its prefill pass does when none of them reads it (the columns
    returned are the same numbers either way). ``chunk``: points per model call (default
    ``CHUNK``; same numbers whatever its size)."""
    specs = param_specs(arch, plat) if specs is None else specs
    model: Callable[..., dict[str, np.ndarray]] = ARCHS[arch]
    if need is not None and not any(map(_reads_prefill, need)) and _skips_prefill(arch):
        model = functools.partial(model, prefill=False)
    arrays = {k: v for k, v in params.items() if isinstance(v, np.ndarray)}
    as_float = [k for k, v in arrays.items() if v.dtype.kind in "iu" and specs[k].kind != "cat"]
    as_index = [k for k, v in arrays.items() if specs[k].kind == "cat" and v.dtype != np.intp]
    # Work in cache-sized chunks: each numpy temporary then stays in L2 instead of
    # streaming megabytes through memory.
    merged: dict[str, np.ndarray] = {}
    most = chunk or CHUNK
    size = -(-n // max(1, -(-n // most)))  # equal chunks of at most `most` points
    for lo in range(0, n, size):
        hi = min(n, lo + size)
        m = hi - lo
        pc = {k: v[lo:hi] if isinstance(v, np.ndarray) else v for k, v in params.items()}
        for k in as_float:  # integer inputs, as float64 one cache-sized chunk at a time
            pc[k] = pc[k].astype(np.float64)
        for k in as_index:  # categorical codes index lookup tables: intp is the fast kind
            pc[k] = pc[k].astype(np.intp)
        ch = channels(pc, plat)
        r = model(pc, wl, plat, ch, detail=detail)
        cols = _columns(r, pc, wl, plat, ch, gpu, m)
        if detail:
            # The resolved design parameters (defaults filled, categoricals as codes) too,
            # so a caller can show what was evaluated without normalising again.
            for k, v in {**pc, **r}.items():
                if k not in cols:
                    cat = k in specs and specs[k].kind == "cat"
                    cols[k] = np.asarray(v, dtype=np.int64) if cat else v
        if need is not None:
            cols = {k: cols[k] for k in need}
        if lo == 0:
            merged = {k: np.empty(n, dtype=np.asarray(v).dtype) for k, v in cols.items()}
        for k, v in cols.items():
            merged[k][lo:hi] = v
    return merged


# Columns that read the prefill pass (see ``need`` above).
PREFILL_COLUMNS = frozenset(
    {"prefill_latency_s", "prefill_tokens_per_s", "prefill_speedup_vs_gpu", "bound_prefill"}
)


def _reads_prefill(column: str) -> bool:
    return column in PREFILL_COLUMNS or column.startswith("op_prefill_")


@functools.cache
def _skips_prefill(arch: str) -> bool:
    return "prefill" in inspect.signature(ARCHS[arch]).parameters


def _baseline(wl: Workload, baseline: Gpu | str) -> GpuResult:
    g = load_baseline(baseline) if isinstance(baseline, str) else baseline
    return gpu_baseline(wl, g, g.serving, g.n_gpus)


def load_baseline(spec: str) -> Gpu:
    """A GPU baseline by name: ``"a100"``, ``"a100:graphs"`` (serving stack: ``eager``, the
    default, or ``graphs``) or ``"4xv100s"`` (four GPUs, tensor parallel)."""
    name, _, stack = spec.partition(":")
    count, x, rest = name.partition("x")
    n_gpus = 1
    if x and count.isdigit() and rest:
        name, n_gpus = rest, int(count)
    if not 1 <= n_gpus <= 4096:
        raise InputError("baseline", "baseline", f"expected 1..4096 GPUs, got {n_gpus}")
    g = load_platform(name)
    if not isinstance(g, Gpu):
        raise InputError(
            str(spec), "baseline", "expected a GPU platform (a100, 4xv100s, h100:graphs, ...)"
        )
    g.stack(stack or "eager")  # an unknown stack is an error naming the file
    return replace(g, n_gpus=n_gpus, serving=stack or "eager")


# Points per chunk: a chunk's temporaries (128 KB each) stay in a core's L2 (1 MB on the
# development machine), while the ≈1,000 numpy calls per chunk still cost little next to the
# arithmetic. Much larger chunks spill to L3; in a process whose malloc has not yet raised
# its mmap/trim thresholds they also fault pages back in on every temporary.
CHUNK = 16384
_BOUNDS_DTYPE = pd.CategoricalDtype(categories=list(BOUNDS))


def _bounds(codes: np.ndarray) -> Any:
    return pd.Categorical.from_codes(codes, dtype=_BOUNDS_DTYPE)


def _columns(
    r: dict[str, Any],
    p: dict[str, Any],
    w: Workload,
    plat: Platform,
    ch: Channels,
    gpu: GpuResult | None,
    n: int,
) -> dict[str, Any]:
    """The public columns of one chunk (scalars where a value is shared by every point;
    the caller broadcasts them into the output)."""
    c: dict[str, Any] = {}
    b = w.batch
    pre, dec = r["prefill_latency_s"], r["decode_latency_s"]
    c["prefill_latency_s"] = pre
    c["prefill_tokens_per_s"] = b * w.prompt_len / pre
    c["decode_latency_s_per_token"] = r["decode_latency_s_per_token"] = dec
    tps = b / dec
    c["decode_tokens_per_s"] = tps
    bpt = r["decode_bytes_per_token"]
    c["decode_bytes_per_token"] = bpt
    n_fpga = r["n_fpga"]
    c["hbm_bw_gbps"] = ch.union_bw * n_fpga / 1e9
    traffic = bpt * tps  # off-chip bytes/s while decoding
    c["hbm_bw_util"] = traffic / (ch.peak_bw * n_fpga)
    avail = plat.available()
    util_max: Any = 0.0
    mask = np.zeros(n, dtype=np.int16)  # one bit per entry of VIOLATIONS
    for i, res in enumerate(RESOURCES):
        used = r[res]
        c[res] = used
        cap = getattr(avail, res)
        if cap > 0:
            u = used / cap
            util_max = np.maximum(util_max, u)
        else:
            u = np.where(np.asarray(used) > 0, np.inf, 0.0)
            util_max = np.maximum(util_max, np.where(np.isfinite(u), u, 1.0))
        c[f"{res}_util"] = u
        mask |= np.asarray(u > 1.0) * np.int16(1 << i)
    mask |= _slr_violation(r, plat) * np.int16(1 << 5)
    if len(plat.slrs) > 1:
        mask |= np.asarray(r["sll_bits"] > plat.sll_per_boundary) * np.int16(1 << 6)
    fmax = plat.fmax_estimate(util_max)
    if plat.slr_fmax_derate and len(plat.slrs) > 1:
        # The curve is for designs spanning every SLR; each boundary a design's streams do
        # not cross gives back the derate (issue 16 item 7).
        d = plat.slr_fmax_derate
        fmax = fmax * (1 - d * r["slr_crossed"]) / (1 - d * (len(plat.slrs) - 1))
    c["achievable_clock_mhz"] = fmax
    mhz = p["freq_mhz"]
    mask |= np.asarray(mhz > fmax) * np.int16(1 << 7)
    mask |= _capacity_violation(r, ch) * np.int16(1 << 8)
    if plat.link_count == 0:
        mask |= np.asarray(n_fpga > 1) * np.int16(1 << 9)
    for i, key in enumerate(_OVERLAY_OVER):
        if key in r:
            mask |= np.asarray(r[key]) * np.int16(1 << (10 + i))

    # Power per FPGA: static + activity of each resource at the clock + memory traffic.
    pw = plat.power
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
    mem_w = traffic * plat.memory.pj_per_byte * 1e-12
    power = n_fpga * (pw.static_w + dyn) + mem_w
    c["power_w"] = power
    energy = power * dec / b
    c["energy_per_token_j"] = energy
    c["n_fpga"] = n_fpga
    if gpu is not None:
        c["gpu_decode_tokens_per_s"] = gpu.decode_tokens_per_s
        c["decode_speedup_vs_gpu"] = tps / gpu.decode_tokens_per_s
        c["prefill_speedup_vs_gpu"] = gpu.prefill_latency_s / pre
        c["energy_ratio_vs_gpu"] = gpu.energy_per_token_j(b) / energy
    else:
        for k in (
            "gpu_decode_tokens_per_s",
            "decode_speedup_vs_gpu",
            "prefill_speedup_vs_gpu",
            "energy_ratio_vs_gpu",
        ):
            c[k] = np.nan
    c["bound_prefill"] = np.asarray(r["bound_prefill"], dtype=np.int8)
    c["bound_decode"] = np.asarray(r["bound_decode"], dtype=np.int8)
    c["feasible"] = mask == 0
    c["violations"] = mask  # turned into text once, after the chunks are merged
    return c


def _slr_violation(r: dict[str, Any], plat: Platform) -> Any:
    """Units (layers or cores) are dealt round-robin to SLRs; fixed logic sits in the shell SLR."""
    slrs = plat.slr_available()
    k = len(slrs)
    if k == 1:
        return False
    units = r["layers_built"]
    q = np.floor(units / k)  # every SLR holds q units, the first (units mod k) one more
    rem = units - q * k
    bad: Any = False
    for i in _slrs_to_check(plat):
        slr = slrs[i]
        here = q + (rem > i)
        for res in RESOURCES:
            need = here * r[f"{res}_per_layer"]
            fixed = r[f"{res}_fixed"]
            if i == plat.shell_slr and not (uniform(fixed) and fixed == 0):
                need = need + fixed
            bad = bad | (need > getattr(slr, res) + 1e-9)
    return np.asarray(bad)


@functools.lru_cache(maxsize=32)
def _slrs_to_check(plat: Platform) -> tuple[int, ...]:
    """SLRs whose overflow is not implied by another's.

    SLR i holds at least as many units as any later SLR j (units are dealt from SLR 0 on),
    and per-unit and fixed needs are non-negative; so if i has no more of any resource than
    j, and j is not the shell SLR (which also holds the fixed logic), then j overflowing
    implies i overflowing and j need not be checked. On a U280 only SLR 0 remains.
    """
    slrs = plat.slr_available()
    keep: list[int] = []
    for j, sj in enumerate(slrs):
        implied = j != plat.shell_slr and any(
            all(getattr(slrs[i], r) <= getattr(sj, r) for r in RESOURCES) for i in keep
        )
        if not implied:
            keep.append(j)
    return tuple(keep)


def _capacity_violation(r: dict[str, Any], ch: Channels) -> Any:
    """Every channel must hold its share (``bytes_g / n_g``) of each group that covers it."""
    share = {g: r[f"group_bytes_{g}"] / ch.count[g] for g in GROUPS}
    return np.asarray(per_channel_peak(share, ch) > ch.channel_capacity)


def _describe(mask: np.ndarray) -> Any:
    """Violation bit masks -> readable text, computed once per distinct mask (O(n))."""
    present = np.flatnonzero(np.bincount(mask, minlength=1))
    lookup = np.zeros(present[-1] + 1, dtype=np.int8 if len(present) < 128 else np.int16)
    lookup[present] = np.arange(len(present))
    return pd.Categorical.from_codes(lookup[mask], dtype=_violations_dtype(tuple(present.tolist())))


@functools.lru_cache(maxsize=256)
def _violations_dtype(masks: tuple[int, ...]) -> pd.CategoricalDtype:
    labels = ["; ".join(v for i, v in enumerate(VIOLATIONS) if (m >> i) & 1) for m in masks]
    return pd.CategoricalDtype(categories=labels)
