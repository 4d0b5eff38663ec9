"""GPU baseline: a roofline per kernel plus what the serving stack adds, on N GPUs.

Every kernel runs ``max(its roofline time, the stack's shortest kernel)`` on the GPU.
Eager PyTorch (Hugging Face ``generate``): the host issues one kernel per operator (~48
per LLaMA layer), each costing it ``us_per_kernel``; launches are asynchronous, so host
and GPU form a two-stage pipeline — the host runs ahead while large kernels (a 7B
model's matrices) execute and the GPU idles while the host issues the many small ones
(``eager_step``). CUDA graphs (vLLM) replay ~10 fused kernels per layer with a small gap
each plus a per-step scheduler/sampler cost. Matrix kernels take
``max(FLOPs / (peak · compute_eff), bytes / (bandwidth · mem_eff))`` with FP16 weights and
KV. ``n_gpus`` split every matrix and the heads (Megatron tensor parallelism) and add two
all-reduces per layer over the GPU link. Power is not the TDP: each board draws its idle
power (clocks up, no kernel) plus its busy decode draw's excess over idle for the share of
the step its kernels run (an eager GPU at batch 1 mostly waits for its host).
``docs/models.md`` lists the sources of each constant.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from cost_models._common import layer_ops, routed_factor
from cost_models._platform_types import Gpu
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
    scores·V, two KV-cache concatenations and three layout copies (11; GPT-2's ``_attn``
    issues as many differently: two KV concatenations, QKᵀ, the scale and the mask value
    built as tensors (2), scale, causal ``where``, attention-mask add, softmax — its
    ``.type`` cast is a no-op in FP16 — scores·V and the head-merge copy); grouped KV
    heads are copied out to every query head (``repeat_kv``: expand and reshape, two
    copies, K and V); an RMSNorm is eight element-wise ops (cast, pow, mean,
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
    grouped = 2 if m.n_kv_heads < m.n_heads and not m.mla else 0
    return 11 + grouped + norms + rope + act + 2


def eager_step(
    runs: list[float],
    shares: list[float],
    n_layers: int,
    n_step: int,
    lm_run: float,
    issue: float,
    min_kernel: float,
) -> tuple[float, float]:
    """Seconds of one eager step, and of them the seconds the GPU runs kernels. The host
    issues kernels one after another (``issue`` each) and the GPU runs them in order as
    soon as each is issued and the previous one is done — launches are asynchronous, so
    the host runs ahead while the GPU is busy and the GPU idles while the host is behind.
    Kernel ``k`` ends at ``max(end_{k-1}, H_k) + r_k`` (``H_k`` the host time when it is
    issued), so the step (``generate`` synchronises once per token) ends at
    ``max_k (H_k + Σ_{j≥k} r_j)``. The step's own kernels (position ids, embedding, mask)
    come first, the final norm, head and bookkeeping last."""
    run = np.array(runs) * np.array(shares)
    host = issue * np.array(shares)
    first = 5 + 3 + 3  # position ids, embedding (at most 3), attention-mask preparation
    start = [min(first, n_step)]
    end = [n_step - start[0]]
    runs_all = np.concatenate(
        [
            np.full(start[0], min_kernel),
            np.tile(run, n_layers),
            [lm_run],
            np.full(end[0], min_kernel),
        ]
    )
    hosts_all = np.concatenate(
        [np.full(start[0], issue), np.tile(host, n_layers), [issue], np.full(end[0], issue)]
    )
    issued = np.cumsum(hosts_all)
    after = np.cumsum(runs_all[::-1])[::-1]  # GPU work from each kernel to the end
    return float(np.max(issued + after)), float(after[0])


def step_kernels(m: ModelShape, stack: str) -> int:
    """Kernels per generated token outside the layers and the LM head, as each stack issues
    them. Eager (Hugging Face ``generate``, greedy): the position ids that
    ``prepare_inputs_for_generation`` derives from the attention mask (5: cast, cumsum,
    subtract, compare, masked fill), the token embedding (learned positions add a position
    lookup and an add), the attention-mask preparation (3: slice, cast, scale), the final
    norm (8 for RMSNorm, 1 for LayerNorm) and ``generate``'s bookkeeping — argmax, masking
    finished sequences (3), appending the token and the mask (3), the stopping checks (2)
    and the finished-flag update (2). CUDA graphs (vLLM): inside ``host_us_per_step``,
    which was measured per step."""
    if stack == "graphs":
        return 0
    embed = 3 if m.positions == "learned" else 1
    norm = 8 if m.ffn == "swiglu" else 1
    return 5 + embed + 3 + norm + 11


def decode_power(gpu: Gpu, busy: float) -> float:
    """Board power of one GPU whose kernels run a fraction ``busy`` of each decode step:
    its idle draw (clocks up, no kernel: nvidia-smi at 0 %) plus the excess of its busy
    decode draw over idle for that fraction — energy follows the time kernels run, not
    the time the GPU waits for its host."""
    share = min(max(busy, 0.0), 1.0)
    return gpu.idle_power_w + (gpu.decode_power_w - gpu.idle_power_w) * share


@functools.lru_cache(maxsize=256)  # frozen inputs and result; one per study and baseline
def gpu_baseline(w: Workload, gpu: Gpu, stack: str = "eager", n_gpus: int = 1) -> GpuResult:
    m = w.model
    st = gpu.stack(stack)
    flops = gpu.dense_fp16_tflops * 1e12 * gpu.compute_efficiency * n_gpus
    bw = gpu.memory_gbps * 1e9 * gpu.mem_efficiency * n_gpus
    issue = st.us_per_kernel * 1e-6
    other = elementwise_kernels(m, stack)
    min_kernel = st.min_kernel_us * 1e-6
    times = {}
    busy = 0.0  # seconds of a decode step the GPU runs kernels
    for phase in ("prefill", "decode"):
        seq = w.prompt_len if phase == "prefill" else 1
        kv_len = m.kv_span(w.prompt_len if phase == "prefill" else w.kv_len + 1)
        tokens = w.batch * seq
        route = routed_factor(w, tokens)
        # One (average) layer as kernels: GPU time of each, and the layer share it runs in.
        runs: list[float] = []
        shares: list[float] = []
        for op in layer_ops(w):
            # one kernel per stored matrix in eager (gate and up are two unless the
            # checkpoint fuses them, as it fuses q, k, v: fused_qkv), fused in graphs
            gate_up = op.name.endswith("_up") and stack == "eager" and not m.fused_qkv
            count = m.ffn_matrices - 1 if gate_up else 1
            read = op.weights * (route if op.routed else 1.0)
            roof = max(2 * tokens * op.red * op.out / flops, read * 2 / bw)
            runs += [max(roof / count, min_kernel)] * count
            shares += [op.share] * count
        attn_flops = 2 * tokens * kv_len * m.attn_macs_per_entry
        kv_bytes = w.batch * kv_len * m.kv_width * 2
        runs.append(max(attn_flops / flops, kv_bytes / bw, min_kernel))  # attention
        runs += [min_kernel] * (other - 1)  # element-wise: shorter than their issue
        shares += [1.0] * other
        if n_gpus > 1:  # two all-reduces of the activations per layer
            msg = tokens * m.d_model * 2
            ar = gpu.allreduce_us * 1e-6 + 2 * (n_gpus - 1) / n_gpus * msg / (gpu.link_gbps * 1e9)
            runs += [ar, ar]
            shares += [1.0, 1.0]
        # The GPU runs the whole model, LM head included, as the papers' baselines (Hugging
        # Face generate, vLLM) did — also where the FPGA leaves the head to its host.
        lm = m.vocab * m.embed_width
        lm_run = max(2 * w.batch * lm / flops, lm * 2 / bw, min_kernel)
        n_step = step_kernels(m, stack)
        if stack == "graphs":
            # Replayed graph nodes: each takes its run time or the node gap, whichever is
            # longer; the host's scheduler and sampler add their time per step.
            layer = sum(s * max(r, issue) for r, s in zip(runs, shares, strict=True))
            total = m.n_layers * layer + max(lm_run, issue) + st.host_us_per_step * 1e-6
            ran = m.n_layers * sum(s * r for r, s in zip(runs, shares, strict=True)) + lm_run
        else:
            total, ran = eager_step(runs, shares, m.n_layers, n_step, lm_run, issue, min_kernel)
        times[phase] = total
        if phase == "decode":
            busy = ran
    power = n_gpus * decode_power(gpu, busy / times["decode"])
    return GpuResult(gpu.name, w.batch, times["prefill"], times["decode"], power, n_gpus, stack)
