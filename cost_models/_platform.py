"""Platforms: FPGA boards and GPU baselines, loaded from ``cost_models/platforms/*.yaml``.

Every number in those files carries its source in a comment; this module only checks that
each field is present and sensible and turns the file into the frozen dataclasses of
``_platform_types``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cost_models._board import read_build_facts
from cost_models._errors import InputError, did_you_mean
from cost_models._platform_types import (
    RESOURCES,
    Gpu,
    Memory,
    Platform,
    Power,
    Resources,
    ServingStack,
)
from cost_models._safeload import UnsafeInput, load_yaml, read_text

PLATFORMS_DIR = Path(__file__).resolve().parent / "platforms"


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
