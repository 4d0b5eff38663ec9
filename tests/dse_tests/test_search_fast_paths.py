"""The search's fast paths give exactly what the plain paths give: the prepared scorer vs
``cost_models.evaluate`` on decoded points, tabulated ``when:`` conditions vs evaluating
the expression, exact genome keys, and the archive's domination pre-filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sweep_cases import BASE

import cost_models as cm
from dse.config import load_config
from dse.search import Codec, Scorer
from dse.search._front import dominated_by

ROOT = Path(__file__).resolve().parents[2]
# Searched quant without kv_bits (kv_bits follows quant per row), an absent conditional
# float and a derived key: the cases where "absent" and "default" matter.
MIXED = BASE.replace("design:\n  quant: w4a8\n", "design: {}\n").replace(
    "  sparsity: [none, nm]\n",
    "  quant: [w8a8, w4a16, fp16]\n  sparsity: [none, nm]\n"
    "  density_qk: {type: float, low: 0.25, high: 0.75, step: 0.25, when: \"sparsity == 'nm'\"}\n",
)


def _plain(cfg: Any, codec: Codec, scorer: Scorer, g: np.ndarray) -> tuple[np.ndarray, ...]:
    """What the scorer computed before it was prepared: decode, evaluate, constrain."""
    point = dict(cfg.design)
    point.update(codec.point_columns(g))
    df = cm.evaluate(cfg.workload, cfg.platform, point, arch=cfg.arch, baseline=cfg.baseline)
    vals = df[scorer.metrics].to_numpy(np.float64) * scorer.signs
    v = np.clip(cfg.constraints.evaluate(df), 0.0, None).sum(axis=1)
    v[np.isnan(vals).any(axis=1)] = np.inf
    vals[~np.isfinite(v)] = np.inf
    return vals, v


@pytest.mark.parametrize(
    "source",
    [
        ROOT / "examples" / "llama2-7b-u280-temporal-search.yaml",
        ROOT / "examples" / "gpt2-medium-u280-spatial.yaml",
        "mixed",
    ],
)
def test_prepared_scorer_equals_evaluate(tmp_path: Path, source: Any) -> None:
    if source == "mixed":
        source = tmp_path / "study.yaml"
        source.write_text(MIXED)
    cfg = load_config(source)
    codec = Codec(cfg.space)
    scorer = Scorer(cfg, codec)
    g = codec.random(np.random.default_rng(7), 3000)
    f, cv = scorer(g)
    want_f, want_cv = _plain(cfg, codec, scorer, g)
    np.testing.assert_array_equal(f, want_f)  # bit for bit, infeasible rows included
    np.testing.assert_array_equal(cv, want_cv)
    assert (cv <= 0).any() and (cv > 0).any()


def test_tabulated_conditions_equal_the_expression(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(MIXED)
    cfg = load_config(tmp_path / "study.yaml")
    fast = Codec(cfg.space)
    slow = Codec(cfg.space)
    slow._when = [None] * slow.dims  # every condition through the expression
    assert any(t is not None for t in fast._when)
    g = np.random.default_rng(3).integers(-1, 4, (5000, fast.dims)).astype(np.int32)
    g = np.minimum(g, fast.sizes - 1).astype(np.int32)
    always = ~np.array(fast.conditional)
    g[:, always] = np.maximum(g[:, always], 0)  # only a conditional gene may be absent
    a = fast.activate(g.copy(), None)
    b = slow.activate(g.copy(), None)
    np.testing.assert_array_equal(a, b)
    sparse = fast.params.index(next(p for p in fast.params if p.name == "sparsity"))
    dens = fast.params.index(next(p for p in fast.params if p.name == "density_qk"))
    on = fast.values[sparse][a[:, sparse]] == "nm"
    assert (a[on, dens] >= 0).all() and (a[~on, dens] == -1).all()


def test_keys_are_exact_row_numbers() -> None:
    cfg = load_config(ROOT / "examples" / "llama2-7b-u280-temporal-search.yaml")
    codec = Codec(cfg.space)
    assert codec._exact  # 7.8e16 points (absent included) fit in 63 bits
    g = codec.random(np.random.default_rng(0), 20000)
    g = np.vstack([g, g[:100]])
    keys = codec.keys(g)
    rows = {tuple(r) for r in g.tolist()}
    assert len(set(keys.tolist())) == len(rows) == 20000
    assert (keys != 0).all()
    near = g[:1].copy()
    near[0, -1] = (near[0, -1] + 1) % codec.sizes[-1]  # one gene apart: another key
    assert codec.keys(near)[0] != keys[0]


def test_domination_prefilter_is_exact() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):  # small integer grids: many ties, the hard case
        s = rng.integers(0, 6, (int(rng.integers(1, 15)), 2)).astype(float)
        x = rng.integers(0, 6, (40, 2)).astype(float)
        brute = [any((a <= b).all() and (a < b).any() for a in s) for b in x]
        np.testing.assert_array_equal(dominated_by(s, x), brute)


def test_domination_buckets_are_exact_at_their_edges() -> None:
    """Queries on bucket edges, on set rows' coordinates and at ±inf (where rounding of
    the bucket number could err) against the definition."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(2, 40))
        s = np.column_stack([rng.random(n) * 3 + 1, rng.random(n)])
        s[rng.random(n) < 0.3, 0] = s[0, 0]  # ties in f0
        lo, hi = s[:, 0].min(), s[:, 0].max()
        nb = 4 * n + 16
        edges = lo + np.arange(nb + 1) * ((hi - lo) / nb)
        x0 = np.concatenate([edges, np.nextafter(edges, -np.inf), s[:, 0], [-np.inf, np.inf]])
        x1 = rng.choice(np.concatenate([s[:, 1], rng.random(20), [-np.inf, np.inf]]), len(x0))
        x = np.column_stack([x0, x1])
        brute = [bool(((s <= r).all(axis=1) & (s < r).any(axis=1)).any()) for r in x]
        np.testing.assert_array_equal(dominated_by(s, x), brute)
