"""The whole overlay with a separate MM engine (SEP = 1): Yosys vs the resource model.

    nice -n 10 .venv/bin/python benchmarks/overlay_sep_synth.py [--rebuild] [--at REV]

The whole-overlay model (``cost_models/_overlay_resources.py``) is fitted to builds without
the engine; the engine's unit (``cost_models/_overlay_mm_engine.py``) takes the core's
fitted per-feature LUT costs and counts its registers and DSP blocks from the RTL. Every
SEP build is therefore held out. ``--rebuild`` synthesises the points below that
``benchmarks/data/overlay_sep_synth.csv`` lacks (yosys-xilinx, whole design, hierarchy
kept; results cached in ``results/builds``; minutes each) at the overlay RTL of git
revision ``--at`` (default HEAD) and appends each as it finishes; the CSV's rows of the
RTL the model counts (``DSP_RTL``) are compared. Last lines: ``sep_points=N``,
``sep_lut_max_pct=…``, ``sep_ff_max_pct=…``, ``sep_dsp_exact=N/N``, ``sep_bram_exact=N/N``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import overlay_synth as ovs
from overlay_points import stream_cap, stream_cap_mm

from cost_models import _overlay_resources as ov

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "benchmarks" / "data" / "overlay_sep_synth.csv"
FLOW = "yosys-xilinx"
SEP = ("mm_engine", "mm_red", "mm_rows", "stream_cap_mm")
COLUMNS = ("flow", "rtl", *ov.HW_KEYS, *SEP, "lut", "ff", "dsp", "bram")


def point(k: int, n: int, w: int, mk: int, mn: int, tt: int, mt: int, idx: int = 0) -> dict:
    """A SEP point: an MV core of K x N beside an MM_K x MM_N engine (beat 16, SFU 1)."""
    beat = 16
    return {
        "mv_k": k, "mv_n": n, "w_bits": w, "sfu_lanes": 1, "beat_bytes": beat,
        "log_beat": 4, "stream_cap": stream_cap(k, n, 1, beat), "spad_words": 1024,
        "imem_words": 256, "burst_bytes": 256, "overlap": 1, "idx_bits": idx,
        "xbuf_words": 1024, "prefill_slots": tt, "mm_lanes": mt, "mm_engine": 1,
        "mm_red": mk, "mm_rows": mn,
        "stream_cap_mm": stream_cap_mm(mk, mn, beat),
    }  # fmt: skip


# Engine sizes, token slots and lanes, W4 (packed) and W8, a sparse decoder. MM 8x8 with
# TT 4 and MT 2 is left out: YoWASP's Yosys runs out of its 4 GiB WebAssembly memory.
POINTS = [
    point(8, 1, 8, 8, 4, 2, 1),
    point(8, 1, 4, 4, 4, 2, 2),
    point(8, 1, 4, 16, 4, 4, 1),
    point(8, 1, 8, 8, 2, 8, 4),
    point(8, 1, 8, 4, 8, 2, 1, idx=4),
]


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*(int(float(row[k])) for k in (*ov.HW_KEYS, *SEP)), row["rtl"])


def load() -> list[dict[str, Any]]:
    if not CSV_PATH.exists():
        return []
    with CSV_PATH.open(newline="") as f:
        return list(csv.DictReader(f))


def append(row: dict[str, Any]) -> None:
    """Add one row, rewriting the file atomically (a crash loses no finished build)."""
    rows = [*load(), row]
    tmp = CSV_PATH.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows({k: r[k] for k in COLUMNS} for r in rows)
    os.replace(tmp, CSV_PATH)


def rebuild(at: str) -> None:
    from runners import build, load_template

    snap = Path(tempfile.mkdtemp(prefix="overlay-sep-")) / "overlay"
    snap.mkdir()
    for name, text in ovs.template_at(at).items():
        (snap / name).write_text(text, encoding="utf-8")
    rtl = ovs.rtl_hash(snap)
    template = load_template("overlay", root=snap.parent)
    have = {key(r) for r in load()}
    for i, p in enumerate(POINTS):
        if key({**p, "rtl": rtl}) in have:
            print(f"  SEP #{i}: in the CSV already", flush=True)
            continue
        res = build(template, p, FLOW, cache_root=ROOT / "results" / "builds")
        if not res.ok or not res.result_dir:
            print(f"  SEP #{i}: build failed ({res.failure_class}: {res.first_error})")
            continue
        whole = ovs.harvest(Path(res.result_dir), FLOW)[0]
        append({**p, "flow": FLOW, "rtl": rtl, **{r: whole[r] for r in ov.RESOURCES}})
        print(f"  measured SEP #{i} in {res.duration_s:.0f}s", flush=True)


def pct(pred: float, meas: float) -> float:
    return 100.0 * (pred - meas) / meas if meas else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rebuild", action="store_true", help="synthesise missing points")
    ap.add_argument("--at", default="HEAD", help="overlay RTL of this git revision")
    args = ap.parse_args()
    if args.rebuild:
        rebuild(args.at)
    every = load()
    # the model counts one RTL (its DSP_RTL): builds of another are not the same object
    rows = [r for r in every if r["rtl"] == ov.DSP_RTL]
    if len(rows) < len(every):
        print(f"{len(every) - len(rows)} builds of other RTL revisions left out")
    errs: dict[str, list[float]] = {r: [] for r in ov.RESOURCES}
    print(f"{'point':<34} {'resource':>8} {'measured':>9} {'model':>9} {'error':>8}")
    for row in rows:
        p = {k: float(row[k]) for k in (*ov.HW_KEYS, *SEP)}
        pred = ov.predict(p, FLOW)
        name = (
            f"K{row['mv_k']}xN{row['mv_n']} MM{row['mm_red']}x{row['mm_rows']} "
            f"TT{row['prefill_slots']} MT{row['mm_lanes']} W{row['w_bits']} "
            f"idx{row['idx_bits']}"
        )
        for r in ov.RESOURCES:
            meas, got = float(row[r]), float(pred[r])
            errs[r].append(pct(got, meas) if r in ("lut", "ff") else got - meas)
            print(f"{name:<34} {r:>8} {meas:>9.0f} {got:>9.0f} {errs[r][-1]:>+8.1f}")
    rtl = sorted({r["rtl"] for r in rows})
    print(f"RTL {', '.join(rtl) or '-'}; model fitted at {ov.fitted_rtl()} (no SEP build fitted)")
    n = len(rows)
    print(f"sep_points={n}")
    print(f"sep_lut_max_pct={max((abs(e) for e in errs['lut']), default=0.0):.1f}")
    print(f"sep_ff_max_pct={max((abs(e) for e in errs['ff']), default=0.0):.1f}")
    print(f"sep_dsp_exact={sum(e == 0 for e in errs['dsp'])}/{n}")
    print(f"sep_bram_exact={sum(e == 0 for e in errs['bram'])}/{n}")


if __name__ == "__main__":
    main()
