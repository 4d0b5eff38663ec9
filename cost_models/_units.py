"""Resource models of the hardware templates' building blocks ("units").

Each unit is a GEMV engine, systolic array, N:M-sparse GEMV or softmax as the RTL templates
in ``templates/`` build them. DSP blocks are counted structurally and exactly (packing
follows ``data/dsp_kinds.yaml``); LUTs and flip-flops are a linear function of a few
structural counts ("features": lanes, accumulator bits, mux inputs, ...) whose coefficients
per DSP kind live in ``data/units.yaml``. ``benchmarks/resource_model_vs_synth.py`` fits
those coefficients to real Yosys netlists and reports the error; a template's manifest says
which units predict it (its ``model`` section).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cost_models._errors import InputError, did_you_mean

Array = np.ndarray
_DATA = Path(__file__).parent / "data"
FITTED = ("lut", "ff")  # resources whose coefficients are fitted; DSPs are counted exactly


@dataclass(frozen=True)
class Unit:
    """A template building block: its parameters, linear features and exact DSP count."""

    name: str
    params: tuple[str, ...]
    features: Callable[[Mapping[str, Array], str], dict[str, Array]]
    dsp: Callable[[Mapping[str, Array], str, Mapping[str, float]], Array]
    doc: str


def _gemv_features(p: Mapping[str, Array], kind: str) -> dict[str, Array]:
    del kind  # the same structure on every fabric
    lanes = p["lanes"]
    return {
        "lanes": lanes,
        "lane_acc_bits": lanes * p["acc_bits"],  # accumulator + output register per lane
        "lane_w_bits": lanes * p["w_bits"],  # weight and product pipeline registers
        "fixed": np.ones_like(lanes),
    }


def _gemv_dsp(p: Mapping[str, Array], kind: str, macs_per_dsp: Mapping[str, float]) -> Array:
    # Lanes share the activation, so they pack in pairs where the DSP allows it.
    per = np.where(p["w_bits"] <= 4, macs_per_dsp["w4a8"], macs_per_dsp["w8a8"])
    pairs = p["lanes"] // 2
    return np.where(per >= 2, pairs, 2 * pairs) + p["lanes"] % 2


def _systolic_features(p: Mapping[str, Array], kind: str) -> dict[str, Array]:
    del kind  # the same structure on every fabric
    pes = p["mt"] * p["nt"]
    return {
        "pes": pes,
        "pe_acc_bits": pes * p["acc_bits"],
        # Operand skew at the borders: row i waits i cycles, column j waits j (8-bit words).
        "skew_bits": 4 * (p["mt"] * (p["mt"] - 1) + p["nt"] * (p["nt"] - 1)),
        "fixed": np.ones_like(pes),
    }


# Fabrics whose logic cells are 4-input LUTs (the rest are LUT6 fabrics).
_LUT4_KINDS = frozenset({"mult18x18d"})


def _sparse_features(p: Mapping[str, Array], kind: str) -> dict[str, Array]:
    kept = p["lanes"] * p["n"]
    # An M:1 mux of an 8-bit activation costs ceil((M-1)/3) LUT6 per bit (4:1 per LUT6 plus
    # the F7/F8 muxes; the term the engine model charges for sparse datapaths), or about M-1
    # LUT4 per bit on a LUT4 fabric.
    per_bit = p["m"] - 1 if kind in _LUT4_KINDS else np.ceil((p["m"] - 1) / 3)
    return {
        "multipliers": kept,
        "lane_acc_bits": p["lanes"] * p["acc_bits"],
        "mux_lut_bits": kept * 8 * per_bit,
        "tree_bits": p["lanes"] * (p["n"] - 1) * 16,  # adder tree over the N products
        "fixed": np.ones_like(kept),
    }


def _softmax_features(p: Mapping[str, Array], kind: str) -> dict[str, Array]:
    del kind  # the same structure on every fabric
    xbits, maxlen = p["in_bits"], p["max_len"]
    return {
        "in_bits": xbits,
        "addr_bits": np.log2(maxlen),  # counters and index comparators
        "buffer_words": maxlen,  # the vector buffers (scores and exponentials)
        "fixed": np.ones_like(xbits),
    }


# Multiplier blocks of the softmax: log2(e) scaling, exp2 interpolation, the reciprocal and
# the normalising product. Fixed by the template, not by its size; the 48-bit product takes
# one more 18x18 block on ECP5 (counted in Yosys netlists of templates/softmax_fx).
_SOFTMAX_DSP = {"dsp48e2": 6, "dsp58": 6, "mult18x18d": 7}


def _softmax_dsp(p: Mapping[str, Array], kind: str, macs_per_dsp: Mapping[str, float]) -> Array:
    del macs_per_dsp
    return _SOFTMAX_DSP[kind] + 0 * p["in_bits"]


UNITS: dict[str, Unit] = {
    "gemv": Unit(
        "gemv",
        ("lanes", "w_bits", "acc_bits"),
        _gemv_features,
        _gemv_dsp,
        "LANES MAC lanes, int8 activation broadcast, int4/int8 weights (templates/gemv_int)",
    ),
    "systolic": Unit(
        "systolic",
        ("mt", "nt", "acc_bits"),
        _systolic_features,
        lambda p, *_: p["mt"] * p["nt"],
        "output-stationary MT x NT int8 array, one DSP per PE (templates/systolic_gemm)",
    ),
    "nm_sparse_gemv": Unit(
        "nm_sparse_gemv",
        ("lanes", "n", "m", "acc_bits"),
        _sparse_features,
        lambda p, *_: p["lanes"] * p["n"],
        "N:M-sparse GEMV: N multipliers per lane behind M:1 muxes (templates/gemv_nm_sparse)",
    ),
    "softmax": Unit(
        "softmax",
        ("in_bits", "max_len"),
        _softmax_features,
        _softmax_dsp,
        "fixed-point softmax over up to MAX_LEN scores (templates/softmax_fx)",
    ),
}


@cache
def unit_coefficients() -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``data/units.yaml``: dsp kind -> unit -> resource -> feature -> coefficient."""
    path = _DATA / "units.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k != "version"}


