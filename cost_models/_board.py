"""What building for a board needs: its ``build:`` section and the FPGA families table.

A board's platform file says which flows build for it (the first-listed default included),
its vendor and the Vitis platforms it is sold with; ``data/fpga_families.yaml`` says which
part names belong to which family and what Yosys calls that family. ``dse`` picks flows and
parts from here and the flows in ``runners`` check parts against it, so no package keeps
its own list of part-name prefixes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_models._errors import InputError, did_you_mean
from cost_models._safeload import UnsafeInput, load_yaml, read_text

FAMILIES_FILE = Path(__file__).resolve().parent / "data" / "fpga_families.yaml"
# A Vitis platform name lands in link.cfg and Tcl: letters, digits and '_' only.
_VITIS_RE = re.compile(r"[A-Za-z0-9_]{1,120}")


@dataclass(frozen=True)
class Family:
    """An FPGA device family (``ultrascale+``, ``ecp5``, ...) from ``fpga_families.yaml``."""

    name: str
    vendor: str
    parts: re.Pattern[str]
    yosys_arch: str | None  # synth_<arch>; None: no open synthesis flow
    yosys_family: str | None  # synth_xilinx -family value


@dataclass(frozen=True)
class BuildFacts:
    """A board's ``build:`` section: who makes it and which flows build for it."""

    vendor: str
    flows: tuple[str, ...]  # flows that build for this board; the first is the default
    # Vitis platforms sold for the board (the first is what vitis-link builds for); any
    # other version of the same board's platforms (same ``xilinx_<board>_`` stem) is
    # accepted too, since a shell update keeps the FPGA.
    vitis_platforms: tuple[str, ...] = ()

    @property
    def default_flow(self) -> str:
        return self.flows[0]


def read_build_facts(data: Mapping[str, Any], source: str, family: str) -> BuildFacts:
    """The ``build:`` section of a board file; every error names ``source`` and the key."""
    build = data.get("build")
    if not isinstance(build, Mapping):
        raise InputError(
            source,
            "build",
            "missing; expected a mapping with vendor, flows (the first is the default) and "
            "optionally vitis_platforms (see cost_models/platforms/u280.yaml)",
        )
    unknown = sorted(set(map(str, build)) - {"vendor", "flows", "vitis_platforms"})
    if unknown:
        known = ["vendor", "flows", "vitis_platforms"]
        raise InputError(
            source,
            f"build.{unknown[0]}",
            f"not a build key; expected one of {', '.join(known)}",
            did_you_mean(unknown[0], known),
        )
    fam = families().get(family)
    if fam is None:
        names = sorted(families())
        raise InputError(
            source,
            "family",
            f"unknown FPGA family {family!r}; expected one of {', '.join(names)} "
            f"(add a family to {FAMILIES_FILE.name})",
            did_you_mean(family, names),
        )
    vendor = build.get("vendor")
    if vendor != fam.vendor:
        raise InputError(
            source, "build.vendor", f"expected {fam.vendor!r} (family {family}), got {vendor!r}"
        )
    flows = _names(build.get("flows"), source, "build.flows", re.compile(r"[a-z0-9][a-z0-9-]*"))
    if not flows:
        raise InputError(source, "build.flows", "expected a non-empty list of flow names")
    vitis = _names(build.get("vitis_platforms", []), source, "build.vitis_platforms", _VITIS_RE)
    return BuildFacts(vendor=str(vendor), flows=flows, vitis_platforms=vitis)


def _names(value: Any, source: str, key: str, form: re.Pattern[str]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InputError(source, key, f"expected a list of names, got {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not form.fullmatch(item):
            raise InputError(source, f"{key}[{i}]", f"expected a name like {form.pattern}")
    if len(set(value)) != len(value):
        raise InputError(source, key, "a name is listed twice")
    return tuple(value)


@functools.lru_cache(maxsize=1)
def families() -> dict[str, Family]:
    """Every family of ``data/fpga_families.yaml`` by name."""
    source = str(FAMILIES_FILE)
    try:
        data = load_yaml(read_text(FAMILIES_FILE))
    except UnsafeInput as exc:
        raise InputError(source, exc.key or "(file)", exc.reason) from None
    table = data.get("families") if isinstance(data, Mapping) else None
    if not isinstance(table, Mapping):
        raise InputError(source, "families", "expected a mapping of family name -> facts")
    out = {}
    for name, facts in table.items():
        key = f"families.{name}"
        if not isinstance(facts, Mapping) or not isinstance(facts.get("vendor"), str):
            raise InputError(source, key, "expected a mapping with vendor and parts")
        try:
            parts = re.compile(str(facts.get("parts")), re.I)
        except re.error as exc:
            raise InputError(source, f"{key}.parts", f"not a regular expression ({exc})") from None
        yosys = facts.get("yosys") or {}
        if not isinstance(yosys, Mapping):
            raise InputError(source, f"{key}.yosys", "expected a mapping {arch, family}")
        arch, fam = yosys.get("arch"), yosys.get("family")
        out[str(name)] = Family(
            str(name), facts["vendor"], parts, str(arch) if arch else None, fam and str(fam)
        )
    return out


def family_of_part(part: str) -> Family | None:
    """The family of ``part``: a board with that part says it, else the families' patterns."""
    from cost_models._platform import list_platforms, load_platform
    from cost_models._platform_types import Platform

    for name in list_platforms():
        board = load_platform(name)
        if isinstance(board, Platform) and board.part.lower() == part.lower():
            return families()[board.family]
    return next((f for f in families().values() if f.parts.match(part)), None)


def part_of_vitis_platform(platform: str) -> str | None:
    """The FPGA part of a Vitis platform name, from the board that lists it (or another
    version of it: the same ``xilinx_<board>_`` stem); None when no board does."""
    from cost_models._platform import list_platforms, load_platform
    from cost_models._platform_types import Platform

    stem = _vitis_stem(platform)
    for name in list_platforms():
        board = load_platform(name)
        if not isinstance(board, Platform):
            continue
        listed = board.build.vitis_platforms
        if platform in listed or (stem and stem in map(_vitis_stem, listed)):
            return board.part
    return None


def vitis_platforms() -> list[str]:
    """Every Vitis platform some board lists (for messages)."""
    from cost_models._platform import list_platforms, load_platform
    from cost_models._platform_types import Platform

    boards = [load_platform(n) for n in list_platforms()]
    return [v for b in boards if isinstance(b, Platform) for v in b.build.vitis_platforms]


def _vitis_stem(platform: str) -> str:
    """``xilinx_u280_gen3x16_xdma_1_202211_1`` -> ``xilinx_u280_`` (vendor and board)."""
    fields = platform.split("_")
    return "_".join(fields[:2]) + "_" if len(fields) > 2 else ""
