"""What a platform is: an FPGA board (resources in total, per SLR and taken by the shell,
off-chip memory, clock curve, links, power) or a GPU baseline (a roofline plus a serving
stack's overheads), as frozen dataclasses. ``_platform`` reads them from the YAML files.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cost_models._board import BuildFacts
from cost_models._errors import InputError, did_you_mean

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
