"""Checking and normalising design points against their parameters' specs.

A batch of points is a DataFrame, a list of mappings or a dict of equal-length arrays.
:func:`normalise` turns any of them into a dict of numpy arrays (categoricals as integer
codes), fills defaults and rejects unknown names and out-of-range values;
:func:`check_written` checks values a person wrote before that. The parameters themselves
are defined in ``_points``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cost_models._errors import InputError, did_you_mean
from cost_models._points import ARCH_DEFAULT_QUANT, QUANT_A_BITS, Param, param_specs


def check_written(point: Mapping[str, Any], specs: Mapping[str, Param], source: str) -> None:
    """Check values a person wrote (a config's ``design:``, ``dse build --point``) before
    :func:`normalise`, which also takes arrays, codes and NaN for "not set" and so would read
    ``.nan`` as the default, ``true`` as 1, ``'128'`` as 128 and a list as a batch.

    Each value must be one scalar of its parameter's own type: a finite number for numeric
    parameters (not a boolean, not a string), ``true``/``false`` for booleans and a string
    for categorical ones. Unknown names are left to :func:`normalise`.
    """
    for name, value in point.items():
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.kind == "cat":
            ok = isinstance(value, str)
        elif spec.kind == "bool":
            ok = isinstance(value, bool | np.bool_)
        else:
            ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                value, bool | np.bool_
            )
            # abs() first: float() of a 400-digit integer raises instead of giving inf
            ok = ok and abs(value) < 1e300 and math.isfinite(float(value))
        if not ok:
            raise InputError(source, name, f"expected {spec.expected()}, got {_plain(value)!r}")


def as_columns(points: Any) -> tuple[dict[str, Any], int]:
    if isinstance(points, pd.DataFrame):
        return {str(c): points[c].to_numpy() for c in points.columns}, len(points)
    if isinstance(points, Mapping):
        cols = dict(points)
        n = 1
        for v in cols.values():
            if isinstance(v, np.ndarray | pd.Series | Sequence) and not isinstance(v, str):
                n = max(n, len(v))
        return cols, n
    if isinstance(points, Sequence):
        frame = pd.DataFrame(list(points))
        return {str(c): frame[c].to_numpy() for c in frame.columns}, len(frame)
    raise InputError(
        "design point",
        "(points)",
        f"expected a mapping, a list of mappings or a DataFrame, got {type(points).__name__}",
    )


def normalise(
    points: Any, arch: str, platform: Any, source: str = "design point"
) -> tuple[dict[str, np.ndarray], int]:
    """Validate and fill a batch of design points; return ``(columns, n)``.

    Categorical parameters come back as ``int64`` codes into their ``choices``; booleans as
    ``bool``; everything else as ``float64``.
    """
    specs = param_specs(arch, platform)
    cols, n = as_columns(points)
    return normalise_columns(cols, n, specs, arch, source), n


def normalise_columns(
    cols: Mapping[str, Any],
    n: int,
    specs: Mapping[str, Param],
    arch: str,
    source: str = "design point",
) -> dict[str, np.ndarray]:
    """:func:`normalise` for columns already split out of the input (scalars broadcast)."""
    out = resolve_columns(cols, n, specs, arch, source)
    for k, v in out.items():
        kind = specs[k].kind if k in specs else "float"
        dtype = {"cat": np.int64, "bool": np.bool_}.get(kind, np.float64)
        out[k] = np.full(n, v, dtype=dtype) if np.ndim(v) == 0 else v.astype(dtype, copy=False)
    return out


def resolve_columns(
    cols: Mapping[str, Any],
    n: int,
    specs: Mapping[str, Param],
    arch: str,
    source: str = "design point",
) -> dict[str, Any]:
    """Validate and fill like :func:`normalise_columns`, but keep a parameter that has one
    value for every point (a default or a scalar) as a numpy scalar instead of an array,
    categorical codes in the smallest integer type and integer arrays as given.

    The models broadcast, so a uniform parameter costs nothing per point; checking it once
    instead of n times is most of what makes scoring a million points cheap. Callers
    convert integer arrays to float64 chunk by chunk (see ``evaluate``).
    """
    for key in cols:
        if key not in specs:
            raise InputError(
                source,
                key,
                f"unknown {arch} design parameter; expected one of {', '.join(sorted(specs))}",
                did_you_mean(key, specs),
            )
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        default = ARCH_DEFAULT_QUANT[arch] if name == "quant" else spec.default
        raw = cols.get(name, default)
        if raw is None:
            continue  # kv_bits: derived from the activation precision below
        arr = raw if isinstance(raw, np.ndarray) else np.asarray(raw)
        if arr.ndim == 0:
            if (arr.dtype == object or arr.dtype.kind == "f") and pd.isna(arr.item()):
                if name == "kv_bits":
                    continue
                arr = np.asarray(default)
            value = _check(spec, arr.reshape(1), source)[0]
            out[name] = np.float64(value) if spec.kind in ("int", "float") else value
            continue
        if len(arr) != n:
            raise InputError(
                source, name, f"expected {n} values like the other columns, got {len(arr)}"
            )
        if arr.dtype == object or (arr.dtype.kind == "f" and not _all_finite(arr)):
            # Rows that leave a parameter out (NaN/None in a frame of dicts) take its default.
            missing = pd.isna(arr)
            if missing.any():
                if name == "kv_bits":
                    fill = np.broadcast_to(QUANT_A_BITS[out["quant"]], arr.shape)
                    arr = np.where(missing, fill, arr).astype(np.float64)
                else:
                    arr = arr.astype(object)
                    arr[missing] = default
                    arr = np.array(arr.tolist())
        out[name] = _check(spec, arr, source)
    if "kv_bits" not in out:
        out["kv_bits"] = QUANT_A_BITS[out["quant"]]
    return out


def _all_finite(arr: np.ndarray) -> bool:
    # min/max are single passes that propagate NaN; far cheaper than isfinite + any.
    return bool(np.isfinite(arr.min()) and np.isfinite(arr.max())) if len(arr) else True


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar, so messages read ``'int3'`` not ``np.str_('int3')``."""
    return value.item() if hasattr(value, "item") else value


def _check(spec: Param, arr: np.ndarray, source: str) -> np.ndarray:
    if spec.kind == "cat":
        if arr.dtype.kind in "iu":
            codes = arr.astype(np.int64, copy=False)
        elif arr.dtype.kind == "U":
            codes = _string_codes(arr, spec.choices)
        else:
            codes = np.full(arr.shape, -1, dtype=np.int64)
            for i, choice in enumerate(spec.choices):
                codes[arr == choice] = i
        if len(codes) and (codes.min() < 0 or codes.max() >= len(spec.choices)):
            bad = (codes < 0) | (codes >= len(spec.choices))
            value = _plain(arr[np.argmax(bad)])
            raise InputError(
                source,
                spec.name,
                f"expected {spec.expected()}, got {value!r}",
                did_you_mean(str(value), spec.choices),
            )
        return codes
    if spec.kind == "bool":
        if arr.dtype == bool:
            return arr
        if arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all():
            return arr.astype(bool)
        raise InputError(source, spec.name, f"expected true or false, got {_plain(arr[0])!r}")
    try:
        # Integer arrays stay integers (exact, and converted chunk by chunk later).
        values = arr if arr.dtype.kind in "iu" else arr.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise InputError(source, spec.name, f"expected {spec.expected()}, got {arr[0]!r}") from None
    if not len(values):
        return values
    # Range first as two reductions (NaN fails every comparison); only an offending batch
    # pays for the elementwise search that names the bad value.
    lo, hi = values.min(), values.max()
    ok = bool(np.isfinite(lo) and np.isfinite(hi))
    ok = ok and (spec.low is None or lo >= spec.low) and (spec.high is None or hi <= spec.high)
    if ok and spec.kind == "int" and arr.dtype.kind not in "iub":
        ok = bool(np.array_equal(values, np.round(values)))
    if not ok:
        values = values.astype(np.float64)
        bad = ~np.isfinite(values)
        if spec.low is not None:
            bad |= values < spec.low
        if spec.high is not None:
            bad |= values > spec.high
        if spec.kind == "int":
            bad |= values != np.round(values)
        raise InputError(
            source, spec.name, f"expected {spec.expected()}, got {_plain(arr[np.argmax(bad)])!r}"
        )
    return values


def _string_codes(arr: np.ndarray, choices: tuple[str, ...]) -> np.ndarray:
    """Codes of a numpy unicode array, ≈5× cheaper than comparing strings per choice.

    Each string (ASCII, at most 8 characters — true of every choice) is packed into a
    uint64 key; a multiplicative hash of the key indexes a small table of choice codes, and
    comparing the key with that choice's key makes the match exact. Anything else takes
    the string path.
    """
    width = arr.dtype.itemsize // 4
    if not len(arr) or max(map(len, choices)) > 8:
        return _string_codes_slow(arr, choices)
    chars = np.ascontiguousarray(arr).view(np.uint32).reshape(len(arr), width)
    if chars.max() >= 128:
        return _string_codes_slow(arr, choices)
    mult, shift, table, choice_keys = _choice_hash(choices)
    codes = np.empty(len(arr), dtype=np.int8)
    step = 16384  # blocks whose packed keys stay in cache
    packed = np.zeros((min(step, len(arr)), 8), dtype=np.uint8)
    for lo in range(0, len(arr), step):
        block = chars[lo : lo + step]
        m = len(block)
        packed[:m, : min(width, 8)] = block[:, :8]
        keys = packed[:m].view(np.uint64).ravel()
        c = table[((keys * mult) >> shift).astype(np.intp)]
        codes[lo : lo + m] = np.where(choice_keys[c] == keys, c, -1)
    if width > 8:  # longer strings share their first 8 characters with no choice
        codes[chars[:, 8:].any(axis=1)] = -1
    return codes


@functools.cache
def _choice_hash(choices: tuple[str, ...]) -> tuple[np.uint64, np.uint64, np.ndarray, np.ndarray]:
    """A multiplier and table size under which the choices' keys land in distinct slots;
    slot -> code, and code -> key (with a last entry matching no key, for empty slots)."""
    keys = np.array(
        [np.frombuffer(c.encode().ljust(8, b"\0"), dtype=np.uint64)[0] for c in choices]
    )
    for mult in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB):
        for bits in range(max(1, len(choices).bit_length()), 12):
            slots = ((keys * np.uint64(mult)) >> np.uint64(64 - bits)).astype(np.intp)
            if len(set(slots.tolist())) == len(keys):
                table = np.full(1 << bits, len(keys), dtype=np.int64)
                table[slots] = np.arange(len(keys))
                sentinel = np.append(keys, ~np.uint64(0))  # no ASCII key is all ones
                return np.uint64(mult), np.uint64(64 - bits), table, sentinel
    raise AssertionError(f"no collision-free hash for {choices}")  # pragma: no cover


def _string_codes_slow(arr: np.ndarray, choices: tuple[str, ...]) -> np.ndarray:
    codes = np.full(arr.shape, -1, dtype=np.int64)
    for i, choice in enumerate(choices):
        codes[arr == choice] = i
    return codes
