"""Platforms: FPGA boards and GPU baselines, loaded from ``cost_models/platforms/*.yaml``.

Every number in those files carries its source in a comment; this module only checks that
each field is present and sensible and turns the file into frozen dataclasses.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cost_models._board import BuildFacts, read_build_facts
from cost_models._errors import InputError, did_you_mean
from cost_models._safeload import UnsafeInput, load_yaml, read_text

PLATFORMS_DIR = Path(__file__).resolve().parent / "platforms"
RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")


@dataclass(frozen=True)
class Resources:
    lut: float
    ff: float
    dsp: float
    bram36: float
    uram: float

    def as_dict(self) -> dict[str, float]:
        return {r: float(getattr(self, r)) for r in RESOURCES}


@dataclass(frozen=True)
class Memory:
    """Off-chip memory seen as channels (HBM pseudo-channels or DDR channels)."""

    kind: str
    channels: int
    channel_gbps: float
    channel_capacity_gb: float
    stacks: int
    eff_local: float
    eff_global: float
    pj_per_byte: float
    # The memory controller's own AXI port: its width and clock (HBM2 on UltraScale+: 256
    # bits at up to 450 MHz per pseudo-channel, PG276), and how many channels share one
    # switch segment (PG276: 8 mini-switches of 4 ports each on a U280-class device);
    # traffic leaving its segment pays the ``global`` efficiency.
    port_bits: float = 256.0
    port_clock_mhz: float = 0.0  # 0: the port delivers the channel's peak at any clock
    segment_channels: int = 0  # 0: the whole memory is one segment
    # Read latency from a port's request to its first data beat: a streamed operand waits
    # this long before its first beat, and a port with OUTSTANDING bursts in flight delivers
    # at most OUTSTANDING·burst bytes per latency (Little's law). 200 ns is the overlay sim
    # rung's HBM figure (40 cycles at 200 MHz, overlay/sim.py DEFAULT_LATENCY).
    read_latency_ns: float = 200.0

    @property
    def peak_gbps(self) -> float:
        return self.channels * self.channel_gbps

    @property
    def channels_per_stack(self) -> int:
        return max(1, self.channels // max(1, self.stacks))


@dataclass(frozen=True)
class Power:
    static_w: float
    lut_uw_per_mhz: float
    ff_uw_per_mhz: float
    dsp_uw_per_mhz: float
    bram36_uw_per_mhz: float
    uram_uw_per_mhz: float


@dataclass(frozen=True)
class Platform:
    """An FPGA board: resources (total, per SLR, shell), memory, clock, links, power."""

    name: str
    part: str
    family: str
    dsp_kind: str
    resources: Resources
    slrs: tuple[Resources, ...]
    shell: Resources
    shell_slr: int
    sll_per_boundary: int
    memory: Memory
    host_memory: Memory | None
    clock_max_mhz: float
    clock_default_mhz: float
    fmax_vs_util: tuple[tuple[float, float], ...]
    link_count: int
    link_gbps: float
    link_efficiency: float
    power: Power
    source: str
    # Latency of one hop between FPGAs (FPGAs form a ring over their links), and what an
    # SLR crossing costs: pipeline registers (cycles) and achievable clock per boundary a
    # design's streams cross (the fmax_vs_util curve is for designs spanning every SLR).
    link_latency_us: float = 0.0
    slr_latency_cycles: float = 0.0
    slr_fmax_derate: float = 0.0
    # Which flows build for the board and for which Vitis platforms (``build:``).
    build: BuildFacts = field(default_factory=lambda: BuildFacts(vendor="", flows=()))

    @property
    def kind(self) -> str:
        return "fpga"

    def available(self) -> Resources:
        """What a kernel can use: device totals minus the shell."""
        t, s = self.resources, self.shell
        return Resources(*(getattr(t, r) - getattr(s, r) for r in RESOURCES))

    def slr_available(self) -> tuple[Resources, ...]:
        out = []
        for i, slr in enumerate(self.slrs):
            if i == self.shell_slr:
                out.append(
                    Resources(*(getattr(slr, r) - getattr(self.shell, r) for r in RESOURCES))
                )
            else:
                out.append(slr)
        return tuple(out)

    def fmax_estimate(self, util: np.ndarray) -> np.ndarray:
        """Achievable clock (MHz) for a design whose most-used resource is at ``util``."""
        # Utilisation is never negative, and past a curve that ends at or before 1 the last
        # value holds anyway: then clipping at 1 changes nothing and is skipped.
        if self.fmax_vs_util and self.fmax_vs_util[-1][0] <= 1.0:
            return interp(util, self.fmax_vs_util)
        return interp(np.clip(util, 0.0, 1.0), self.fmax_vs_util)


def interp(x: Any, points: tuple[tuple[float, float], ...]) -> Any:
    """``np.interp(x, xs, ys)`` for a short curve, bit for bit, without its binary search.

    The segment of each x is counted with one comparison per inner breakpoint and its value
    is ``slope·(x − x_j) + y_j`` as numpy computes it; for the four or five points of a
    clock curve this is ≈3× cheaper than ``np.interp`` (branchy search per element).
    """
    xs, ys, slopes = _curve(points)
    if len(xs) < 2 or np.ndim(x) == 0 or not (np.diff(xs) > 0).all():
        return np.interp(x, xs, ys)
    j = np.zeros(np.shape(x), dtype=np.intp)
    for k in range(1, len(xs) - 1):
        j += x >= xs[k]
    y = slopes[j] * (x - xs[j]) + ys[j]
    # np.interp's ends: the first value left of the curve, the last at and right of it.
    return np.where(x < xs[0], ys[0], np.where(x >= xs[-1], ys[-1], y))


@functools.lru_cache(maxsize=64)
def _curve(points: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # repeated x: np.interp handles it
        slopes = np.diff(ys) / np.diff(xs) if len(xs) > 1 else np.zeros(0)
    return xs, ys, np.append(slopes, 0.0)


@dataclass(frozen=True)
class ServingStack:
    """What a serving stack adds to each GPU kernel and each decode step.

    ``us_per_kernel``: the host cost of issuing one kernel (eager PyTorch: Python and
    dispatcher work per operator; CUDA graphs: the graph's per-node launch gap);
    ``min_kernel_us``: the shortest a kernel runs on the GPU; ``host_us_per_step``:
    per-step work outside the kernels (scheduler, sampling).
    """

    us_per_kernel: float
    min_kernel_us: float
    host_us_per_step: float


@dataclass(frozen=True)
class Gpu:
    """A GPU baseline: a roofline plus the overheads of a serving stack."""

    name: str
    memory_gbps: float
    dense_fp16_tflops: float
    board_power_w: float  # TDP, for reference
    decode_power_w: float  # board power while its kernels keep it busy decoding
    idle_power_w: float  # board power with clocks up and no kernel running (nvidia-smi, 0 %)
    memory_gb: float
    mem_efficiency: float
    compute_efficiency: float
    link_gbps: float  # GPU-to-GPU bandwidth per direction (tensor parallel)
    allreduce_us: float  # latency of one small all-reduce across the GPUs
    stacks: tuple[tuple[str, ServingStack], ...]
    source: str
    n_gpus: int = 1  # how many of them the baseline uses (tensor parallel)
    serving: str = "eager"  # which of ``stacks`` the baseline runs

    def stack(self, name: str) -> ServingStack:
        for k, v in self.stacks:
            if k == name:
                return v
        names = [k for k, _ in self.stacks]
        raise InputError(
            self.source,
            "stacks",
            f"no serving stack {name!r}; expected one of {', '.join(names)}",
            did_you_mean(name, names),
        )

    @property
    def kind(self) -> str:
        return "gpu"


class _Reader:
    """Reads one YAML mapping, naming the file and dotted key in every error."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str = "") -> None:
        self.data, self.source, self.prefix = data, source, prefix

    def key(self, k: str) -> str:
        return f"{self.prefix}{k}"

    def number(self, k: str, minimum: float = 0.0, strict: bool = False) -> float:
        if k not in self.data:
            raise InputError(
                self.source,
                self.key(k),
                "missing; a number is required",
                did_you_mean(k, [str(x) for x in self.data]),
            )
        v = self.data[k]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(self.source, self.key(k), f"expected a number, got {v!r}")
        if v < minimum or (strict and v == minimum):
            op = ">" if strict else "≥"
            raise InputError(self.source, self.key(k), f"expected a number {op} {minimum}, got {v}")
        return float(v)

    def text(self, k: str) -> str:
        v = self.data.get(k)
        if not isinstance(v, str) or not v:
            raise InputError(self.source, self.key(k), f"expected a non-empty string, got {v!r}")
        return v

    def sub(self, k: str) -> _Reader:
        v = self.data.get(k)
        if not isinstance(v, Mapping):
            raise InputError(self.source, self.key(k), "expected a mapping")
        return _Reader(v, self.source, f"{self.key(k)}.")

    def resources(self) -> Resources:
        return Resources(*(self.number(r) for r in RESOURCES))

    def memory(self) -> Memory:
        # Host DDR only needs channels, bandwidth and capacity; DDR4 defaults fill the rest
        # (≈ 80 % of peak on sequential bursts, ≈ 15 pJ/bit: Malladi et al., ISCA 2012).
        eff = self.sub("efficiency") if "efficiency" in self.data else None
        return Memory(
            kind=str(self.data.get("kind", "ddr")),
            channels=int(self.number("channels", 1)),
            channel_gbps=self.number("channel_gbps", 0, strict=True),
            channel_capacity_gb=self.number("channel_capacity_gb", 0, strict=True),
            stacks=int(self.data.get("stacks", 1)),
            eff_local=eff.number("local", 0, strict=True) if eff else 0.8,
            eff_global=eff.number("global", 0, strict=True) if eff else 0.8,
            pj_per_byte=self.number("pj_per_byte", 0) if "pj_per_byte" in self.data else 120.0,
            port_bits=self.number("port_bits", 1) if "port_bits" in self.data else 256.0,
            port_clock_mhz=(
                self.number("port_clock_mhz", 0, True) if "port_clock_mhz" in self.data else 0.0
            ),
            segment_channels=(
                int(self.number("segment_channels", 1)) if "segment_channels" in self.data else 0
            ),
            read_latency_ns=(
                self.number("read_latency_ns", 0) if "read_latency_ns" in self.data else 200.0
            ),
        )


def _optional(data: Mapping[str, Any], section: str, key: str, source: str) -> float:
    if section not in data:
        return 0.0
    return _Reader(data, source).sub(section).number(key)


def _stacks(r: _Reader) -> tuple[tuple[str, ServingStack], ...]:
    out = []
    for name in r.data:
        sr = r.sub(str(name))
        out.append(
            (
                str(name),
                ServingStack(
                    sr.number("us_per_kernel"),
                    sr.number("min_kernel_us"),
                    sr.number("host_us_per_step"),
                ),
            )
        )
    if not out:
        raise InputError(r.source, "stacks", "expected at least one serving stack")
    return tuple(out)


def list_platforms() -> list[str]:
    return sorted(p.stem for p in PLATFORMS_DIR.glob("*.yaml"))


def _read_yaml(path: Path, source: str) -> Mapping[str, Any]:
    try:
        data = load_yaml(read_text(path))
    except UnsafeInput as exc:
        where = f"line {exc.line}" if exc.line else "(file)"
        raise InputError(source, f"{where}: {exc.key}" if exc.key else where, exc.reason) from None
    if not isinstance(data, Mapping):
        raise InputError(source, "(top level)", "expected a mapping of platform fields")
    return data


def load_platform(name_or_path: str | Path) -> Platform | Gpu:
    """Load a platform by name (``u280``) or by path to a YAML file of the same form."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PLATFORMS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise InputError(
                "platform",
                "platform",
                f"unknown platform {str(name_or_path)!r}; "
                f"expected one of {', '.join(list_platforms())} or a YAML path",
                did_you_mean(str(name_or_path), list_platforms()),
            )
    elif not path.is_file():
        what = "is a directory; expected a YAML file" if path.is_dir() else "file not found"
        raise InputError(str(path), "platform", what)
    # evaluate() resolves platforms by name on every call (a sweep calls it per batch);
    # parse each file once, and again only when it changes on disk.
    try:
        return _load_file(str(path), path.stat().st_mtime_ns)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        if isinstance(exc, InputError):
            raise
        # A field the reader does not check one by one (a curve point that is not a number):
        # still one line naming the file, never a traceback.
        raise InputError(
            str(path),
            "(values)",
            f"a field has the wrong form ({exc}); compare with {PLATFORMS_DIR / 'u280.yaml'}",
        ) from None


@functools.lru_cache(maxsize=64)
def _load_file(source: str, mtime_ns: int) -> Platform | Gpu:
    path = Path(source)
    data = _read_yaml(path, source)
    r = _Reader(data, source)
    version = data.get("version")
    if version != 1:
        raise InputError(source, "version", f"expected 1, got {version!r}")
    kind = data.get("kind")
    if kind == "gpu":
        gpu = Gpu(
            name=r.text("name"),
            memory_gbps=r.number("memory_gbps", 0, True),
            dense_fp16_tflops=r.number("dense_fp16_tflops", 0, True),
            board_power_w=r.number("board_power_w", 0, True),
            decode_power_w=r.number("decode_power_w", 0, True),
            idle_power_w=r.number("idle_power_w", 0),
            memory_gb=r.number("memory_gb", 0),
            mem_efficiency=r.number("mem_efficiency", 0, True),
            compute_efficiency=r.number("compute_efficiency", 0, True),
            link_gbps=r.number("link_gbps", 0, True),
            allreduce_us=r.number("allreduce_us"),
            stacks=_stacks(r.sub("stacks")),
            source=source,
        )
        if gpu.idle_power_w > gpu.decode_power_w:
            raise InputError(
                source, "idle_power_w", f"expected at most decode_power_w ({gpu.decode_power_w})"
            )
        return gpu
    if kind != "fpga":
        raise InputError(source, "kind", f"expected 'fpga' or 'gpu', got {kind!r}")
    slrs_raw = data.get("slrs")
    if not isinstance(slrs_raw, list) or not slrs_raw:
        raise InputError(source, "slrs", "expected a non-empty list of per-SLR resources")
    slrs = tuple(_Reader(s, source, f"slrs[{i}].").resources() for i, s in enumerate(slrs_raw))
    shell = r.sub("shell")
    clock = r.sub("clock")
    curve = clock.data.get("fmax_vs_util")
    if (
        not isinstance(curve, list)
        or len(curve) < 2
        or not all(isinstance(p, list) and len(p) == 2 for p in curve)
    ):
        raise InputError(
            source, "clock.fmax_vs_util", "expected a list of [utilisation, MHz] pairs"
        )
    link = r.sub("link")
    power = r.sub("power")
    host = data.get("host_memory")
    platform = Platform(
        name=r.text("name"),
        part=r.text("part"),
        family=r.text("family"),
        build=read_build_facts(data, source, r.text("family")),
        dsp_kind=r.text("dsp_kind"),
        resources=r.sub("resources").resources(),
        slrs=slrs,
        shell=shell.resources(),
        shell_slr=int(shell.number("slr")),
        sll_per_boundary=int(r.number("sll_per_boundary")),
        memory=r.sub("memory").memory(),
        host_memory=None if host is None else _Reader(host, source, "host_memory.").memory(),
        clock_max_mhz=clock.number("max_mhz", 0, True),
        clock_default_mhz=clock.number("default_mhz", 0, True),
        fmax_vs_util=tuple((float(a), float(b)) for a, b in curve),
        link_count=int(link.number("count")),
        link_gbps=link.number("gbps"),
        link_efficiency=link.number("efficiency"),
        link_latency_us=link.number("latency_us") if "latency_us" in link.data else 0.0,
        slr_latency_cycles=_optional(data, "slr_crossing", "latency_cycles", source),
        slr_fmax_derate=_optional(data, "slr_crossing", "fmax_derate", source),
        power=Power(
            *(
                power.number(k)
                for k in (
                    "static_w",
                    "lut_uw_per_mhz",
                    "ff_uw_per_mhz",
                    "dsp_uw_per_mhz",
                    "bram36_uw_per_mhz",
                    "uram_uw_per_mhz",
                )
            )
        ),
        source=source,
    )
    if platform.shell_slr >= len(slrs):
        raise InputError(source, "shell.slr", f"expected an SLR index below {len(slrs)}")
    return platform
