"""A tiny transformer of a ``ModelShape``: seeded random float weights and a float forward.

Family from the shape: ``ffn == "gelu"`` is GPT-2 style (LayerNorm, GELU MLP, learned
positions); ``ffn == "swiglu"`` is LLaMA/Qwen2/Mistral/ChatGLM style (RMSNorm, SwiGLU, RoPE);
``n_kv_heads`` < ``n_heads`` is GQA (1 = MQA); ``causal`` False with GELU is a BERT-style
encoder (``encode_float``: bidirectional, post-LN, one pass). Matrices are stored
``[out][in]``; there are no biases (LayerNorm's beta is the only additive parameter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cost_models import ModelShape

SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def is_gpt(shape: ModelShape) -> bool:
    return shape.ffn == "gelu"


def layer_mats(shape: ModelShape) -> list[str]:
    """Matrix names of one layer, in program order."""
    ffn = ["w_up", "w_down"] if is_gpt(shape) else ["w_gate", "w_up", "w_down"]
    return ["wq", "wk", "wv", "wo", *ffn]


@dataclass
class FloatModel:
    shape: ModelShape
    max_pos: int
    emb: np.ndarray
    pos: np.ndarray | None  # learned positions (GPT-2 family)
    layers: list[dict[str, np.ndarray]]
    norm_f: tuple[np.ndarray, np.ndarray]
    lm: np.ndarray
    rope_cos: np.ndarray | None = None
    rope_sin: np.ndarray | None = None
    trace: dict[str, float] = field(default_factory=dict)

    def record(self, name: str, x: np.ndarray) -> None:
        self.trace[name] = max(self.trace.get(name, 0.0), float(np.max(np.abs(x))))


def make_float_model(shape: ModelShape, seed: int = 0, max_pos: int = 64) -> FloatModel:
    """Random weights scaled like a trained model's (unit-variance activations)."""
    if shape.head_dim % 2:
        raise ValueError(f"head_dim must be even (RoPE pairs), got {shape.head_dim}")
    rng = np.random.default_rng(seed)
    d = shape.d_model

    def mat(n: int, k: int) -> np.ndarray:
        return rng.standard_normal((n, k)) / np.sqrt(k)

    layers = []
    for _ in range(shape.n_layers):
        lw = {
            "wq": mat(shape.d_q, d),
            "wk": mat(shape.d_kv, d),
            "wv": mat(shape.d_kv, d),
            "wo": mat(d, shape.d_q),
            "w_up": mat(shape.d_ffn, d),
            "w_down": mat(d, shape.d_ffn),
            "n1_g": 1.0 + 0.1 * rng.standard_normal(d),
            "n1_b": 0.1 * rng.standard_normal(d) if is_gpt(shape) else np.zeros(d),
            "n2_g": 1.0 + 0.1 * rng.standard_normal(d),
            "n2_b": 0.1 * rng.standard_normal(d) if is_gpt(shape) else np.zeros(d),
        }
        if not is_gpt(shape):
            lw["w_gate"] = mat(shape.d_ffn, d)
        layers.append(lw)
    fm = FloatModel(
        shape=shape,
        max_pos=max_pos,
        emb=0.5 * rng.standard_normal((shape.vocab, d)),
        pos=0.3 * rng.standard_normal((max_pos, d)) if is_gpt(shape) else None,
        layers=layers,
        norm_f=(1.0 + 0.1 * rng.standard_normal(d), np.zeros(d)),
        lm=mat(shape.vocab, d) * 4.0,
    )
    if not is_gpt(shape):
        half = shape.head_dim // 2
        inv = 10000.0 ** (-np.arange(half) * 2.0 / shape.head_dim)
        ang = np.arange(max_pos)[:, None] * inv[None, :]
        fm.rope_cos, fm.rope_sin = np.cos(ang), np.sin(ang)
    return fm


def _norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, ln: bool) -> np.ndarray:
    if ln:
        x = x - x.mean()
    return x / np.sqrt((x * x).mean() + 1e-6) * g + b


