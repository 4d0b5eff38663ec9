"""Render each HLS template at its test settings, build the C testbench with g++, compare.

Integer kernels must match numpy exactly (including wrap-around of narrow accumulators);
attention is float and is compared with a tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runners._templates import load_template, render_template

from ._refs import wrap
from ._tools import require_tool, run

KERNELS = ("hls_gemv", "hls_gemm", "hls_attention")
CASES = [
    (name, i)
    for name in KERNELS
    for i in range(len(load_template(name).test.settings))  # type: ignore[union-attr]
]


def _build(name: str, index: int, workdir: Path) -> dict[str, int | str]:
    """Render and compile ``tb`` in ``workdir``; return the resolved parameters."""
    gxx = require_tool("g++")
    template = load_template(name)
    assert template.test is not None and template.test.tool == "g++"
    setting = template.test.settings[index]
    files = render_template(template, setting, workdir, include_test=True)
    sources = [f.name for f in files if f.suffix == ".cpp"]
    flags = ["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror"]
    flags += ["-Wno-unknown-pragmas", "-Wno-unused-label"]  # HLS pragmas and loop labels
    run([gxx, *flags, "-o", "tb", *sources], workdir)
    return template.resolve_params(setting)


def _exec(workdir: Path, numbers: list[object]) -> np.ndarray:
    (workdir / "in.txt").write_text(" ".join(str(v) for v in numbers) + "\n", encoding="ascii")
    run([str(workdir / "tb"), "in.txt", "out.txt"], workdir)
    return np.loadtxt(workdir / "out.txt", ndmin=1)


def _check_gemv(p: dict[str, int | str], rng: np.random.Generator, workdir: Path) -> None:
    wbits, cols_max, acc = int(p["WBITS"]), int(p["COLS_MAX"]), int(p["ACCBITS"])
    for rows, cols in [
        (1, 1),
        (int(rng.integers(2, 14)), cols_max),
        (7, int(rng.integers(2, cols_max))),
    ]:
        w = rng.integers(-(1 << (wbits - 1)), 1 << (wbits - 1), size=(rows, cols))
        x = rng.integers(-128, 128, size=cols)
        w[0, 0], x[0] = -(1 << (wbits - 1)), -128
        got = _exec(workdir, [rows, cols, *w.reshape(-1), *x])
        assert got.astype(np.int64).tolist() == wrap(w @ x, acc)


def _check_gemm(p: dict[str, int | str], rng: np.random.Generator, workdir: Path) -> None:
    k_max, acc = int(p["K_MAX"]), int(p["ACCBITS"])
    for m, n, k in [
        (1, 1, 1),
        (int(rng.integers(2, 10)), int(rng.integers(2, 10)), k_max),
        (5, 7, 3),
    ]:
        a = rng.integers(-128, 128, size=(m, k))
        b = rng.integers(-128, 128, size=(k, n))
        a[:, 0], b[0, :] = -128, -128  # drive the narrow accumulators into wrap-around
        got = _exec(workdir, [m, n, k, *a.reshape(-1), *b.reshape(-1)])
        assert got.astype(np.int64).tolist() == wrap((a @ b).reshape(-1), acc)


def _check_attention(p: dict[str, int | str], rng: np.random.Generator, workdir: Path) -> None:
    d, lk_max = int(p["D"]), int(p["LK_MAX"])
    for lq, lk in [(1, 1), (3, lk_max), (4, int(rng.integers(2, lk_max)))]:
        q, k, v = (rng.integers(-128, 128, size=(n, d)) for n in (lq, lk, lk))
        # A float32-representable scale, so the kernel and numpy use the same value.
        scale = float(np.float32(rng.uniform(0.5, 4.0) / (np.sqrt(d) * 128.0 * 40.0)))
        got = _exec(workdir, [lq, lk, repr(scale), *q.reshape(-1), *k.reshape(-1), *v.reshape(-1)])
        s = (q @ k.T).astype(np.float64) * scale
        prob = np.exp(s - s.max(axis=1, keepdims=True))
        ref = (prob / prob.sum(axis=1, keepdims=True)) @ v
        np.testing.assert_allclose(got.reshape(lq, d), ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(("name", "index"), CASES)
def test_hls_csim_matches_numpy(name: str, index: int, tmp_path: Path) -> None:
    params = _build(name, index, tmp_path)
    rng = np.random.default_rng(3000 + index)
    check = {"hls_gemv": _check_gemv, "hls_gemm": _check_gemm, "hls_attention": _check_attention}
    check[name](params, rng, tmp_path)
