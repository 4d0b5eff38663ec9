"""A parsed space checked by sampling it: every derived expression and when: must evaluate
on random points and on the corners, so a bad one fails at load time, not mid-sweep."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

import cost_models as cm
from dse.config._yaml import LocatedYaml
from dse.space import SearchSpace, is_numeric


def _check_sample(doc: LocatedYaml, space: SearchSpace, arch: str, platform: cm.Platform) -> None:
    """Evaluate conditions and derived expressions on corner and random points."""
    try:
        cols = sample_columns(space, 256, np.random.default_rng(0))
    except WhenFailed as exc:
        raise doc.error(f"space.{exc.name}.when", f"cannot be evaluated: {exc.cause}") from None
    env: dict[str, Any] = {**space.design, **cols}
    for p in space.params:
        if p.when is not None:
            try:
                np.asarray(p.when.evaluate(env), dtype=bool)
            except Exception as exc:
                raise doc.error(f"space.{p.name}.when", f"cannot be evaluated: {exc}") from None
    for name, expr in space.derived:
        try:
            value = np.asarray(expr.evaluate(env))
            env[name] = np.broadcast_to(value, (256,)) if value.ndim == 0 else value
            cm.normalise({name: env[name]}, arch, platform)
        except cm.InputError as exc:
            raise doc.error(
                f"derived.{name}", f"gives invalid values: {exc.expected}", exc.hint
            ) from None
        except Exception as exc:
            raise doc.error(f"derived.{name}", f"cannot be evaluated: {exc}") from None
    _check_corners(doc, space, cols)


def _check_corners(doc: LocatedYaml, space: SearchSpace, cols: Mapping[str, np.ndarray]) -> None:
    """The low and high corners again as one trial sees them: integer parameters as Python
    ints, where integer arithmetic (not float) decides whether a derived value overflows."""
    for row in (0, 1):
        env: dict[str, Any] = dict(space.design)
        for p in space.params:
            v = cols[p.name][row]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue  # its when: is false at this corner
            env[p.name] = int(v) if p.type in ("int", "pow2") else _scalar(v)
        for name, expr in space.derived:
            if not expr.names <= env.keys():
                break
            try:
                env[name] = expr.evaluate(env)
            except Exception as exc:
                raise doc.error(f"derived.{name}", f"cannot be evaluated: {exc}") from None


class WhenFailed(Exception):
    """A parameter's ``when:`` raised on the sampled values (``_check_sample`` reports it)."""

    def __init__(self, name: str, cause: Exception) -> None:
        super().__init__(f"{name}: {cause}")
        self.name, self.cause = name, cause


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def sample_columns(space: SearchSpace, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` points (low and high corners first, then random) as design-unit columns."""
    cols: dict[str, np.ndarray] = {}
    env: dict[str, Any] = dict(space.design)
    for p in space.params:
        vals = p.values()
        if vals is None:
            assert p.low is not None and p.high is not None
            col: np.ndarray = rng.uniform(p.low, p.high, n)
            col[0], col[1 % n] = p.low, p.high
        else:
            arr = np.asarray(vals, dtype=object)
            col = arr[rng.integers(0, len(arr), n)]
            col[0], col[1 % n] = arr[0], arr[-1]
            if is_numeric(vals):
                col = col.astype(np.float64)
        if p.when is not None:
            try:
                on = np.asarray(p.when.evaluate({**env, **cols}), dtype=bool)
                on = np.broadcast_to(on, (n,))
            except Exception as exc:  # e.g. "sparsity > 3" compares text with a number
                raise WhenFailed(p.name, exc) from exc
            fill: Any = None if col.dtype == object else np.nan
            col = np.where(on, col, fill)
        cols[p.name] = col
    return cols
