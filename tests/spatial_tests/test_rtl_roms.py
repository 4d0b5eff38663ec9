"""The GEMV ROM images spatial/rtl.py writes hold each matrix in the order the RTL issues it.

Decoded here lane by lane as sp_gemv.v reads them (row mode: rows, or pairs of rows where
the GEMV packs, x groups x chunks of U lanes, a packed lane holding both rows' weights at
one column; column mode: blocks x row chunks x weight chunks, RPC x LPR lanes), the products summed
per group and scaled must give the reference's integer matvec (overlay/reference.QMat),
dense and N:M. No simulator needed: this checks the generator's half of the contract.
"""

from __future__ import annotations

import numpy as np
import pytest

from overlay.reference import QMat, prune, quantise_matrix
from spatial.rtl import Gemv, _chunks, _columns, _gemv


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _lanes(word: int, n: int, bits: int, signed: bool) -> list[int]:
    vals = [(word >> (i * bits)) & ((1 << bits) - 1) for i in range(n)]
    return [_signed(v, bits) for v in vals] if signed else vals


def _row_mode(q: QMat, g: Gemv, wb: int, x: np.ndarray) -> np.ndarray:
    nm = (g.nn, g.mm) if g.sparse else None
    ws, cs = _chunks(q, g, nm, wb)
    assert len(ws) == g.issue_rows * g.ng * g.nch
    assert all(0 <= w < 1 << g.word_bits(wb) for w in ws)
    per = 2 if g.pack else 1  # rows a lane serves
    out = np.zeros(g.rows, dtype=np.int64)
    group = g.k // g.ng
    i = 0
    for ir in range(g.issue_rows):
        for grp in range(g.ng):
            part = [0] * per
            for c in range(g.nch):
                w = _lanes(ws[i], g.unroll * per, wb, True)
                cols = _lanes(cs[i], g.unroll, g.cb, False) if g.sparse else []
                for lane in range(g.unroll):
                    col = cols[lane] if g.sparse else grp * group + c * g.unroll + lane
                    for h in range(per):
                        part[h] += w[lane * per + h] * int(x[col % g.k])
                i += 1
            for h in range(per):
                out[ir * per + h] += part[h] * int(q.s[ir * per + h, grp])
    return out


def _column_mode(q: QMat, g: Gemv, wb: int, x: np.ndarray) -> np.ndarray:
    ws, cs = _columns(q, g, wb)
    part = np.zeros(g.rows, dtype=np.int64)
    acc = np.zeros(g.rows, dtype=np.int64)
    group = g.k // g.ng
    i = 0
    for b in range(g.k // g.ch):
        for rc in range(g.nrc):
            for jc in range(g.njc):
                w = _lanes(ws[i], g.rpc * g.lpr, wb, True)
                cols = _lanes(cs[i], g.rpc * g.lpr, g.ccb, False)
                i += 1
                for rr in range(g.rpc):
                    r = rc * g.rpc + rr
                    for jj in range(g.lpr):
                        j, lane = jc * g.lpr + jj, rr * g.lpr + jj
                        if r < g.rows and j < g.chs:
                            col = cols[lane] if g.sparse else j
                            part[r] += w[lane] * int(x[b * g.ch + col])
                    if r < g.rows and jc == g.njc - 1 and (b + 1) * g.ch % group == 0:
                        acc[r] += part[r] * int(q.s[r, b * g.ch // group])
                        part[r] = 0
    return acc


@pytest.mark.parametrize(
    ("rows", "k", "group", "unroll", "nm", "ch", "wb", "pack"),
    [
        (24, 64, 64, 16, None, 16, 8, 1),  # dense, U < rows: packed pairs of rows
        (16, 64, 32, 6, None, 8, 8, 1),  # U divides neither a group nor the rows
        (16, 64, 32, 6, None, 8, 4, 1),  # W4
        (15, 64, 32, 6, None, 8, 8, 0),  # odd rows: not packed
        (16, 64, 16, 64, None, 8, 8, 0),  # one chunk a group: not packed
        (8, 64, 16, 64, (2, 8), 8, 8, 0),  # N:M, U > rows: several weights of a row a cycle
        (32, 128, 32, 4, (1, 4), 4, 4, 0),
    ],
)
def test_rom_words_give_the_reference_matvec(
    rows: int,
    k: int,
    group: int,
    unroll: int,
    nm: tuple[int, int] | None,
    ch: int,
    wb: int,
    pack: int,
) -> None:
    rng = np.random.default_rng(rows + k)
    q = quantise_matrix(prune(rng.normal(size=(rows, k)), nm), wb, group)
    g = _gemv(rows, k, group, unroll, nm, ch)
    assert g.pack == pack
    x = rng.integers(-128, 128, size=k)
    want = q.matvec(x)
    assert np.array_equal(_row_mode(q, g, wb, x), want)
    assert np.array_equal(_column_mode(q, g, wb, x), want)
