"""The shape of a transformer, as much of it as cost depends on.

Dense, grouped-query and multi-query attention, multi-head latent attention (DeepSeek-V2),
sliding-window and alternating local/global layers, mixture-of-experts FFNs with top-k
routing and shared experts, parallel attention + MLP blocks, fused QKV, learned / rotary /
ALiBi positions, tied or untied embeddings and a narrower embedding with projections
(OPT-350m). ``docs/models.md`` gives the equations; ``_hf.py`` reads them from config.json.
"""

from __future__ import annotations

from dataclasses import dataclass

FFN_KINDS = ("gelu", "swiglu")  # "swiglu": any gated FFN (SwiGLU, GeGLU): three matrices
POSITIONS = ("rope", "learned", "alibi")


@dataclass(frozen=True)
class ModelShape:
    """The shape fields of a transformer that cost depends on.

    ``head_dim * n_heads`` need not equal ``d_model`` (ChatGLM sets ``kv_channels``).
    ``n_kv_heads < n_heads`` is grouped-query attention (1 = multi-query). Every field after
    ``max_positions`` defaults to the plain dense decoder.

    - MoE: ``n_experts`` experts of width ``d_expert`` (``experts_per_token`` routed per
      token), ``n_shared_experts`` always-on experts of the same width, a router of
      ``d_model × n_experts``; the first ``dense_layers`` layers keep a dense FFN.
    - MLA: ``kv_lora_rank > 0``. The cache holds ``kv_lora_rank + rope_head_dim`` elements
      per token and layer; ``head_dim`` is the query/key head (nope + rope part),
      ``v_head_dim`` the value head; ``q_lora_rank > 0`` factors the query projection.
    - ``window > 0``: ``window_layers`` of the layers attend to the last ``window`` tokens.
    - ``max_positions == 0``: no limit (ALiBi extrapolates).
    """

    name: str
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ffn: int
    ffn: str  # "gelu": two matrices; "swiglu": gate, up and down
    vocab: int
    causal: bool = True
    max_positions: int = 2048
    n_experts: int = 0
    experts_per_token: int = 0
    d_expert: int = 0
    n_shared_experts: int = 0
    dense_layers: int = 0
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    rope_head_dim: int = 0
    v_head_dim: int = 0
    window: int = 0
    window_layers: int = 0
    parallel_block: bool = False
    fused_qkv: bool = False
    positions: str = "rope"
    tied_embeddings: bool = True
    d_embed: int = 0  # 0: d_model; else embeddings of this width with in/out projections
    learned_positions: int = 0  # rows of a learned position table (0: none)

    @property
    def d_q(self) -> int:
        """Width of the query projection output (all heads)."""
        return self.n_heads * self.head_dim

    @property
    def d_kv(self) -> int:
        """Width of the key (or value) projection output (all KV heads)."""
        return self.n_kv_heads * self.head_dim

    @property
    def ffn_matrices(self) -> int:
        return 3 if self.ffn == "swiglu" else 2

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def moe(self) -> bool:
        return self.n_experts > 0

    @property
    def embed_width(self) -> int:
        return self.d_embed or self.d_model

    # --- attention -----------------------------------------------------------------------
    @property
    def v_dim(self) -> int:
        """Width of one value head."""
        return self.v_head_dim or self.head_dim

    @property
    def attn_qk_width(self) -> int:
        """MACs per head and KV entry of the score product (MLA: in the latent space,
        the key up-projection absorbed into the query, as DeepSeek-V2 decodes)."""
        return self.kv_lora_rank + self.rope_head_dim if self.mla else self.head_dim

    @property
    def attn_sv_width(self) -> int:
        """MACs per head and KV entry of scores × values (MLA: over the latent)."""
        return self.kv_lora_rank if self.mla else self.head_dim

    @property
    def attn_macs_per_entry(self) -> int:
        """MACs per token, layer and KV entry of QKᵀ plus scores·V."""
        return self.n_heads * (self.attn_qk_width + self.attn_sv_width)

    @property
    def kv_width(self) -> int:
        """KV-cache elements per token and layer: K and V of every KV head, or (MLA) the
        compressed latent plus the decoupled rotary key shared by all heads."""
        return self.kv_lora_rank + self.rope_head_dim if self.mla else 2 * self.d_kv

    def kv_span(self, length: float) -> float:
        """KV entries one layer attends to on average when the context is ``length``:
        windowed layers see at most ``window`` of them."""
        if self.window <= 0 or length <= self.window:
            return float(length)
        wl = self.window_layers or self.n_layers
        return (wl * self.window + (self.n_layers - wl) * length) / self.n_layers

    # --- weights (elements, per layer) ----------------------------------------------------
    @property
    def w_q(self) -> int:
        d, h = self.d_model, self.n_heads
        if self.q_lora_rank:
            return d * self.q_lora_rank + self.q_lora_rank * h * self.head_dim
        return d * self.d_q

    @property
    def w_k(self) -> int:
        """Key side: K (or MLA's latent down-projection with the rotary key, and the key
        half of its up-projection)."""
        if self.mla:
            nope = self.head_dim - self.rope_head_dim
            return (
                self.d_model * (self.kv_lora_rank + self.rope_head_dim)
                + self.kv_lora_rank * self.n_heads * nope
            )
        return self.d_model * self.d_kv

    @property
    def w_v(self) -> int:
        if self.mla:
            return self.kv_lora_rank * self.n_heads * self.v_dim
        return self.d_model * self.d_kv

    @property
    def w_o(self) -> int:
        return self.n_heads * self.v_dim * self.d_model

    @property
    def w_attn(self) -> int:
        return self.w_q + self.w_k + self.w_v + self.w_o

    @property
    def moe_layers(self) -> int:
        return self.n_layers - self.dense_layers if self.moe else 0

    @property
    def w_expert(self) -> int:
        return self.ffn_matrices * self.d_model * self.d_expert

    @property
    def w_dense_ffn(self) -> int:
        return self.ffn_matrices * self.d_model * self.d_ffn

    def experts_touched(self, tokens: float) -> float:
        """Expected distinct routed experts a step of ``tokens`` tokens reads (uniform
        routing): ``E·(1 − (1 − k/E)^T)``; k for one token, all E for many."""
        e, k = self.n_experts, self.experts_per_token
        return e * (1.0 - (1.0 - k / e) ** tokens)

    def ffn_weights(self, experts: float | None = None) -> float:
        """FFN weights per layer (mean over layers) with ``experts`` routed experts per MoE
        layer: None = all of them (what is stored)."""
        if not self.moe:
            return float(self.w_dense_ffn)
        e = self.n_experts if experts is None else experts
        moe = (e + self.n_shared_experts) * self.w_expert + self.d_model * self.n_experts
        return (self.dense_layers * self.w_dense_ffn + self.moe_layers * moe) / self.n_layers

    def ffn_read(self, tokens: float) -> float:
        """FFN weights per layer a step of ``tokens`` tokens reads from memory."""
        return self.ffn_weights(self.experts_touched(tokens) if self.moe else None)

    @property
    def ffn_macs(self) -> float:
        """FFN MACs per token and layer (mean over layers): the routed experts only."""
        return self.ffn_weights(self.experts_per_token if self.moe else None)

    @property
    def ffn_width(self) -> int:
        """Widest FFN intermediate activation a token has (for buffers)."""
        if not self.moe:
            return self.d_ffn
        routed = (self.experts_per_token + self.n_shared_experts) * self.d_expert
        return max(routed, self.d_ffn if self.dense_layers else 0)

    # --- totals -----------------------------------------------------------------------------
    def params_per_layer(self) -> float:
        """Weights of one layer's matrices, mean over layers (biases and norms neglected)."""
        return self.w_attn + self.ffn_weights()

    def _embeddings(self, lm_head: bool) -> int:
        table = self.vocab * self.embed_width
        proj = 2 * self.d_model * self.d_embed if self.d_embed else 0
        head = table if (lm_head and not self.tied_embeddings) else 0
        return table + head + proj + self.learned_positions * self.d_model

    def params_total(self, lm_head: bool = True) -> float:
        """Every weight: layers (all experts), embeddings, positions, an untied LM head."""
        return self.n_layers * self.params_per_layer() + self._embeddings(lm_head)

    def params_active(self, embedding: bool = True) -> float:
        """Weights one token computes with (routed experts only, LM head included);
        ``embedding=False`` leaves out the input embedding table, as DeepSeek counts."""
        layers = self.n_layers * (self.w_attn + self.ffn_macs)
        emb = self._embeddings(True)
        if not embedding:
            emb -= self.vocab * self.embed_width if not self.tied_embeddings else 0
        return layers + emb
