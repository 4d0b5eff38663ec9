"""The in-context top of a whole-design build (``vivado``, ``ecp5``): every port of the
design behind a scan chain on four pins.

A whole accelerator (the overlay: five AXI4 masters of up to 512 data bits, the host
interface) has up to a thousand top-level ports and more: in context (I/O buffers, pins, a
bitstream) that cannot be placed on any package (899 I/O at 32-bit ports against an
ECP5-85's 365 pins), and out of context there is no bitstream.
``io_wrapper`` writes ``dse_io_top``: the design instantiated with the point's parameters,
every input driven from a shift register fed by pin ``io_si``, every output captured
(``io_se`` low) or shifted out (``io_se`` high) on ``io_so``, the clock on its own pin. Every
design input stays a live signal and every output observable, so synthesis keeps the whole
design; the wrapper adds one flip-flop per port bit (``ff``, reported as
``io_wrapper_ff``) and nothing else of note. Its pins have no board location, so the
bitstream it yields measures the design and is not for loading: flows file it as
``scan_bitstream`` (``BITSTREAM_KEY``), which ``dse promote`` does not publish.

Only ANSI port lists are read (``input wire [8*BEAT-1:0] name,``); a range may use the
module's parameters and + - * / ( ).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.toolchains._base import ToolchainError

IO_TOP = "dse_io_top"
IO_FILE = f"{IO_TOP}.v"
CLOCKS = ("clk", "ap_clk", "clock")
# RTL templates that are a whole accelerator: built in context behind this top by the flows
# that place them (a unit template is built bare, or out of context).
WHOLE_DESIGNS = ("overlay", "spatial_rtl")
RECORD = "io_wrapper.json"  # {"top", "design", "ff"}: written beside the wrapper
BITSTREAM_KEY = "scan_bitstream"
_PORT_RE = re.compile(
    r"\b(input|output)\s+(?:wire\s+|reg\s+|logic\s+)?(?:signed\s+)?(?:\[([^\]]+)\]\s*)?(\w+)"
)
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.floordiv,  # Verilog integer division
}


@dataclass(frozen=True)
class Port:
    direction: str
    name: str
    width: int


def _value(expr: str, params: Mapping[str, object], flow: str) -> int:
    """An integer range bound over the parameters, or ToolchainError."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in params:
            return int(str(params[node.id]))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return int(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        raise ValueError(ast.dump(node))

    try:
        return ev(ast.parse(expr.strip(), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        raise ToolchainError(
            f"flow '{flow}': port range bound {expr!r} is not arithmetic over the "
            f"parameters ({exc})"
        ) from None


def top_ports(folder: Path, sources: list[str], top: str, params: Mapping, flow: str) -> list[Port]:
    """The ports of module ``top`` (declared in one of ``sources``) with their widths."""
    head = re.compile(rf"\bmodule\s+{re.escape(top)}\b")
    for src in sources:
        text = re.sub(r"//[^\n]*", "", (folder / src).read_text(encoding="utf-8"))
        match = head.search(text)
        if match is None:
            continue
        body = text[match.end() :]
        first = _PORT_RE.search(body)
        end = body.find(");", first.start()) if first else -1
        ports = []
        for direction, rng, name in _PORT_RE.findall(body[: max(end, 0)]):
            if rng:
                hi, _, lo = rng.partition(":")
                width = abs(_value(hi, params, flow) - _value(lo or hi, params, flow)) + 1
            else:
                width = 1
            ports.append(Port(direction, name, width))
        if ports:
            return ports
    raise ToolchainError(f"flow '{flow}': no ANSI port list of module '{top}' in {sources}")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def io_wrapper(folder: Path, sources: list[str], top: str, params: Mapping, flow: str) -> int:
    """Write ``dse_io_top.v`` around ``top`` and its ``io_wrapper.json`` record; return the
    flip-flops it adds."""
    ports = top_ports(folder, sources, top, params, flow)
    clock = next((p for p in ports if p.name in CLOCKS and p.direction == "input"), None)
    if clock is None:
        raise ToolchainError(f"flow '{flow}': module '{top}' has no clock input ({CLOCKS})")
    ins = [p for p in ports if p.direction == "input" and p is not clock]
    outs = [p for p in ports if p.direction == "output"]
    iw, ow = max(1, sum(p.width for p in ins)), max(1, sum(p.width for p in outs))
    decl = [f"    wire [{p.width - 1}:0] p_{p.name};" for p in ports if p is not clock]
    names = ", ".join(f"p_{p.name}" for p in ins) or "in_unused"
    outs_cat = ", ".join(f"p_{p.name}" for p in outs) or "1'b0"
    pins = ",\n".join(f"        .{p.name}(p_{p.name})" for p in ports if p is not clock)
    param_decl = ",\n".join(f"    parameter {k} = {_literal(v)}" for k, v in params.items())
    param_pass = ", ".join(f".{k}({k})" for k in params)
    # A top without parameters (a generated one) gets no parameter lists: #() is not Verilog.
    head = f"module {IO_TOP} #(\n{param_decl}\n) (" if params else f"module {IO_TOP} ("
    inst = f"{top} #({param_pass}) u_design (" if params else f"{top} u_design ("
    shift_in = f"{{in_sr[{iw - 2}:0], io_si}}" if iw > 1 else "io_si"
    shift_out = f"{{out_sr[{ow - 2}:0], 1'b0}}" if ow > 1 else "1'b0"
    text = f"""// Generated by runners.toolchains._io_wrapper: {top} in context on four pins.
// {len(ins)} inputs ({iw} bits) shift in on io_si; {len(outs)} outputs ({ow} bits) are
// captured while io_se is low and shift out on io_so while it is high.
{head}
    input  wire {clock.name},
    input  wire io_si,
    input  wire io_se,
    output wire io_so
);
    reg [{iw - 1}:0] in_sr;
    reg [{ow - 1}:0] out_sr;
    wire in_unused;
{chr(10).join(decl)}
    assign {{{names}}} = in_sr;
    always @(posedge {clock.name}) begin
        in_sr <= {shift_in};
        out_sr <= io_se ? {shift_out} : {{{outs_cat}}};
    end
    assign io_so = out_sr[{ow - 1}];

    {inst}
        .{clock.name}({clock.name}),
{pins}
    );
endmodule
"""
    (folder / IO_FILE).write_text(text, encoding="utf-8")
    record = {"top": IO_TOP, "design": top, "ff": iw + ow}
    (folder / RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return iw + ow


def wrapped(workdir: Path) -> dict[str, Any]:
    """The wrapper record a build left (empty when the design was built bare)."""
    path = workdir / RECORD
    if not path.exists():
        return {}
    try:
        got = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        got = None
    # A damaged record still says the design was wrapped: never file its bitstream as one
    # to load on a board.
    return got if isinstance(got, dict) and got else {"top": IO_TOP}
