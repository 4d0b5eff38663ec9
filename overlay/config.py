"""What a temporal design point means to the overlay hardware, validated.

Every knob the overlay builds is read here; a knob out of what the hardware supports is
refused with :class:`OverlayError`, which names the key and what is supported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cost_models import ModelShape
from overlay.model import is_gpt
from overlay.reference import QuantSpec

SUPPORTED_QUANTS = {"w8a8": 8, "w4a8": 4}
PORT_BITS = (32, 64, 128, 256, 512)
NM_MS = (2, 4, 8, 16)
MAX_LANES = 64
MAX_PREFILL_TOKENS = 8  # token slots of the batched prefill (x buffer, accumulators)
MM_LANES = (1, 2, 4)  # token lanes of the MM mode (mm_t): slots a weight tile serves a cycle
CLASSES = ("qk", "vo", "ffn")


class OverlayError(ValueError):
    """A design point or shape the overlay cannot build: ``key`` and what is supported."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class OverlayConfig:
    quant: str
    w_bits: int
    group: int
    sparsity: str
    prune: dict[str, tuple[int, int] | None]  # pruning pattern per class
    stored_sparse: dict[str, bool]  # stored as N:M values + indices (else dense)
    mv_k: int
    mv_n: int
    mm_k: int
    mm_n: int
    unified_engine: bool
    prefill_tokens: int  # tokens that share one fetched weight tile in prefill (1: serial)
    mm_t: int  # token lanes: slots a fetched tile serves in one cycle (1 without an MM mode)
    sfu_lanes: int
    overlap: bool
    axi_port_bits: int
    hbm_ch: dict[str, int]
    freq_mhz: float

    @property
    def beat(self) -> int:
        return self.axi_port_bits // 8

    @property
    def separate(self) -> bool:
        """A separate MM engine is built (it runs the batched prefill's linear maps)."""
        return not self.unified_engine

    def quant_spec(self) -> QuantSpec:
        return QuantSpec(self.w_bits, self.group, dict(self.prune))


