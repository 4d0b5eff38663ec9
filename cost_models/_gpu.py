"""GPU roofline baseline, so every FPGA point can be shown as a ratio to a GPU.

Per layer and phase: each matrix operator takes the larger of its FLOP time at the achieved
tensor throughput and its byte time at the achieved DRAM bandwidth (FP16 weights and KV),
plus a fixed dispatch cost per kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models._common import layer_ops
from cost_models._platform import Gpu
from cost_models._workload import Workload


@dataclass(frozen=True)
class GpuResult:
    name: str
    batch: int
    prefill_latency_s: float
    decode_latency_s_per_token: float
    power_w: float

    @property
    def decode_tokens_per_s(self) -> float:
        return self.batch / self.decode_latency_s_per_token

    def energy_per_token_j(self, batch: int) -> float:
        return self.power_w * self.decode_latency_s_per_token / batch


def gpu_baseline(w: Workload, gpu: Gpu) -> GpuResult:
    m = w.model
    flops = gpu.dense_fp16_tflops * 1e12 * gpu.compute_efficiency
    bw = gpu.memory_gbps * 1e9 * gpu.mem_efficiency
    launch = gpu.kernels_per_layer * gpu.kernel_overhead_us * 1e-6
    times = {}
    for phase in ("prefill", "decode"):
        seq = w.prompt_len if phase == "prefill" else 1
        kv_len = w.prompt_len if phase == "prefill" else w.kv_len + 1
        tokens = w.batch * seq
        t = 0.0
        for op in layer_ops(w):
            t += max(2 * tokens * op.red * op.out / flops, op.weights * 2 / bw)
        attn_flops = 4 * w.batch * seq * kv_len * m.d_q
        kv_bytes = w.batch * kv_len * 2 * m.d_kv * 2
        t += max(attn_flops / flops, kv_bytes / bw)
        total = m.n_layers * (t + launch)
        if w.lm_head:
            total += max(2 * w.batch * m.d_model * m.vocab / flops, m.vocab * m.d_model * 2 / bw)
        times[phase] = total
    return GpuResult(gpu.name, w.batch, times["prefill"], times["decode"], gpu.board_power_w)