def _rope(x: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    h = x.size // 2
    a, b = x[:h], x[h:]
    return np.concatenate([a * c - b * s, b * c + a * s])


def forward_token(
    fm: FloatModel, tok: int, pos: int, cache: list[dict[str, list]], record: bool = False
) -> np.ndarray:
    """Logits of one token at ``pos``; appends its K, V to ``cache`` (one dict per layer)."""
    m = fm.shape
    rec: Callable[[str, np.ndarray], None] = fm.record if record else (lambda n, x: None)
    ln = is_gpt(m)
    x = fm.emb[tok] + (fm.pos[pos] if fm.pos is not None else 0.0)
    rec("x", x)
    hd, group = m.head_dim, m.n_heads // m.n_kv_heads
    for li, lw in enumerate(fm.layers):
        p = f"l{li}."
        h = _norm(x, lw["n1_g"], lw["n1_b"], ln)
        rec(p + "h1", h)
        q, k, v = lw["wq"] @ h, lw["wk"] @ h, lw["wv"] @ h
        for name, t in (("q", q), ("k", k), ("v", v)):
            rec(p + name, t)
        if fm.rope_cos is not None and fm.rope_sin is not None:
            c, s = fm.rope_cos[pos], fm.rope_sin[pos]
            q = np.concatenate([_rope(q[i * hd : (i + 1) * hd], c, s) for i in range(m.n_heads)])
            k = np.concatenate([_rope(k[i * hd : (i + 1) * hd], c, s) for i in range(m.n_kv_heads)])
        rec(p + "q", q)
        rec(p + "k", k)
        cache[li].setdefault("k", []).append(k)
        cache[li].setdefault("v", []).append(v)
        kk, vv = np.array(cache[li]["k"]), np.array(cache[li]["v"])
        ctx = np.zeros(m.d_q)
        for hh in range(m.n_heads):
            kvh = hh // group
            qs = q[hh * hd : (hh + 1) * hd]
            sc = kk[:, kvh * hd : (kvh + 1) * hd] @ qs / np.sqrt(hd)
            rec(p + "score", sc)
            e = np.exp(sc - sc.max())
            pr = e / e.sum()
            ctx[hh * hd : (hh + 1) * hd] = pr @ vv[:, kvh * hd : (kvh + 1) * hd]
        rec(p + "ctx", ctx)
        x = x + lw["wo"] @ ctx
        rec("x", x)
        h = _norm(x, lw["n2_g"], lw["n2_b"], ln)
        rec(p + "h2", h)
        up = lw["w_up"] @ h
        rec(p + "up", up)
        if ln:
            a = gelu(up)
            rec(p + "act", a)
        else:
            gate = lw["w_gate"] @ h
            rec(p + "gate", gate)
            sg = silu(gate)
            rec(p + "act", sg)
            a = sg * up
        rec(p + "mid", a)
        x = x + lw["w_down"] @ a
        rec("x", x)
    h = _norm(x, fm.norm_f[0], fm.norm_f[1], ln)
    rec("hf", h)
    return fm.lm @ h


def generate_float(
    fm: FloatModel,
    prompt: list[int],
    n_new: int,
    record: bool = False,
    forced: list[int] | None = None,
) -> tuple[list[int], list[np.ndarray]]:
    """Greedy tokens after the prompt and the logits that chose each one; with ``forced``
    the model is fed those tokens instead of its own (teacher forcing, for comparisons)."""
    cache: list[dict[str, list]] = [{} for _ in fm.layers]
    logits = np.zeros(fm.shape.vocab)
    for pos, tok in enumerate(prompt):
        logits = forward_token(fm, tok, pos, cache, record)
    out, all_logits = [], []
    for i in range(n_new):
        all_logits.append(logits)
        nxt = int(np.argmax(logits)) if forced is None else forced[i]
        out.append(nxt)
        if i + 1 < n_new:
            logits = forward_token(fm, nxt, len(prompt) + i, cache, record)
    return out, all_logits


ENCODER_HEAD_TOKEN = 0  # an encoder's head reads the first ([CLS]) token's hidden state


def encode_float(fm: FloatModel, toks: list[int], record: bool = False) -> np.ndarray:
    """BERT-style encoder (``shape.causal`` False): one bidirectional pass over ``toks``.

    Post-LayerNorm layers: ``x = LN1(x + Wo·attn(x))``, ``x = LN2(x + W_down·GELU(W_up·x))``,
    every token attending to every token; learned positions, no KV cache growth. Returns
    the logits of the head on token ``ENCODER_HEAD_TOKEN``: the final norm (``norm_f``)
    and the vocab projection (``lm``) — BERT's MLM head without its dense + GELU transform.
    Traces ``h1`` / ``h2`` are the layer input and the LN1 output (the GEMVs' inputs).
    """
    m = fm.shape
    rec: Callable[[str, np.ndarray], None] = fm.record if record else (lambda n, x: None)
    n = len(toks)
    pos = fm.pos[:n] if fm.pos is not None else 0.0
    x = fm.emb[np.asarray(toks)] + pos
    rec("x", x)
    hd, group = m.head_dim, m.n_heads // m.n_kv_heads
    for li, lw in enumerate(fm.layers):
        p = f"l{li}."
        rec(p + "h1", x)
        q, k, v = x @ lw["wq"].T, x @ lw["wk"].T, x @ lw["wv"].T
        for name, t in (("q", q), ("k", k), ("v", v)):
            rec(p + name, t)
        ctx = np.zeros((n, m.d_q))
        for hh in range(m.n_heads):
            kvh = hh // group
            kk, vv = k[:, kvh * hd : (kvh + 1) * hd], v[:, kvh * hd : (kvh + 1) * hd]
            sc = q[:, hh * hd : (hh + 1) * hd] @ kk.T / np.sqrt(hd)  # no mask: bidirectional
            rec(p + "score", sc)
            e = np.exp(sc - sc.max(axis=1, keepdims=True))
            ctx[:, hh * hd : (hh + 1) * hd] = (e / e.sum(axis=1, keepdims=True)) @ vv
        rec(p + "ctx", ctx)
        x = x + ctx @ lw["wo"].T
        rec("x", x)
        x = np.stack([_norm(r, lw["n1_g"], lw["n1_b"], True) for r in x])
        rec("x", x)
        rec(p + "h2", x)
        up = x @ lw["w_up"].T
        rec(p + "up", up)
        a = gelu(up)
        rec(p + "act", a)
        rec(p + "mid", a)
        x = x + a @ lw["w_down"].T
        rec("x", x)
        x = np.stack([_norm(r, lw["n2_g"], lw["n2_b"], True) for r in x])
        rec("x", x)
    h = _norm(x[ENCODER_HEAD_TOKEN], fm.norm_f[0], fm.norm_f[1], True)
    rec("hf", h)
    return fm.lm @ h