@cache
def _dsp_kinds() -> dict[str, object]:
    return dict(yaml.safe_load((_DATA / "dsp_kinds.yaml").read_text(encoding="utf-8")))


def _dsp_table(dsp_kind: str) -> Mapping[str, float]:
    kinds: dict[str, Any] = _dsp_kinds()
    if dsp_kind not in kinds or dsp_kind == "version":
        known = [k for k in kinds if k != "version"]
        raise InputError("dsp kind", dsp_kind, f"one of {known}", did_you_mean(dsp_kind, known))
    return dict(kinds[dsp_kind]["macs_per_dsp"])


def unit_features(unit: str, params: Mapping[str, object], dsp_kind: str) -> dict[str, Array]:
    """The linear features of ``unit`` at ``params`` (scalars or equal-length arrays)."""
    spec = _unit(unit)
    return spec.features(_arrays(spec, params), dsp_kind)


def unit_resources(
    unit: str,
    params: Mapping[str, object],
    dsp_kind: str,
    coefficients: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Array]:
    """Predicted ``lut``, ``ff``, ``dsp``, ``bram36`` of one unit, vectorised over ``params``.

    ``coefficients`` (resource -> feature -> value) overrides ``data/units.yaml``; the fit in
    ``benchmarks/resource_model_vs_synth.py`` uses it.
    """
    spec = _unit(unit)
    table = _dsp_table(dsp_kind)  # validates the kind first
    p = _arrays(spec, params)
    feats = spec.features(p, dsp_kind)
    if coefficients is None:
        fitted = unit_coefficients().get(dsp_kind, {})
        if unit not in fitted:
            raise InputError(
                "units.yaml",
                f"{dsp_kind}.{unit}",
                "fitted coefficients (run benchmarks/resource_model_vs_synth.py --write)",
            )
        coefficients = fitted[unit]
    zero = np.zeros_like(next(iter(p.values())))
    out = {
        r: sum((coefficients[r].get(f, 0.0) * v for f, v in feats.items()), zero) for r in FITTED
    }
    out["dsp"] = spec.dsp(p, dsp_kind, table).astype(float)
    out["bram36"] = 0.0 * out["dsp"]  # the units keep their buffers in registers / LUT RAM
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def _unit(name: str) -> Unit:
    if name not in UNITS:
        raise InputError("unit", name, f"one of {sorted(UNITS)}", did_you_mean(name, UNITS))
    return UNITS[name]


def _arrays(spec: Unit, params: Mapping[str, object]) -> dict[str, Array]:
    missing = [k for k in spec.params if k not in params]
    if missing:
        raise InputError("unit parameters", f"{spec.name}.{missing[0]}", "a value")
    return {k: np.atleast_1d(np.asarray(params[k], dtype=float)) for k in spec.params}
