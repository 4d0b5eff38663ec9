"""GPU baseline: a roofline per kernel plus what the serving stack adds, on N GPUs.

Every kernel of a decoder layer takes ``max(its roofline time, the stack's shortest
kernel, the host's time to issue it)``: with eager PyTorch the host issues one kernel per
operator, ~45 of them per LLaMA layer, and at batch 1 most are shorter than their issue
time, so the GPU waits on the host; CUDA graphs (vLLM) replay ~10 fused kernels per
layer with a small gap each plus a per-step scheduler/sampler cost. Matrix kernels take
``max(FLOPs / (peak · compute_eff), bytes / (bandwidth · mem_eff))`` with FP16 weights and
KV. ``n_gpus`` split every matrix and the heads (Megatron tensor parallelism) and add two
all-reduces per layer over the GPU link. Power is the board's measured/published draw
under decode, not its TDP. ``docs/models.md`` lists the sources of each constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models._common import layer_ops, routed_factor
from cost_models._platform import Gpu
from cost_models._shape import ModelShape
from cost_models._workload import Workload

STACKS = ("eager", "graphs")


@dataclass(frozen=True)
class GpuResult:
    name: str
    batch: int
    prefill_latency_s: float
    decode_latency_s_per_token: float
    power_w: float  # all GPUs together
    n_gpus: int = 1
    stack: str = "eager"

    @property
    def decode_tokens_per_s(self) -> float:
        return self.batch / self.decode_latency_s_per_token

    def energy_per_token_j(self, batch: int) -> float:
        return self.power_w * self.decode_latency_s_per_token / batch


def elementwise_kernels(m: ModelShape, stack: str) -> int:
    """Kernels per layer besides the weight matrices, as each stack issues them.

    Eager (Hugging Face transformers): attention as QKᵀ, scale, mask, softmax, cast,
    scores·V, two KV-cache concatenations and three layout copies (11; GPT-2's attention
    also builds its scale and mask value as tensors and applies the causal mask and the
    attention mask separately: 12); an RMSNorm is eight element-wise ops (cast, pow, mean,
    add, rsqrt, mul, cast, mul), a LayerNorm one fused kernel; rotary embedding five ops
    each on q and k; a gated activation two (act, mul), GPT-2's tanh GELU eight (pow, mul,
    add, mul, tanh, add, mul, mul); two residual adds. CUDA graphs (vLLM): fused norm(+add)
    ×2, rotary, cache write, attention and activation — six."""
    if stack == "graphs":
        return 6
    rms = m.ffn == "swiglu"  # the gated families are the RMSNorm ones
    gpt2_like = m.positions == "learned"
    norms = (1 if m.parallel_block else 2) * (8 if rms else 1)
    rope = 10 if m.positions == "rope" else (1 if m.positions == "alibi" else 0)
    act = 2 if m.ffn == "swiglu" else (8 if gpt2_like else 1)
    return (12 if gpt2_like else 11) + norms + rope + act + 2


def step_kernels(m: ModelShape, stack: str) -> int:
    """Kernels per generated token outside the layers and the LM head, as each stack issues
    them. Eager (Hugging Face ``generate``, greedy): the token embedding (learned positions
    add a position lookup and an add), the attention-mask preparation (3: slice, cast,
    scale), the final norm (8 for RMSNorm, 1 for LayerNorm) and ``generate``'s bookkeeping —
    argmax, masking finished sequences (3), appending the token and the mask (3), the
    stopping checks (2) and the finished-flag update (2). CUDA graphs (vLLM): inside
    ``host_us_per_step``, which was measured per step."""
    if stack == "graphs":
        return 0
    embed = 3 if m.positions == "learned" else 1
    norm = 8 if m.ffn == "swiglu" else 1
    return embed + 3 + norm + 11


def gpu_baseline(w: Workload, gpu: Gpu, stack: str = "eager", n_gpus: int = 1) -> GpuResult:
    m = w.model
    st = gpu.stack(stack)
    flops = gpu.dense_fp16_tflops * 1e12 * gpu.compute_efficiency * n_gpus
    bw = gpu.memory_gbps * 1e9 * gpu.mem_efficiency * n_gpus
    issue = st.us_per_kernel * 1e-6
    floor = max(issue, st.min_kernel_us * 1e-6)
    other = elementwise_kernels(m, stack)
    times = {}
    for phase in ("prefill", "decode"):
        seq = w.prompt_len if phase == "prefill" else 1
        kv_len = m.kv_span(w.prompt_len if phase == "prefill" else w.kv_len + 1)
        tokens = w.batch * seq
        route = routed_factor(w, tokens)
        t = 0.0
        for op in layer_ops(w):
            # one kernel per weight matrix in eager (gate and up are two), fused in graphs
            count = m.ffn_matrices - 1 if op.name.endswith("_up") and stack == "eager" else 1
            read = op.weights * (route if op.routed else 1.0)
            roof = max(2 * tokens * op.red * op.out / flops, read * 2 / bw)
            t += op.share * max(roof, count * floor)
        attn_flops = 2 * tokens * kv_len * m.attn_macs_per_entry
        kv_bytes = w.batch * kv_len * m.kv_width * 2
        t += max(attn_flops / flops, kv_bytes / bw, floor)  # the attention kernel(s)
        t += (other - 1) * floor  # the rest are too small to outlast their issue
        if n_gpus > 1:  # two all-reduces of the activations per layer
            msg = tokens * m.d_model * 2
            t += 2 * (
                gpu.allreduce_us * 1e-6 + 2 * (n_gpus - 1) / n_gpus * msg / (gpu.link_gbps * 1e9)
            )
        total = m.n_layers * t + st.host_us_per_step * 1e-6
        total += step_kernels(m, stack) * floor
        # The GPU runs the whole model, LM head included, as the papers' baselines (Hugging
        # Face generate, vLLM) did — also where the FPGA leaves the head to its host.
        lm = m.vocab * m.embed_width
        total += max(2 * w.batch * lm / flops, lm * 2 / bw, floor)
        times[phase] = total
    power = gpu.decode_power_w * n_gpus
    return GpuResult(gpu.name, w.batch, times["prefill"], times["decode"], power, n_gpus, stack)
