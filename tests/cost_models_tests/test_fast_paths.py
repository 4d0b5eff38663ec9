"""The search's fast path through the model gives the reference numbers: ``Prepared.score``
with ``need`` (only the columns a search reads; the temporal model then skips its prefill
pass) equals ``cost_models.evaluate`` on the same random points, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cost_models as cm
from dse.config import load_config

ROOT = Path(__file__).resolve().parents[2]
NEED = [
    "decode_tokens_per_s",
    "power_w",
    "energy_per_token_j",
    "achievable_clock_mhz",
    "feasible",
    "violations",
    *(f"{r}_util" for r in cm.RESOURCES),
]


def _random_points(cfg: object, n: int, seed: int) -> dict[str, list[object]]:
    """Each searched parameter drawn uniformly from its value list (conditions ignored:
    the model takes any combination)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[object]] = {}
    for p in cfg.space.params:  # type: ignore[attr-defined]
        vals = p.values()
        if vals is None:  # a float without step: uniform in its range
            out[p.name] = list(rng.uniform(p.low, p.high, n))
        else:
            out[p.name] = [vals[i] for i in rng.integers(0, len(vals), n)]
    return out


@pytest.mark.parametrize(
    "example",
    [
        "llama2-7b-u280-temporal-search.yaml",
        "smollm-135m-ecp5.yaml",
        "tiny-llama-u280.yaml",
        "gpt2-medium-u280-spatial.yaml",
    ],
)
def test_prepared_need_equals_evaluate(example: str) -> None:
    cfg = load_config(ROOT / "examples" / example)
    values = _random_points(cfg, 2000, seed=11)
    tables = {k: sorted(set(v), key=str) for k, v in values.items()}
    idx = {k: np.array([tables[k].index(x) for x in v]) for k, v in values.items()}
    model = cm.Prepared(cfg.workload, cfg.platform, cfg.arch, cfg.baseline, cfg.design, tables)
    fast = model.score(model.gather(idx), 2000, need=NEED)
    full = model.score(model.gather(idx), 2000)
    point = {**cfg.design, **values}
    ref = cm.evaluate(
        cfg.workload, cfg.platform, pd.DataFrame(point), arch=cfg.arch, baseline=cfg.baseline
    )
    assert set(fast) == set(NEED)
    for k in NEED:
        np.testing.assert_array_equal(fast[k], full[k], err_msg=k)
        if k != "violations":  # evaluate turns the bit mask into text
            np.testing.assert_array_equal(fast[k], ref[k].to_numpy(), err_msg=k)
    with_prefill = model.score(model.gather(idx), 2000, need=["prefill_latency_s"])
    np.testing.assert_array_equal(with_prefill["prefill_latency_s"], full["prefill_latency_s"])
    assert np.isfinite(full["prefill_latency_s"]).all()
