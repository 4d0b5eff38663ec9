"""What the overlay's program needs of its memories, per temporal example and per sim-rung
tiny model: scratch words, program length and longest MV reduction × token slots, rounded
to the SPAD, IMEM and XBUF a build gets (``cost_models/_overlay_program.py``, exact against
``overlay.compiler.compile_model``: tests/overlay_tests/test_overlay_program.py), and whether
they fit the template (65,536 each).

    .venv/bin/python benchmarks/overlay_program_sizes.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cost_models import ModelShape
from cost_models._overlay_program import memory_words, program_sizes, shortfall, study_max_pos
from dse.config import load_config
from overlay.flow import TINY_SHAPES

ROOT = Path(__file__).resolve().parents[1]
SLOTS = np.array([1, 2, 4, 8])  # prefill token slots (1: serial prefill)


def rows() -> list[tuple[str, ModelShape, int]]:
    """(label, model, KV positions): each temporal example, then the sim rung's models."""
    out = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        cfg = load_config(path)
        if cfg.arch == "temporal":
            w = cfg.workload
            pos = study_max_pos(w.model, w.prompt_len, w.gen_len)
            out.append((f"{path.name} ({w.model.name})", w.model, pos))
    out += [(f"sim rung {name}", shape, 32) for name, shape in TINY_SHAPES.items()]
    return out


def main() -> None:
    for label, shape, pos in rows():
        need, words = program_sizes(shape, pos, SLOTS), memory_words(shape, pos, SLOTS)
        print(f"{label}, {pos} positions")
        for i, t in enumerate(SLOTS):
            one = {k: v[i : i + 1] for k, v in words.items()}
            print(
                f"  TT={t}: scratch {int(need['scratch_words'][i])} -> SPAD "
                f"{int(words['spad_words'][i])}; program {int(need['program_len'][i])} -> "
                f"IMEM {int(words['imem_words'][i])}; reduction {int(need['max_reduction'][i])}"
                f" x {t} -> XBUF {int(words['xbuf_words'][i])}; {shortfall(one) or 'fits'}"
            )


if __name__ == "__main__":
    main()
