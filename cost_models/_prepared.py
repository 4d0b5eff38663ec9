"""A cost model bound to one study, for callers that score many batches from value lists.

``evaluate`` validates and converts every column of every batch (strings to codes, range
checks, defaults) and builds a DataFrame with text columns; for a search that scores
millions of points drawn from a few known values per parameter that is half the time.
:class:`Prepared` validates each parameter's value list once, into a table of resolved
values (categorical codes, float64), so a batch is only integer indices into those tables;
:meth:`Prepared.score` runs exactly the arithmetic ``evaluate`` runs (``score_resolved``)
and returns plain numpy columns. Same inputs, same numbers, bit for bit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from cost_models._evaluate import _baseline, _resolve, score_resolved
from cost_models._platform_types import Gpu, Platform
from cost_models._point_columns import _check, resolve_columns
from cost_models._points import ARCH_DEFAULT_QUANT, QUANT_A_BITS, param_specs
from cost_models._workload import Workload


class Prepared:
    """``evaluate`` for one (workload, platform, arch, baseline, fixed design).

    ``tables`` maps each varying parameter to its values (design units); index ``i`` of a
    batch column means ``values[i]``, and ``-1`` means absent (the parameter's default, as
    ``evaluate`` fills a missing value). Raises ``InputError`` on a bad value, once, here.
    """

    def __init__(
        self,
        workload: Workload | str,
        platform: Platform | str,
        arch: str,
        baseline: Gpu | str | None,
        fixed: Mapping[str, Any],
        tables: Mapping[str, Sequence[Any]],
        source: str = "design point",
    ) -> None:
        self.wl, self.plat = _resolve(workload, platform)
        self.arch = arch
        self.specs = param_specs(arch, self.plat)
        self.gpu = None if baseline is None else _baseline(self.wl, baseline)
        self.source = source
        fixed_only = {k: v for k, v in fixed.items() if k not in tables}
        base = resolve_columns(fixed_only, 1, self.specs, arch, source)
        # kv_bits follows the activation precision when nobody sets it (resolve_columns).
        self.kv_from_quant = "kv_bits" not in fixed_only and "kv_bits" not in tables
        if self.kv_from_quant:
            base.pop("kv_bits", None)
        self.base = {k: v for k, v in base.items() if k not in tables}
        self.tables = {name: self._table(name, values) for name, values in tables.items()}

    def _table(self, name: str, values: Sequence[Any]) -> np.ndarray:
        spec = self.specs[name]
        arr = np.asarray(list(values), dtype=object)
        if spec.kind != "cat":
            arr = np.asarray(arr.tolist())
        got = self.resolve(name, arr) if len(arr) else np.empty(0)
        if name == "kv_bits":
            absent: Any = np.nan  # filled per row from quant, as resolve_columns does
        else:
            default = ARCH_DEFAULT_QUANT[self.arch] if name == "quant" else spec.default
            absent = self.resolve(name, np.asarray([default]))[0]
        return np.append(got, absent).astype(got.dtype if len(got) else type(absent))

    def resolve(self, name: str, values: np.ndarray) -> np.ndarray:
        """Validate design-unit values of one parameter (a derived column, say) into the
        form the model computes with."""
        got = _check(self.specs[name], values, self.source)
        kind = self.specs[name].kind
        return got.astype(np.intp if kind == "cat" else bool if kind == "bool" else np.float64)

    def gather(self, indices: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Resolved columns of a batch given as value indices per varying parameter."""
        return {name: self.tables[name].take(idx) for name, idx in indices.items()}

    def score(
        self,
        columns: Mapping[str, np.ndarray],
        n: int,
        need: Collection[str] | None = None,
        chunk: int | None = None,
    ) -> dict[str, np.ndarray]:
        """The model's numeric columns for ``n`` points: ``columns`` are resolved arrays
        (from :meth:`gather` / :meth:`resolve`) of the varying parameters; ``need``: only
        these columns (the model skips work none of them reads; same numbers); ``chunk``:
        points per model call (``score_resolved``)."""
        params: dict[str, Any] = {**self.base, **columns}
        quant = params["quant"]
        if self.kv_from_quant:
            params["kv_bits"] = QUANT_A_BITS[quant]
        elif "kv_bits" in columns:
            kv = params["kv_bits"]
            missing = np.isnan(kv)
            if missing.any():
                params["kv_bits"] = np.where(missing, QUANT_A_BITS[quant], kv)
        return score_resolved(
            params,
            n,
            self.wl,
            self.plat,
            self.arch,
            self.gpu,
            specs=self.specs,
            need=need,
            chunk=chunk,
        )
