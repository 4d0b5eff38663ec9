"""Rich rendering of one evaluated design point for ``dse estimate``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

import cost_models as cm
from dse.config import StudyConfig


def _fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _gb(x: float) -> str:
    return f"{x / 1e9:.3f} GB" if x >= 1e8 else f"{x / 1e6:.2f} MB"


def render(cfg: StudyConfig, row: pd.Series, console: Console) -> None:
    w, m = cfg.workload, cfg.workload.model
    head = (
        f"[bold]{cfg.name}[/]  {m.name} ({m.n_layers} layers, d={m.d_model}, "
        f"{m.n_heads}/{m.n_kv_heads} heads, FFN {m.d_ffn} {m.ffn}) on "
        f"[bold]{cfg.platform.name}[/] ({cfg.platform.part}), {cfg.arch} architecture\n"
        f"batch {w.batch}, prompt {w.prompt_len}, generate {w.gen_len}, decode at KV "
        f"{w.kv_len}; clock {row.get('freq_mhz', 0):.0f} MHz"
    )
    perf = Table(title="Performance", show_header=False, box=None)
    perf.add_column(style="cyan")
    perf.add_column(justify="right")
    perf.add_row("prefill latency", f"{_fmt_s(row.prefill_latency_s)} ({row.bound_prefill}-bound)")
    perf.add_row("prefill throughput", f"{row.prefill_tokens_per_s:,.0f} tokens/s")
    perf.add_row(
        "decode latency",
        f"{_fmt_s(row.decode_latency_s_per_token)} per token ({row.bound_decode}-bound)",
    )
    perf.add_row("decode throughput", f"{row.decode_tokens_per_s:,.1f} tokens/s")
    perf.add_row("off-chip bytes / token", _gb(row.decode_bytes_per_token))
    perf.add_row(
        "memory bandwidth drawable",
        f"{row.hbm_bw_gbps:,.1f} GB/s (decode uses {100 * row.hbm_bw_util:.1f} % of peak)",
    )
    perf.add_row(
        "power / energy", f"{row.power_w:.1f} W, {row.energy_per_token_j * 1e3:.1f} mJ/token"
    )
    perf.add_row("FPGAs", f"{int(row.n_fpga)}")
    if cfg.baseline is not None and pd.notna(row.gpu_decode_tokens_per_s):
        perf.add_row(
            f"vs {cfg.baseline.name} (roofline)",
            f"decode {row.decode_speedup_vs_gpu:.2f}×, prefill "
            f"{row.prefill_speedup_vs_gpu:.2f}×, energy {row.energy_ratio_vs_gpu:.2f}× "
            f"(GPU {row.gpu_decode_tokens_per_s:.1f} tokens/s)",
        )

    ops = Table(title="Time per operator (all layers)")
    ops.add_column("operator", style="cyan")
    ops.add_column("prefill", justify="right")
    ops.add_column("decode / token", justify="right")
    names = sorted({k.split("_", 2)[2][:-2] for k in row.index if k.startswith("op_prefill_")})
    dec_total = sum(float(row.get(f"op_decode_{n}_s", 0.0)) for n in names) or 1.0
    for n in names:
        dec = float(row.get(f"op_decode_{n}_s", 0.0))
        ops.add_row(
            n,
            _fmt_s(float(row[f"op_prefill_{n}_s"])),
            f"{_fmt_s(dec)} ({100 * dec / dec_total:.0f} %)",
        )

    res = Table(title="Resources per FPGA vs device (after shell)")
    for col in ("resource", "used", "available", "util"):
        res.add_column(col, justify="right" if col != "resource" else "left", style=None)
    avail = cfg.platform.available().as_dict()
    for r in cm.RESOURCES:
        u = float(row[f"{r}_util"])
        style = "red" if u > 1 else ("yellow" if u > 0.8 else "")
        res.add_row(
            r,
            f"{row[r]:,.0f}",
            f"{avail[r]:,.0f}",
            f"[{style}]{100 * u:.1f} %[/]" if style else f"{100 * u:.1f} %",
        )
    res.add_row(
        "clock",
        f"{row.get('freq_mhz', 0):.0f} MHz",
        f"≤ {row.achievable_clock_mhz:.0f} MHz",
        "estimate",
    )

    mem = Table(title=f"{cfg.platform.memory.kind.upper()} channel map")
    for col in ("group", "channels", "bytes / decoded token", "resident bytes"):
        mem.add_column(col, justify="right" if col != "group" else "left")
    for g in cm.GROUPS:
        key = f"hbm_ch_{g}"
        mem.add_row(
            g,
            f"{int(row.get(key, 0))}",
            _gb(float(row.get(f"bytes_{g}", 0.0))),
            _gb(float(row.get(f"group_bytes_{g}", 0.0))),
        )
    verdict = "[green]feasible[/]" if row.feasible else f"[red]infeasible:[/] {row.violations}"
    console.print(Panel(Group(head, perf, ops, res, mem, verdict), title="dse estimate"))


def to_json(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in cm.COLUMNS:
        v = row[k]
        if isinstance(v, bool | np.bool_):
            out[k] = bool(v)
        elif isinstance(v, int | float | np.integer | np.floating):
            out[k] = float(v)
        else:
            out[k] = str(v)
    return out
