"""Bit-exact integer reference of the overlay: quantisation and prefill/decode.

``quantise_model`` prunes (N:M), quantises weights per group to W4/W8 with 16-bit integer
group scales, dequantises them back into a float model (the float model of the same
weights), calibrates activation scales on that float model, and derives every requant
multiplier and lookup table. ``run_reference`` executes the arithmetic of docs/overlay.md
token by token — the hardware runs prefill token by token too, so prefill and decode share
one path. A BERT-style encoder (``causal`` False) runs ``encode``: one bidirectional,
post-LN pass over all tokens (the spatial family builds it; the overlay refuses encoders).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from overlay import arith
from overlay.model import (
    ENCODER_HEAD_TOKEN,
    FloatModel,
    encode_float,
    gelu,
    generate_float,
    is_gpt,
    layer_mats,
    silu,
)

MAT_CLASS = {
    "wq": "qk",
    "wk": "qk",
    "wv": "vo",
    "wo": "vo",
    "w_gate": "ffn",
    "w_up": "ffn",
    "w_down": "ffn",
}
SCALE_BITS = 16  # group scales are unsigned 15-bit integers in a 16-bit field


@dataclass(frozen=True)
class QuantSpec:
    """Weight format: bits, group size (0: one group per row), pruning per class."""

    w_bits: int = 8
    group: int = 0
    prune: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # cls -> (N, M)


@dataclass
class QMat:
    """An integer matrix: w[n][k] (pruned zeros kept), scales s[n][g], real = w*s*base."""

    w: np.ndarray
    s: np.ndarray
    base: float
    group: int

    def matvec(self, x: np.ndarray) -> np.ndarray:
        n, k = self.w.shape
        ng = k // self.group
        part = (self.w * x[None, :].astype(np.int64)).reshape(n, ng, self.group).sum(axis=2)
        return (part * self.s).sum(axis=1)


@dataclass
class QuantModel:
    fm: FloatModel  # float model of the dequantised weights
    spec: QuantSpec
    scales: dict[str, float]
    emb: np.ndarray
    pos: np.ndarray | None
    layers: list[dict[str, QMat]]
    norms: list[dict[str, tuple[np.ndarray, np.ndarray, int, int]]]
    rq: list[dict[str, tuple[int, int]]]
    luts: list[dict[str, np.ndarray]]
    norm_f: tuple[np.ndarray, np.ndarray, int, int]
    lm: QMat
    rope_cos: np.ndarray | None = None
    rope_sin: np.ndarray | None = None

    @property
    def shape(self):
        return self.fm.shape


def prune(w: np.ndarray, nm: tuple[int, int] | None) -> np.ndarray:
    """Keep the N largest-magnitude weights of every M consecutive ones along a row."""
    if nm is None:
        return w
    n, m = nm
    rows, k = w.shape
    g = w.reshape(rows, k // m, m)
    order = np.argsort(-np.abs(g), axis=2, kind="stable")
    keep = np.zeros_like(g, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return np.where(keep, g, 0.0).reshape(rows, k)


def quantise_matrix(w: np.ndarray, bits: int, group: int) -> QMat:
    rows, k = w.shape
    g = group or k
    if k % g:
        raise ValueError(f"quant_group {g} does not divide the reduction length {k}")
    qmax = (1 << (bits - 1)) - 1
    amax = np.abs(w.reshape(rows, k // g, g)).max(axis=2)
    f = np.where(amax > 0, amax / qmax, 1e-12)
    base = float(f.max()) / ((1 << (SCALE_BITS - 1)) - 1)
    s = np.maximum(1, np.round(f / base)).astype(np.int64)
    eff = np.repeat(s * base, g, axis=1)
    wi = np.clip(np.round(w / eff), -qmax - 1, qmax).astype(np.int64)
    return QMat(wi, s, base, g)


def dequant(q: QMat) -> np.ndarray:
    return q.w * np.repeat(q.s, q.group, axis=1) * q.base


def _q8(x: np.ndarray, s: float) -> np.ndarray:
    return arith.sat8(np.round(np.asarray(x) / s))


def quantise_model(fm0: FloatModel, spec: QuantSpec, calib: list[int]) -> QuantModel:
    """Quantise ``fm0`` to ``spec``; activation scales from the float run of ``calib``."""
    m = fm0.shape
    fm = copy.deepcopy(fm0)
    fm.trace = {}
    layers: list[dict[str, QMat]] = []
    for lw in fm.layers:
        qd = {}
        for name in layer_mats(m):
            q = quantise_matrix(
                prune(lw[name], spec.prune.get(MAT_CLASS[name])), spec.w_bits, spec.group
            )
            lw[name] = dequant(q)
            qd[name] = q
        layers.append(qd)
    lm = quantise_matrix(fm.lm, spec.w_bits, spec.group)
    fm.lm = dequant(lm)
    # Norm gains are int8 (their own scale): dequantise them before calibrating.
    g_scale: dict[str, float] = {}
    for li, lw in enumerate(fm.layers):
        for nm in ("n1", "n2"):
            s = float(np.abs(lw[nm + "_g"]).max()) / 127
            g_scale[f"l{li}.{nm}"] = s
            lw[nm + "_g"] = _q8(lw[nm + "_g"], s) * s
    sf = float(np.abs(fm.norm_f[0]).max()) / 127
    fm.norm_f = (_q8(fm.norm_f[0], sf) * sf, fm.norm_f[1])
    if m.causal:
        generate_float(fm, calib, 4, record=True)
    else:
        encode_float(fm, calib, record=True)
    sc = {k: max(v, 1e-6) / 127 for k, v in fm.trace.items()}
    s_x = sc["x"]
    if not m.causal:  # post-LN: the norms write the residual stream, which feeds the GEMVs
        for li in range(m.n_layers):
            sc[f"l{li}.h1"] = sc[f"l{li}.h2"] = s_x
    emb = _q8(fm.emb, s_x)
    fm.emb = emb * s_x
    pos = None
    if fm.pos is not None:
        pos = _q8(fm.pos, s_x)
        fm.pos = pos * s_x
    gpt = is_gpt(m)
    norms, rqs, luts = [], [], []
    for li, lw in enumerate(fm.layers):
        p = f"l{li}."
        nd = {}
        for nm, out in (("n1", "h1"), ("n2", "h2")):
            s_g = g_scale[p + nm]
            s_y = sc[p + out]
            mm, sh = arith.requant_params(s_g / (2**arith.NORM_Z_BITS * s_y))
            nd[nm] = (_q8(lw[nm + "_g"], s_g), _q8(lw[nm + "_b"], s_y), mm, sh)
        norms.append(nd)
        lq = layers[li]
        rp = arith.requant_params
        r = {
            "wq": rp(lq["wq"].base * sc[p + "h1"] / sc[p + "q"]),
            "wk": rp(lq["wk"].base * sc[p + "h1"] / sc[p + "k"]),
            "wv": rp(lq["wv"].base * sc[p + "h1"] / sc[p + "v"]),
            "score": rp(sc[p + "q"] * sc[p + "k"] / (np.sqrt(m.head_dim) * sc[p + "score"])),
            "ctx": rp(sc[p + "v"] / (2**arith.P_BITS * sc[p + "ctx"])),
            "wo": rp(lq["wo"].base * sc[p + "ctx"] / s_x),
            "w_up": rp(lq["w_up"].base * sc[p + "h2"] / sc[p + "up"]),
        }
        lt = {"exp": arith.exp_lut(sc[p + "score"])}
        if gpt:
            r["w_down"] = rp(lq["w_down"].base * sc[p + "act"] / s_x)
            lt["act"] = arith.act_lut(gelu, sc[p + "up"], sc[p + "act"])
        else:
            r["w_gate"] = rp(lq["w_gate"].base * sc[p + "h2"] / sc[p + "gate"])
            r["mid"] = rp(sc[p + "act"] * sc[p + "up"] / sc[p + "mid"])
            r["w_down"] = rp(lq["w_down"].base * sc[p + "mid"] / s_x)
            lt["act"] = arith.act_lut(silu, sc[p + "gate"], sc[p + "act"])
        rqs.append(r)
        luts.append(lt)
    mf, shf = arith.requant_params(sf / (2**arith.NORM_Z_BITS * sc["hf"]))
    norm_f = (_q8(fm.norm_f[0], sf), _q8(fm.norm_f[1], sc["hf"]), mf, shf)
    qm = QuantModel(fm, spec, sc, emb, pos, layers, norms, rqs, luts, norm_f, lm)
    if not gpt:
        c, s, _, _ = arith.rope_tables(fm.max_pos, m.head_dim)
        qm.rope_cos, qm.rope_sin = c, s
    return qm


def step(qm: QuantModel, tok: int, pos: int, kv: list[dict[str, list]], trace: dict | None = None):
    """One token through the integer model: returns the LM-head accumulators (int64)."""
    m = qm.shape
    gpt = is_gpt(m)
    hd, grp = m.head_dim, m.n_heads // m.n_kv_heads
    x = qm.emb[tok]
    if qm.pos is not None:
        x = arith.add8(x, qm.pos[pos])
    t = trace if trace is not None else {}
    t["x_in"] = x
    for li, q in enumerate(qm.layers):
        r, nd, lt = qm.rq[li], qm.norms[li], qm.luts[li]
        p = f"l{li}."
        h = arith.norm(x, *nd["n1"], ln=gpt)
        qv = arith.requant(q["wq"].matvec(h), *r["wq"])
        kvec = arith.requant(q["wk"].matvec(h), *r["wk"])
        vvec = arith.requant(q["wv"].matvec(h), *r["wv"])
        if qm.rope_cos is not None and qm.rope_sin is not None:
            c, s = qm.rope_cos[pos], qm.rope_sin[pos]
            qv = np.concatenate(
                [arith.rope(qv[i * hd : (i + 1) * hd], c, s) for i in range(m.n_heads)]
            )
            kvec = np.concatenate(
                [arith.rope(kvec[i * hd : (i + 1) * hd], c, s) for i in range(m.n_kv_heads)]
            )
        kv[li].setdefault("k", []).append(kvec)
        kv[li].setdefault("v", []).append(vvec)
        kk, vv = np.array(kv[li]["k"]), np.array(kv[li]["v"])
        ctx = np.zeros(m.d_q, dtype=np.int64)
        for hh in range(m.n_heads):
            g = hh // grp
            acc = kk[:, g * hd : (g + 1) * hd] @ qv[hh * hd : (hh + 1) * hd]
            pr = arith.softmax(arith.requant(acc, *r["score"]), lt["exp"])
            ctx[hh * hd : (hh + 1) * hd] = arith.requant(
                pr @ vv[:, g * hd : (g + 1) * hd], *r["ctx"]
            )
        o = arith.requant(q["wo"].matvec(ctx), *r["wo"])
        x = arith.add8(x, o)
        h2 = arith.norm(x, *nd["n2"], ln=gpt)
        up = arith.requant(q["w_up"].matvec(h2), *r["w_up"])
        if gpt:
            mid = arith.lut_apply(up, lt["act"])
        else:
            gate = arith.requant(q["w_gate"].matvec(h2), *r["w_gate"])
            mid = arith.mulq(arith.lut_apply(gate, lt["act"]), up, *r["mid"])
        down = arith.requant(q["w_down"].matvec(mid), *r["w_down"])
        x = arith.add8(x, down)
        t.update({p + "h1": h, p + "q": qv, p + "k": kvec, p + "v": vvec, p + "ctx": ctx})
        t.update({p + "h2": h2, p + "mid": mid, p + "x": x})
    hf = arith.norm(x, *qm.norm_f, ln=gpt)
    t["hf"] = hf
    return qm.lm.matvec(hf)


def encode(qm: QuantModel, toks: list[int], trace: dict | None = None) -> np.ndarray:
    """A BERT-style encoder's one bidirectional pass (``overlay.model.encode_float`` in
    integers): every layer over all tokens — q, k, v of all of them, then each token's
    attention over all (no mask), ``x = norm1(x + o)``, ``x = norm2(x + down)`` (post-LN);
    returns the head's accumulators (final norm, LM head) of token ``ENCODER_HEAD_TOKEN``."""
    m = qm.shape
    hd, grp = m.head_dim, m.n_heads // m.n_kv_heads
    x = np.array([qm.emb[t] for t in toks])
    if qm.pos is not None:
        x = arith.add8(x, qm.pos[: len(toks)])
    t = trace if trace is not None else {}
    t["x_in"] = x
    for li, q in enumerate(qm.layers):
        r, nd, lt = qm.rq[li], qm.norms[li], qm.luts[li]
        qv = np.array([arith.requant(q["wq"].matvec(v), *r["wq"]) for v in x])
        kk = np.array([arith.requant(q["wk"].matvec(v), *r["wk"]) for v in x])
        vv = np.array([arith.requant(q["wv"].matvec(v), *r["wv"]) for v in x])
        ctx = np.zeros((len(toks), m.d_q), dtype=np.int64)
        for i in range(len(toks)):
            for hh in range(m.n_heads):
                g = hh // grp
                acc = kk[:, g * hd : (g + 1) * hd] @ qv[i, hh * hd : (hh + 1) * hd]
                pr = arith.softmax(arith.requant(acc, *r["score"]), lt["exp"])
                ctx[i, hh * hd : (hh + 1) * hd] = arith.requant(
                    pr @ vv[:, g * hd : (g + 1) * hd], *r["ctx"]
                )
        o = np.array([arith.requant(q["wo"].matvec(c), *r["wo"]) for c in ctx])
        x = np.array([arith.norm(v, *nd["n1"], ln=True) for v in arith.add8(x, o)])
        up = np.array([arith.requant(q["w_up"].matvec(v), *r["w_up"]) for v in x])
        mid = arith.lut_apply(up, lt["act"])
        down = np.array([arith.requant(q["w_down"].matvec(v), *r["w_down"]) for v in mid])
        x = np.array([arith.norm(v, *nd["n2"], ln=True) for v in arith.add8(x, down)])
        t.update({f"l{li}.q": qv, f"l{li}.ctx": ctx, f"l{li}.x": x})
    hf = arith.norm(x[ENCODER_HEAD_TOKEN], *qm.norm_f, ln=True)
    t["hf"] = hf
    return qm.lm.matvec(hf)


