"""Logic depth and an *estimated* clock period from a Yosys ``synth_xilinx`` netlist.

No placement or timing analysis runs in the ``yosys-xilinx`` flow, so the clock is an
estimate from a simple delay model over the mapped netlist (``write_json``):

    t_path = t_launch + Σ_cells (t_net + t_cell) + t_net + t_setup

and the estimated period is the longest register-to-register ``t_path``. A LUT costs
``t_lut`` and counts as one logic level; a carry cell costs ``t_carry_in`` entered from its
S/DI inputs and ``t_carry_ci`` per 8 bits along the chain (CO -> CI hops have no routing); a
DSP48E2 contributes the delay of its unregistered stages (input, multiplier, ALU, output;
the AREG/BREG, MREG and PREG parameters say which registers are used); block RAM, URAM,
flip-flops and shift registers launch and capture paths; a LUT RAM (``RAM64M8``...) reads
like a LUT from its address pins and captures its write pins. Every other net hop costs ``t_net``.

``synth_xilinx`` keeps the design's hierarchy (no ``-flatten``), so the top module may hold
little more than an instance of the next module: the netlist is flattened here first, every
instance of a module defined in it (not a blackbox cell) inlined with its nets joined to the
parent's. A cell that is still of a kind the model does not know would be a guess, so then
no clock is estimated (``timing_paths`` ``none`` and ``timing_unmodelled`` naming the kinds)
rather than a figure calibration could take for a measurement.

Constants (ns) are the rounded medians of the cell and net delays on setup paths in the
UltraScale / UltraScale+ ``report_timing_summary`` listings of ``shared/fixtures/reports``
(xczu48dr -2, xczu3eg -1, xcku035 -2; Vivado 2018.3-2024.1): FF clock-to-Q 0.08, LUT 0.10,
routed net after a LUT 0.29 (median over 120-580 hops), FF setup 0.03, CARRY8 S->CO 0.24 and
CI->CO 0.14, DSP48E2 A/B input 0.26 + pre-adder 0.09, multiplier 0.74 + M data 0.06, ALU
0.70, output 0.16. Block RAM clock-to-out without the output register (0.9) and its setup
(0.4) are round figures in the range of the UltraScale+ -2 data sheet (DS923), not measured.
Real routed paths spread widely around these medians (long, high-fanout nets), so treat the
result as a ranking of designs, not a timing sign-off: ``timing_met`` stays unset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DelayModel:
    """Per-element delays in ns (see the module docstring for their source)."""

    t_ff_cq: float = 0.08
    t_ff_setup: float = 0.03
    t_lut: float = 0.10
    t_net: float = 0.29
    t_muxf: float = 0.10
    t_carry_in: float = 0.24
    t_carry_ci_per8: float = 0.14
    t_dsp_in: float = 0.35  # A/B input stage + pre-adder
    t_dsp_mult: float = 0.80  # multiplier + M data
    t_dsp_alu: float = 0.70
    t_dsp_out: float = 0.16
    t_bram_cq: float = 0.90
    t_bram_setup: float = 0.40


ULTRASCALE_PLUS_2 = DelayModel()

_CLOCK_PORTS = frozenset(
    {"C", "CLK", "CLKARDCLK", "CLKBWRCLK", "WCLK", "CLKA", "CLKB", "CLKARDCLKU", "CLKBWRCLKU"}
)
_SEQ_RE = re.compile(r"^(FD\w*|LD\w*|SRL\w*|RAMB\w*|URAM\w*|FIFO\w*)$")
_LUT_RE = re.compile(r"^(LUT[1-6](_2)?|INV)$")
_LUTRAM_RE = re.compile(r"^RAM\d+[MX]\w*$")  # RAM64M8, RAM32M16, RAM64X1D, ...
_IGNORED_RE = re.compile(r"^(BUFG\w*|BUFH\w*|GND|VCC|IBUF\w*|OBUF\w*|IOBUF\w*|\$scopeinfo)$")


@dataclass(frozen=True)
class _Timing:
    comb: Mapping[str, float]  # input port -> delay to the outputs
    setup: Mapping[str, float]  # input port -> setup of the register it ends at
    launch: float | None  # clock-to-out when the outputs come from a register
    level: int  # logic levels the cell adds (1 for a LUT)


def _param(cell: Mapping[str, Any], name: str) -> int:
    raw = cell.get("parameters", {}).get(name, "0")
    try:
        return int(str(raw), 2) if set(str(raw)) <= {"0", "1"} else int(raw)
    except ValueError:
        return 0


def _cell_timing(
    kind: str, cell: Mapping[str, Any], inputs: Iterable[str], m: DelayModel
) -> _Timing | None:
    ports = [p for p in inputs if p not in _CLOCK_PORTS]
    if _LUT_RE.match(kind):
        return _Timing(dict.fromkeys(ports, m.t_lut), {}, None, 1)
    if _LUTRAM_RE.match(kind):
        # Asynchronous read from the address pins; data and write enable are written on
        # the clock edge, so they end a path instead of running through to the outputs.
        writes = [p for p in ports if p in ("D", "WE") or p.startswith("DI")]
        comb = {p: m.t_lut for p in ports if p not in writes}
        return _Timing(comb, dict.fromkeys(writes, m.t_ff_setup), None, 1)
    if kind.startswith("MUXF"):
        return _Timing(dict.fromkeys(ports, m.t_muxf), {}, None, 0)
    if kind in ("CARRY4", "CARRY8"):
        ci = m.t_carry_ci_per8 * (0.5 if kind == "CARRY4" else 1.0)
        comb = {p: (ci if p.startswith("CI") else m.t_carry_in) for p in ports}
        return _Timing(comb, {}, None, 0)
    if kind.startswith("DSP48"):
        return _dsp_timing(cell, ports, m)
    if _SEQ_RE.match(kind):
        block = kind.startswith(("RAMB", "URAM", "FIFO"))
        setup = m.t_bram_setup if block else m.t_ff_setup
        return _Timing({}, dict.fromkeys(ports, setup), m.t_bram_cq if block else m.t_ff_cq, 0)
    return None  # a kind the model does not know


def _dsp_timing(cell: Mapping[str, Any], ports: list[str], m: DelayModel) -> _Timing:
    """DSP48E2 as four stages; registers after the input, multiplier and ALU stages."""
    stages = [m.t_dsp_in, m.t_dsp_mult, m.t_dsp_alu, m.t_dsp_out]
    regs = [
        _param(cell, "AREG") > 0 or _param(cell, "BREG") > 0,
        _param(cell, "MREG") > 0,
        _param(cell, "PREG") > 0,
    ]
    comb: dict[str, float] = {}
    setup: dict[str, float] = {}
    for port in ports:
        first = 0 if port in ("A", "B", "D", "ACIN", "BCIN") else 2  # C, PCIN, control -> ALU
        total = 0.0
        for i in range(first, 4):
            total += stages[i]
            if i < 3 and regs[i]:
                setup[port] = total
                break
        else:
            comb[port] = total
    last = max((i for i in range(3) if regs[i]), default=None)
    launch = None if last is None else sum(stages[last + 1 :])
    return _Timing(comb, setup, launch, 0)


def estimate_clock(
    netlist: Mapping[str, Any], model: DelayModel = ULTRASCALE_PLUS_2
) -> dict[str, Any]:
    """Logic depth and estimated clock of the top module of a ``write_json`` netlist.

    Returns ``logic_depth`` (most LUT levels on any register-to-register path),
    ``critical_path_levels`` (LUT levels on the slowest one), ``estimated_clock_ns`` /
    ``estimated_clock_mhz`` and ``timing_paths`` (``reg_to_reg``, or ``io`` when the design
    has no register-to-register path and top-level ports were taken as registers). With
    cells the model does not know, or no path at all, only ``timing_paths: none`` (and
    ``timing_unmodelled``: the unknown kinds): no clock figure.
    """
    modules: Mapping[str, Any] = netlist.get("modules") or {}
    top = next(
        (m for m in modules.values() if int(str(m.get("attributes", {}).get("top", "0")), 2)),
        None,
    )
    if top is None:
        return {}
    flat = _Flat(modules, top)
    timing: dict[str, _Timing] = {}
    unknown: set[str] = set()
    for name, (kind, cell) in flat.cells.items():
        if _IGNORED_RE.match(kind):
            continue
        dirs: Mapping[str, str] = cell["port_directions"]
        inputs = [p for p in cell["connections"] if dirs.get(p, "input") == "input"]
        got = _cell_timing(kind, cell, inputs, model)
        if got is None:
            unknown.add(kind)
        else:
            timing[name] = got
    if unknown:
        return {"timing_paths": "none", "timing_unmodelled": ", ".join(sorted(unknown))}
    for include_io in (False, True):
        found = _longest(flat, timing, model, include_io)
        if found is not None:
            delay, crit_levels, depth = found
            return {
                "logic_depth": depth,
                "critical_path_levels": crit_levels,
                "estimated_clock_ns": round(delay, 3),
                "estimated_clock_mhz": round(1000.0 / delay, 1),
                "timing_paths": "io" if include_io else "reg_to_reg",
            }
    return {"timing_paths": "none"}


def _blackbox(module: Mapping[str, Any]) -> bool:
    attrs = module.get("attributes") or {}
    return any(str(attrs.get(k, "0")).strip("0") for k in ("blackbox", "whitebox"))


class _Flat:
    """The top module with every instance of a non-blackbox module inlined.

    ``cells``: hierarchical name -> (primitive kind, cell with connections renumbered into
    one bit space); ``inputs``/``outputs``: the top's port bits. A submodule's port bit is
    its parent's net; two parent nets tied inside a child (a feed-through) become one.
    """

    def __init__(self, modules: Mapping[str, Any], top: Mapping[str, Any]) -> None:
        self._modules = modules
        self._parent: dict[int, int] = {}
        self._next = 0
        # Every module numbers its own nets: all bits are renumbered, the top's too.
        ident: dict[int, Any] = {}
        for port in (top.get("ports") or {}).values():
            for b in port.get("bits", []):
                if isinstance(b, int) and b not in ident:
                    ident[b] = self._fresh()
        raw: dict[str, tuple[str, Mapping[str, Any], dict[str, list[Any]]]] = {}
        self._expand(top, "", ident, raw, depth=0)
        self.cells = {
            name: (kind, {**cell, "connections": {p: [self._find(b) for b in bits]
                                                  for p, bits in conns.items()},
                          "port_directions": cell.get("port_directions") or {}})
            for name, (kind, cell, conns) in raw.items()
        }  # fmt: skip
        self.inputs: set[int] = set()
        self.outputs: set[int] = set()
        for port in (top.get("ports") or {}).values():
            bits = {self._find(ident[b]) for b in port.get("bits", []) if isinstance(b, int)}
            (self.inputs if port.get("direction") == "input" else self.outputs).update(bits)

    def _fresh(self) -> int:
        self._next += 1
        return self._next

    def _find(self, bit: Any) -> Any:
        if not isinstance(bit, int):
            return bit
        while self._parent.get(bit, bit) != bit:
            bit = self._parent[bit]
        return bit

    def _join(self, a: Any, b: Any) -> None:
        ra, rb = self._find(a), self._find(b)
        if isinstance(ra, int) and isinstance(rb, int) and ra != rb:
            self._parent[ra] = rb

    def _expand(
        self,
        module: Mapping[str, Any],
        prefix: str,
        bits: dict[int, Any],
        out: dict[str, tuple[str, Mapping[str, Any], dict[str, list[Any]]]],
        depth: int,
    ) -> None:
        def net(b: Any) -> Any:
            if not isinstance(b, int):
                return b  # a constant "0", "1", "x", "z"
            if b not in bits:
                bits[b] = self._fresh()
            return bits[b]

        for name, cell in (module.get("cells") or {}).items():
            typ = str(cell.get("type", ""))
            conns = {p: [net(b) for b in v] for p, v in (cell.get("connections") or {}).items()}
            sub = self._modules.get(typ)
            if sub is None or _blackbox(sub) or depth > 64:
                out[prefix + name] = (typ.rsplit("\\", 1)[-1], cell, conns)
                continue
            inner: dict[int, Any] = {}
            for pname, port in (sub.get("ports") or {}).items():
                for sb, cb in zip(port.get("bits", []), conns.get(pname, []), strict=False):
                    if not isinstance(sb, int):
                        continue
                    if sb in inner:
                        self._join(inner[sb], cb)  # one child net on two parent nets
                    else:
                        inner[sb] = cb
            self._expand(sub, f"{prefix}{name}.", inner, out, depth + 1)


def _longest(
    flat: _Flat, timing: Mapping[str, _Timing], m: DelayModel, include_io: bool
) -> tuple[float, int, int] | None:
    cells = {name: cell for name, (_, cell) in flat.cells.items() if name in timing}
    driver: dict[int, str] = {}
    for name, cell in cells.items():
        dirs: Mapping[str, str] = cell["port_directions"]
        for port, bits in cell["connections"].items():
            if dirs.get(port) == "output":
                for bit in bits:
                    if isinstance(bit, int):
                        driver[bit] = name
    port_bits, out_bits = flat.inputs, flat.outputs

    # arrival[cell] = (delay at outputs, LUT levels on that path, most LUT levels on any path)
    arrival: dict[str, tuple[float, int, int] | None] = {}

    def source(bit: Any, port: str) -> tuple[float, int, int] | None:
        if not isinstance(bit, int):
            return None
        name = driver.get(bit)
        if name is None:
            return (m.t_ff_cq, 0, 0) if include_io and bit in port_bits else None
        got = arrival.get(name)
        if got is None:
            return None
        chained = port.startswith(("CI", "PCIN", "ACIN", "BCIN"))  # dedicated cascade wires
        return (got[0] + (0.0 if chained else m.t_net), got[1], got[2])

    for name in _topological(cells, timing, driver):
        t = timing[name]
        if t.launch is not None:
            arrival[name] = (t.launch, 0, 0)
            continue
        best: tuple[float, int, int] | None = None
        depth = 0
        for port, delay in t.comb.items():
            for bit in cells[name]["connections"].get(port, []):
                got = source(bit, port)
                if got is None:
                    continue
                depth = max(depth, got[2] + t.level)
                if best is None or got[0] + delay > best[0]:
                    best = (got[0] + delay, got[1] + t.level, 0)
        arrival[name] = None if best is None else (best[0], best[1], depth)

    worst: tuple[float, int, int] | None = None
    ends: list[tuple[str, str, float]] = [
        (name, port, setup) for name, t in timing.items() for port, setup in t.setup.items()
    ]
    for name, port, setup in ends:
        for bit in cells[name]["connections"].get(port, []):
            got = source(bit, port)
            if got is not None:
                path = (got[0] + setup, got[1], got[2])
                worst = _merge(worst, path)
    if include_io:
        for bit in out_bits:
            got = source(bit, "")
            if got is not None:
                worst = _merge(worst, (got[0] + m.t_ff_setup, got[1], got[2]))
    return worst


def _merge(a: tuple[float, int, int] | None, b: tuple[float, int, int]) -> tuple[float, int, int]:
    if a is None:
        return b
    slow = a if a[0] >= b[0] else b
    return (slow[0], slow[1], max(a[2], b[2]))


def _topological(
    cells: Mapping[str, Any], timing: Mapping[str, _Timing], driver: Mapping[int, str]
) -> list[str]:
    """Cells ordered so each combinational cell follows its combinational drivers.

    Registers come first (their outputs do not depend on inputs). A combinational loop (not
    expected after synthesis) is broken where it is found.
    """
    deps: dict[str, set[str]] = {}
    for name, t in timing.items():
        if t.launch is not None:
            deps[name] = set()
            continue
        conns = cells[name]["connections"]
        found = {
            driver[b]
            for p in t.comb
            for b in conns.get(p, [])
            if isinstance(b, int) and b in driver
        }
        deps[name] = {d for d in found if d != name}
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in deps:
        if state.get(root):
            continue
        stack = [(root, iter(sorted(deps[root])))]
        state[root] = 1
        while stack:
            name, it = stack[-1]
            nxt = next((d for d in it if not state.get(d)), None)
            if nxt is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            else:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(deps[nxt]))))
    return order