def _int(point: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = point.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not lo <= v <= hi:
        raise OverlayError(key, f"expected an integer in [{lo}, {hi}] for the overlay, got {v!r}")
    return int(v)


def _bool(point: Mapping[str, Any], key: str, default: bool) -> bool:
    v = point.get(key, default)
    if not isinstance(v, bool | int) or v not in (0, 1):
        raise OverlayError(key, f"expected true or false, got {v!r}")
    return bool(v)


def overlay_config(point: Mapping[str, Any]) -> OverlayConfig:
    """Read and check the overlay's knobs of a temporal design point (cost-model keys)."""
    quant = point.get("quant", "w4a8")
    if quant not in SUPPORTED_QUANTS:
        raise OverlayError(
            "quant",
            f"{quant!r} has no overlay hardware (activations are int8); "
            f"supported: {', '.join(SUPPORTED_QUANTS)}",
        )
    w_bits = SUPPORTED_QUANTS[str(quant)]
    kv_bits = point.get("kv_bits", 8)
    if kv_bits != 8:
        raise OverlayError("kv_bits", f"the overlay's KV cache is int8; got {kv_bits!r}")
    for key, want in (("tp", 1), ("pp", 1), ("cores", 1), ("attn_macs", 0)):
        if point.get(key, want) != want:
            raise OverlayError(key, f"the overlay builds {key} = {want} only, got {point[key]!r}")
    if point.get("group_ports", "group") != "group":
        raise OverlayError(
            "group_ports",
            "the overlay reads each tensor group through one AXI master (group only), "
            f"got {point['group_ports']!r}",
        )
    if not _bool(point, "act_onchip", True):
        raise OverlayError("act_onchip", "the overlay keeps activations on chip (true only)")
    group = _int(point, "quant_group", 128, 0, 1 << 16)
    sparsity = point.get("sparsity", "none")
    if sparsity not in ("none", "nm", "log"):
        raise OverlayError("sparsity", f"expected one of none, nm, log, got {sparsity!r}")
    nm_m = _int(point, "nm_m", 16, 2, 64)
    if sparsity == "nm" and nm_m not in NM_MS:
        raise OverlayError("nm_m", f"the N:M decoder supports M in {NM_MS}, got {nm_m}")
    prune: dict[str, tuple[int, int] | None] = {}
    stored: dict[str, bool] = {}
    scale_bits = 16.0 / group if group else 0.0
    for cls in CLASSES:
        key = f"density_{cls}"
        d = point.get(key, 1.0)
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0.01 <= d <= 1:
            raise OverlayError(key, f"expected a number in [0.01, 1], got {d!r}")
        nm: tuple[int, int] | None = None
        if sparsity == "nm":
            n = max(1, round(d * nm_m))
            nm = (n, nm_m) if n < nm_m else None
        elif sparsity == "log":
            e = -round(math.log2(d))
            nm = (2, 2 ** (e + 1)) if e > 0 else None
            if nm is not None and nm[1] > 16:
                raise OverlayError(
                    key,
                    f"log-scale density 2^-{e} needs blocks of {nm[1]}; "
                    "the decoder supports densities down to 1/8",
                )
        prune[cls] = nm
        if nm is None:
            stored[cls] = False
            continue
        idx = math.ceil(math.log2(nm[1]))
        # Same rule as the cost model: store sparse only where indices cost less than zeros.
        stored[cls] = nm[0] / nm[1] * (w_bits + idx) + scale_bits < w_bits + scale_bits
    port_bits = _int(point, "axi_port_bits", 128, 32, 1024)
    if port_bits not in PORT_BITS:
        raise OverlayError("axi_port_bits", f"expected one of {PORT_BITS}, got {port_bits}")
    lanes = {
        k: _int(point, k, dflt, 1, MAX_LANES)
        for k, dflt in (("mv_k", 16), ("mv_n", 16), ("sfu_lanes", 4))
    }
    # the MM shape defaults to the MV array's (the only one the unified engine builds)
    lanes["mm_k"] = _int(point, "mm_k", lanes["mv_k"], 1, 1 << 12)
    lanes["mm_n"] = _int(point, "mm_n", lanes["mv_n"], 1, 1 << 12)
    if lanes["mv_k"] * lanes["mv_n"] % 8:
        raise OverlayError("mv_k", "mv_k × mv_n must be a multiple of 8 (tiles are whole bytes)")
    unified = _bool(point, "unified_engine", True)
    hbm = {g: _int(point, f"hbm_ch_{g}", 1, 1, 64) for g in ("wqkv", "wo", "wffn", "kv", "act")}
    freq = point.get("freq_mhz", 200.0)
    if isinstance(freq, bool) or not isinstance(freq, int | float) or freq <= 0:
        raise OverlayError("freq_mhz", f"expected a positive number, got {freq!r}")
    prefill_tokens, mm_t = _prefill(point, lanes, unified)
    return OverlayConfig(
        quant=str(quant),
        w_bits=w_bits,
        group=group,
        sparsity=str(sparsity),
        prune=prune,
        stored_sparse=stored,
        mv_k=lanes["mv_k"],
        mv_n=lanes["mv_n"],
        mm_k=lanes["mm_k"],
        mm_n=lanes["mm_n"],
        unified_engine=unified,
        prefill_tokens=prefill_tokens,
        mm_t=mm_t,
        sfu_lanes=lanes["sfu_lanes"],
        overlap=_bool(point, "overlap", True),
        axi_port_bits=port_bits,
        hbm_ch=hbm,
        freq_mhz=float(freq),
    )


def _prefill(point: Mapping[str, Any], lanes: Mapping[str, int], unified: bool) -> tuple[int, int]:
    """(token slots, token lanes) of the prefill engine, after refusing the MM knobs it
    cannot build.

    Unified: one engine whose matrix-matrix mode is the MV array with ``mm_t`` token
    lanes: a fetched weight tile stays at the stream buffer's head and is applied to
    ``mm_t`` tokens of the prefill chunk a cycle (``tile_tokens`` tokens in all), so the MM
    array is ``mm_t × mv_k × mv_n``. Separate (``unified_engine: false``): the batched
    prefill's linear maps run on an ``mm_t × mm_k × mm_n`` engine of its own that reads a
    second, MM-tiled copy of every layer matrix; decode stays on the MV engine. With
    ``prefill_serial`` the prompt runs token by token and no MM mode is built, as the cost
    model's serial prefill uses none."""
    serial = _bool(point, "prefill_serial", False)
    mm_t = _int(point, "mm_t", 1, 1, 1 << 12)
    mv = (lanes["mv_k"], lanes["mv_n"])
    if not unified:
        if serial:
            raise OverlayError(
                "unified_engine",
                "a separate MM engine runs the batched prefill; with prefill_serial: true "
                "nothing would run on it (set unified_engine: true or prefill_serial: false)",
            )
        for key in ("mm_k", "mm_n"):
            if lanes[key] > MAX_LANES:
                raise OverlayError(
                    key, f"expected an integer in [1, {MAX_LANES}], got {lanes[key]}"
                )
        if lanes["mm_k"] * lanes["mm_n"] % 8:
            raise OverlayError(
                "mm_k", "mm_k × mm_n must be a multiple of 8 (tiles are whole bytes)"
            )
    if serial:
        # no MM mode is built or used: the cost model's serial prefill and batch-1 decode
        # run in MV mode too (only its unified MAC count, max(mm, mv), still reads mm_*)
        return 1, 1
    for key, want in (("mm_k", mv[0]), ("mm_n", mv[1])):
        if unified and lanes[key] != want:
            raise OverlayError(
                key,
                f"the unified engine's MM mode is the MV array: {key} must equal "
                f"{'mv_k' if key == 'mm_k' else 'mv_n'} = {want} (got {lanes[key]}); "
                "or set unified_engine: false or prefill_serial: true",
            )
    slots = _int(point, "tile_tokens", 4, 1, MAX_PREFILL_TOKENS)
    if mm_t not in MM_LANES or slots % mm_t:
        raise OverlayError(
            "mm_t",
            f"the overlay's MM mode builds mm_t in {MM_LANES} token lanes dividing "
            f"tile_tokens = {slots} (got {mm_t}); or set prefill_serial: true",
        )
    return slots, mm_t


def check_shape(shape: ModelShape, cfg: OverlayConfig, max_pos: int) -> None:
    """Refuse a shape the compiler cannot map (names the shape field)."""
    if not shape.causal:
        raise OverlayError("causal", "the overlay decodes causal models only (no encoders)")
    if shape.ffn not in ("gelu", "swiglu"):
        raise OverlayError("ffn", f"expected gelu or swiglu, got {shape.ffn!r}")
    if shape.n_heads % shape.n_kv_heads:
        raise OverlayError("n_kv_heads", f"must divide n_heads ({shape.n_heads})")
    if shape.head_dim % 2:
        raise OverlayError("head_dim", "must be even (RoPE pairs)")
    if shape.vocab >= 1 << 16:
        raise OverlayError("vocab", "the token register is 16 bits (vocab < 65536)")
    if not 2 <= max_pos <= 1024:
        raise OverlayError("max_positions", "the KV region holds 2..1024 positions")
    if not is_gpt(shape) and shape.head_dim < 2:
        raise OverlayError("head_dim", "RoPE needs head_dim >= 2")
    reds = {"d_model": shape.d_model, "d_q": shape.d_q, "d_ffn": shape.d_ffn}
    for name, k in reds.items():
        if cfg.group and k % cfg.group:
            raise OverlayError("quant_group", f"{cfg.group} must divide {name} = {k} (or be 0)")
        for cls, nm in cfg.prune.items():
            stored = cfg.group * nm[0] // nm[1] if nm and cfg.stored_sparse[cls] else cfg.group
            for lk, lv in (("mv_k", cfg.mv_k), ("mm_k", cfg.mm_k if cfg.separate else 1)):
                if cfg.group and stored % lv:
                    raise OverlayError(
                        "quant_group",
                        f"a group holds {stored} stored weights of class {cls}; "
                        f"it must be a multiple of {lk} = {lv}",
                    )
            if nm is not None and k % nm[1]:
                raise OverlayError(
                    f"density_{cls}", f"sparsity block {nm[1]} must divide {name} = {k}"
                )