def run_reference(
    qm: QuantModel, prompt: list[int], n_new: int, traces: list[dict] | None = None
) -> tuple[list[int], list[np.ndarray]]:
    """Greedy tokens (argmax, lowest index on ties) and the LM-head accumulators of each.

    An encoder (``shape.causal`` False) runs one pass and generates nothing: ``n_new``
    must be 1, the result its head's argmax and accumulators (:func:`encode`)."""
    if not qm.shape.causal:
        if n_new != 1:
            raise ValueError(f"an encoder runs one pass: n_new must be 1, not {n_new}")
        tr: dict = {}
        enc = encode(qm, prompt, tr)
        if traces is not None:
            traces.append(tr)
        return [int(np.argmax(enc))], [enc]
    kv: list[dict[str, list]] = [{} for _ in qm.layers]
    acc = np.zeros(qm.shape.vocab, dtype=np.int64)
    seq = list(prompt)
    out, accs = [], []
    for i in range(len(prompt) + n_new - 1):
        t: dict = {}
        acc = step(qm, seq[i], i, kv, t)
        if traces is not None:
            traces.append(t)
        if i >= len(prompt) - 1:
            nxt = int(np.argmax(acc))
            out.append(nxt)
            accs.append(acc)
            seq.append(nxt)
    return out, accs


def logits_of(qm: QuantModel, acc: np.ndarray) -> np.ndarray:
    """Real-valued logits the integer accumulators stand for."""
    return acc * qm.lm.base * qm.scales["hf"]
