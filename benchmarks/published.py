"""Predicted vs published figures of FPGA LLM accelerators (validation of the cost models).

Each design is encoded once from its paper/repository (parameters with sources below) and
every published figure of that design is compared with the model's prediction. Nothing is
fitted per row: the same platform files and constants serve every design.

Run: ``python benchmarks/published.py``  (prints the table, then median and max |error|).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

import cost_models as cm


@dataclass
class Design:
    name: str
    model: str
    platform: str
    arch: str
    point: dict[str, Any]
    sources: dict[str, str]
    workload: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, **workload: Any) -> pd.Series:
        spec = {"model": self.model, **self.workload, **workload}
        wl = cm.load_workload(spec, source=self.name)
        return cm.evaluate(wl, self.platform, self.point, arch=self.arch).iloc[0]


DFX = Design(
    "DFX",
    "gpt2-medium",
    "u280",
    "temporal",
    {
        "quant": "fp16",
        "freq_mhz": 200,
        "cores": 1,
        "mm_t": 1,
        "mm_k": 16,
        "mm_n": 64,
        "mv_k": 16,
        "mv_n": 64,
        "tile_tokens": 1,
        "prefill_serial": True,
        "sfu_lanes": 64,
        "hbm_placement": "global",
        "port_clock": "kernel",
        "group_ports": "channel",  # a memory master per HBM channel (see sources)
        "hbm_ch_wqkv": 32,
        "hbm_ch_wo": 32,
        "hbm_ch_wffn": 32,
        "hbm_ch_kv": 32,
        "hbm_ch_act": 32,
    },
    {
        "engine": "MPU d×l = 64×16 FP16 multipliers, VPU 64 wide (DFX §IV)",
        "clock": "200 MHz (DFX)",
        "memory": "one DMA striping all 32 HBM channels, 512 bit at 200 MHz (DFX §IV): global; "
        "its 5.40 ms/token moves ~130 GB/s, ten 512-bit beats a cycle, so the DMA reads the "
        "channels in parallel (group_ports: channel)",
        "prefill": "serial: the summarization stage feeds the prompt through the GEMV-shaped "
        "MPU one token at a time, each token the same instruction stream as a generation step "
        "(DFX §III-IV); the published TTFT / per-token time = 177.2 / 5.40 ms = 32.8 for a "
        "32-token prompt, i.e. a full step (LM head included) per prompt token",
    },
    {"prompt_len": 32, "gen_len": 32},
)
FLIGHTLLM = Design(
    "FlightLLM",
    "llama-2-7b",
    "u280",
    "temporal",
    {
        "quant": "w8a8",
        "kv_bits": 16,
        "quant_group": 0,
        "freq_mhz": 225,
        "cores": 3,
        "mm_t": 2,
        "mm_k": 16,
        "mm_n": 128,
        "mv_k": 16,
        "mv_n": 64,
        "sfu_lanes": 16,
        "sparsity": "nm",
        "nm_m": 16,
        "density_qk": 0.3,
        "hbm_placement": "local",
        "group_ports": "channel",  # a memory master per HBM channel (see sources)
        "hbm_ch_wqkv": 32,
        "hbm_ch_wo": 32,
        "hbm_ch_wffn": 32,
        "hbm_ch_kv": 32,
        "hbm_ch_act": 1,
    },
    {
        "engine": "profiler config: MM 2×16×128, MV 64×16×1, SFU 16, 225 MHz; one core per "
        "SLR (SLR_NUM)",
        "weights": "compiler IR: int8 weights, q/k_proj sparse_ratio 0.7, others dense; N:M, M=16",
        "memory": "weights spread over all 32 PCs, each port within its own PCs (demo info.yaml)",
    },
)
EDGELLM = Design(
    "EdgeLLM",
    "chatglm2-6b",
    "vcu128",
    "temporal",
    {
        "quant": "w4a16",
        "quant_group": 128,
        "freq_mhz": 280,
        "cores": 1,
        "mm_t": 1,
        "mm_k": 64,
        "mm_n": 64,
        "mv_k": 64,
        "mv_n": 64,
        "attn_macs": 1024,
        "sfu_lanes": 16,
        "sparsity": "log",
        "density_qk": 0.5,
        "density_vo": 0.5,
        "density_ffn": 0.5,
        "axi_port_bits": 256,
        "port_clock": "kernel",
        "hbm_placement": "local",
        "group_ports": "channel",  # a memory master per HBM channel (see sources)
        "hbm_ch_wqkv": 32,
        "hbm_ch_wo": 32,
        "hbm_ch_wffn": 32,
        "hbm_ch_kv": 32,
        "hbm_ch_act": 1,
    },
    {
        "engine": "FP16×INT4 engine 4096 MACs/cycle, FP16 attention engine 1024 (TCAS-I 2025)",
        "clock": "280 MHz matrix/HBM clock",
        "memory": "32 AXI ports × 256 bit",
        "weights": "INT4, FP16 scale per 128, log-scale sparsity 50 % (3.125 bits/weight)",
    },
)
SEED_A = Design(
    "Seed A (spatial)",
    "gpt2-medium",
    "u280",
    "spatial",
    {
        "quant": "w4a8",
        "quant_group": 0,
        "freq_mhz": 250,
        "layers_per_fpga": 1,
        "m_qkv": 256,
        "m_attn": 64,
        "m_ffn": 256,
        "tile_tokens": 8,
        "weight_prefetch": "tile",
        "hbm_placement": "local",
        "hbm_ch_wqkv": 3,
        "hbm_ch_wo": 1,
        "hbm_ch_wffn": 2,
        "hbm_ch_kv": 1,
        "hbm_ch_act": 1,
    },
    {
        "clock": "kernel_frequency 250 (allo-pldi24-artifact)",
        "memory": "one HBM channel per weight matrix, HBM[1-6] (same artifact)",
        "compute": "each linear kernel an 8×16 systolic array of PE_8_4_pack (one DSP, two "
        "int4 weights × int8): 256 MACs/cycle; attention QKᵀ and S·V one 8×8 int8 array each: "
        "64 MACs/cycle (artifact llm/gpt_region_{1,2,3}.cpp, kernel.h inp_num = 8)",
        "tiles": "weights re-streamed and results handed on per block of inp_num = 8 tokens "
        "(weight_loader_r*, l_pack_seq loops): tile_tokens = 8",
        "scales": "no weight-scale stream: the loaders read only packed weight words "
        "(w*_addr[...]); the Linear_layer_* kernels rescale by per-token constants "
        "s[seq_num] held on chip: quant_group 0 (the default 128 would stream an FP16 "
        "scale per 128 weights, 3 % more bytes)",
        "precision": "W4A8: PE_8_4_pack multiplies int8 activations by two packed int4 "
        "weights (artifact); published.md's table says W8A8 for the paper's GPT-2 run",
        "lm_head": "not in the seed's kernel set: computed on the host",
        "prefetch": "each weight matrix has a loader process of its own (weight_loader_r*, "
        "a dataflow process on its own HBM channel) that streams ahead of its linear kernel, "
        "and the seed's analytical model charges each kernel max(compute, memory): "
        "weight_prefetch tile (templates/spatial_rtl buffers two rows: rows)",
    },
    {"prompt_len": 32, "gen_len": 32, "lm_head": False},
)


@dataclass
class Row:
    design: str
    figure: str
    published: float
    source: str
    predict: Callable[[], float]
    note: str | Callable[[], str] = ""
    # The prediction before issue 16 (this script at commit 15d6f96) and the fix of that
    # issue that moved it ("-" when none did): a row never moves unexplained.
    before: float = float("nan")
    moved_by: str = "-"


def fixes(moved_by: str) -> str:
    """The issue-16 item numbers a row's ``moved_by`` names ("4,8"), "-" for none, and
    "+enc" where an encoding correction moved it too."""
    groups = re.findall(r"\bitems? (\d[\d ,and]*)", moved_by)
    nums = sorted({int(n) for g in groups for n in re.findall(r"\d+", g)})
    parts = [",".join(map(str, nums))] if nums else []
    if "encoding" in moved_by:
        parts.append("enc")
    return "+".join(parts) or "-"


def _a100(design: Design, **wl: Any) -> float:
    return float(design.evaluate(**wl)["decode_speedup_vs_gpu"])


def _edgellm_note() -> str:
    """What the EdgeLLM vs A100 ratio compares, with its error split into its two sides."""
    a100 = cm.load_platform("a100")
    assert isinstance(a100, cm.Gpu)
    wl = cm.load_workload({"model": "chatglm2-6b", "prompt_len": 128, "gen_len": 256}, "EdgeLLM")
    ms = 1e3 * cm.gpu_baseline(wl, a100, "eager").decode_latency_s_per_token
    fpga = float(EDGELLM.evaluate(prompt_len=128, gen_len=256)["decode_tokens_per_s"])
    return (
        "A100 = Hugging Face eager generate (batch 1, FP16) on the roofline, as the papers "
        f"ran: {ms:.1f} ms/token where 85.8 tok/s / 1.91 implies {1e3 * 1.91 / 85.8:.1f} "
        f"({100 * (ms * 85.8 / 1.91e3 - 1):+.0f} %); the FPGA side is {fpga:.1f} tok/s "
        f"({100 * (fpga / 85.8 - 1):+.1f} %, the row below) — the ratio's error is both. "
        "ChatGLM2 is counted as the LLaMA-like layer it computes (47 kernels, fused "
        "query_key_value and dense_h_to_4h). Its remote code (modeling_chatglm.py) differs "
        "both ways, by how its torch runs it (the paper names no version): rotary is a "
        "TorchScript function, 8 ops on q and on k unfused, 1-2 once TorchScript's fuser has "
        "profiled it; attention one SDPA call (KV concatenations, SDPA, head-merge copy: "
        "4-6, not 11); per step the rotary table is rebuilt (about 12 more kernels) and "
        "attention_mask.all() syncs the host: 28-44 element-wise kernels a layer against "
        "our 43, 12 more a step. By hand that puts the A100 between 13.2 ms (fused) and "
        "19.5 ms (unfused, 6-kernel SDPA) — never the implied 22.3, so ChatGLM2's kernel "
        "count does not explain this row and the model keeps the LLaMA-like count"
    )


def _prefill_ratio(prompt_len: int) -> float:
    """DFX prefill time over seed A's, both predicted, at one prompt length."""
    dfx = float(DFX.evaluate(prompt_len=prompt_len)["prefill_latency_s"])
    return dfx / float(SEED_A.evaluate(prompt_len=prompt_len)["prefill_latency_s"])


ROWS = [
    Row(
        "DFX",
        "decode tokens/s, 1×U280, 32 in/32 out",
        185.19,
        "DFX (MICRO'22) via StreamTensor/CODO tables (secondary)",
        lambda: float(DFX.evaluate()["decode_tokens_per_s"]),
        before=199.361,
        moved_by="item 4 (+7 %): switch penalty only on the 7/8 of its striping that leaves "
        "a port's segment; item 8 (-21 %): its one global port keeps 8 bursts in flight, so "
        "the short per-dimension V rows of attention are latency-bound, plus per-head "
        "dispatch and stream start",
    ),
    Row(
        "DFX",
        "time to first token (ms), 32 in",
        177.2,
        "same table (secondary)",
        lambda: 1e3 * float(DFX.evaluate()["prefill_latency_s"]),
        "serial prefill: 32 generation steps at KV 1..32, LM head each (see DFX sources)",
        before=159.836,
        moved_by="items 4 and 8 (as decode)",
    ),
    Row(
        "FlightLLM",
        "decode tokens/s (board demo, Fig. 1)",
        55.0,
        "FlightLLM (FPGA'24) Fig. 1; flightllm_test_demo README",
        lambda: float(FLIGHTLLM.evaluate(prompt_len=128, gen_len=256)["decode_tokens_per_s"]),
        before=51.468,
        moved_by="item 7: 2 registered SLR crossings per layer between its 3 cores; item 8 "
        "(-2.5 %): dispatch, stream start and serial SFU steps per head",
    ),
    Row(
        "FlightLLM",
        "decode ms/token at KV 128",
        17.5,
        "demo re-run (published.md)",
        lambda: (
            1e3
            * float(FLIGHTLLM.evaluate(prompt_len=128, kv_len=128)["decode_latency_s_per_token"])
        ),
        before=19.185,
        moved_by="item 7 (< 0.01 %), item 8 (+2.6 %, as above)",
    ),
    Row(
        "FlightLLM",
        "decode ms/token at KV 512",
        18.99,
        "demo re-run (published.md)",
        lambda: (
            1e3
            * float(FLIGHTLLM.evaluate(prompt_len=512, kv_len=512)["decode_latency_s_per_token"])
        ),
        before=19.919,
        moved_by="items 7 and 8 (as above)",
    ),
    Row(
        "FlightLLM",
        "HBM bandwidth utilisation (%)",
        65.9,
        "FlightLLM (FPGA'24) §6",
        lambda: 100 * float(FLIGHTLLM.evaluate(prompt_len=128, gen_len=256)["hbm_bw_util"]),
        before=69.049,
        moved_by="items 7 and 8 (as above)",
    ),
    Row(
        "EdgeLLM",
        "decode throughput vs A100 (×)",
        1.91,
        "EdgeLLM TCAS-I 2025 abstract",
        lambda: _a100(EDGELLM, prompt_len=128, gen_len=256),
        _edgellm_note,
        before=1.590,
        moved_by="item 10: GPU kernels per layer from the architecture, not a flat 50, "
        "issued by a host that runs ahead of the GPU (host->GPU pipeline, 14.1 us per kernel); "
        "item 8: EdgeLLM's 32 heads run one after another on its one core (dispatch, "
        "stream start, softmax divider per head)",
    ),
    Row(
        "EdgeLLM",
        "decode tokens/s (sparse, peak)",
        85.8,
        "EdgeLLM journal, sparse scheme (secondary: translation)",
        lambda: float(EDGELLM.evaluate(prompt_len=128, gen_len=256)["decode_tokens_per_s"]),
        before=79.786,
        moved_by="item 8 (as above)",
    ),
    Row(
        "Seed A (spatial)",
        "decode tokens/s, GPT-2 medium W4A8",
        204.05,
        "arXiv 2312.15159 via StreamTensor/CODO tables (secondary)",
        lambda: float(SEED_A.evaluate()["decode_tokens_per_s"]),
        before=180.134,
        moved_by="no fix of the issue; the encoding (+2.9 %): the artifact streams no weight "
        "scales (quant_group 0, was the default 128); issue 19's streamed-weight chain "
        "leaves it as it was: its loaders fetch ahead (weight_prefetch tile; the spatial "
        "RTL's two-row buffers, weight_prefetch rows, would give 112.4 tok/s)",
    ),
    Row(
        "Seed A (spatial)",
        "decode speed-up vs A100 (×)",
        1.9,
        "arXiv 2312.15159 abstract",
        lambda: _a100(SEED_A),
        "A100 = Hugging Face eager generate on the roofline (LM head and generate's per-step "
        "kernels too, though seed A leaves its head to the host): GPT-2 medium is host-bound, "
        "27 kernels per layer (fused c_attn) at 14.1 us each = 9.5 ms/token, where 204 tok/s "
        "/ 1.9 implies 9.3. The 14.1 us is set in-sample on LLaMA2-7B (FlightLLM README), "
        "whose large matrices run while the host issues the next kernels",
        before=2.013,
        moved_by="item 10 (as EdgeLLM vs A100: host->GPU pipeline, fused c_attn, GPU runs "
        "the LM head and generate's kernels); the encoding (+2.9 %, as the row above)",
    ),
    Row(
        "Seed A (spatial)",
        "prefill speed-up vs DFX (×)",
        2.2,
        "arXiv 2312.15159 abstract",
        lambda: _prefill_ratio(32),
        lambda: (
            "both predicted at a 32-token prompt (DFX's published TTFT prompt; the abstract "
            "states no length); at the artifact's compiled seq_num = 128 the model gives "
            f"{_prefill_ratio(128):.2f}× — DFX serial, seed A compute-bound, both ~linear in l"
        ),
        before=2.022,
        moved_by="items 4 and 8 (DFX's serial prefill, as its decode)",
    ),
]


def main() -> None:
    print("Encoded designs (parameters and their sources):")
    for d in (DFX, FLIGHTLLM, EDGELLM, SEED_A):
        print(f"\n  {d.name}: {d.model} on {d.platform}, {d.arch}")
        print(f"    point: {d.point}")
        for k, v in d.sources.items():
            print(f"    {k}: {v}")
    rows: list[dict[str, object]] = []
    for r in ROWS:
        pred = r.predict()
        err = (pred - r.published) / r.published
        rows.append(
            {
                "design": r.design,
                "figure": r.figure,
                "published": r.published,
                "predicted": round(pred, 3),
                "error_%": round(100 * err, 1),
                "before_16": r.before,
                "error_before_%": round(100 * (r.before - r.published) / r.published, 1),
                "fixes": fixes(r.moved_by),
                "moved_by": r.moved_by,
            }
        )
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", 70):
        print()
        print(df.drop(columns=["moved_by"]).to_string(index=False))
    print(
        "\nSources, and which fix of issue 16 moved each row (before_16: this script at 15d6f96):"
    )
    for r in ROWS:
        print(f"  {r.design} / {r.figure}: {r.source}; moved by: {r.moved_by}")
    notes = [(r, r.note() if callable(r.note) else r.note) for r in ROWS]
    if any(text for _, text in notes):
        print("\nWhat the rows compare:")
        for r, text in notes:
            if text:
                print(f"  {r.design} / {r.figure}: {text}")
    _gpu_check()
    _multi_fpga_check()
    errs = [abs(float(r["error_%"])) for r in rows]  # type: ignore[arg-type]
    old = [abs(float(r["error_before_%"])) for r in rows]  # type: ignore[arg-type]
    print(
        f"\nbefore issue 16: median_abs_error_%={statistics.median(old):.1f} "
        f"max_abs_error_%={max(old):.1f}"
    )
    for r, e in zip(ROWS, errs, strict=True):
        if e > 25.0:  # the target's max; the reason is printed with the row above
            print(f"outside the 25 % target: {r.design} / {r.figure} ({e:.1f} %)")
    print(f"median_abs_error_%={statistics.median(errs):.1f} max_abs_error_%={max(errs):.1f}")


# FlightLLM repository, profile/README.md (run.py): LLaMA2-7B FP16 on an A100, batch 1,
# transformers 4.34 / torch 2.0.1 ``generate`` ("GPU-naive") and vLLM 0.1.7 ("GPU-opt"):
# (prompt, generated) -> (prefill ms, decode ms in total). The first eager case sets the
# eager us_per_kernel and the first vLLM case the graphs host_us_per_step (in-sample).
README_A100 = {
    "eager": {
        (128, 512): (26.1, 11316.9),
        (128, 1024): (23.3, 22627.5),
        (128, 1536): (23.4, 34196.5),
        (512, 512): (50.7, 11393.2),
        (512, 1024): (50.5, 23225.7),
        (512, 1536): (51.3, 35129.2),
    },
    "graphs": {
        (128, 512): (17.6, 5727.0),
        (128, 1024): (15.5, 11645.2),
        (128, 1536): (15.5, 17561.8),
        (512, 512): (40.4, 5879.7),
        (512, 1024): (40.4, 11899.8),
        (512, 1536): (40.7, 17627.1),
    },
}


def _gpu_check() -> None:
    """The GPU baseline against the measured A100 runs it was set on (first case of each
    stack, in-sample) and the five others (held out)."""
    a100 = cm.load_platform("a100")
    assert isinstance(a100, cm.Gpu)
    print("\nA100 LLaMA2-7B, measured (FlightLLM README) vs the GPU baseline model:")
    print(f"  {'stack':6} {'prompt':>6} {'gen':>5} {'decode ms/tok':>13} {'model':>6} "
          f"{'err_%':>6} {'prefill ms':>10} {'model':>6}")  # fmt: skip
    errs = []
    for stack, cases in README_A100.items():
        for i, ((prompt, gen), (pre_ms, dec_ms)) in enumerate(cases.items()):
            wl = cm.load_workload(
                {"model": "llama-2-7b", "prompt_len": prompt, "gen_len": gen}, "README"
            )
            g = cm.gpu_baseline(wl, a100, stack)
            ms = 1e3 * g.decode_latency_s_per_token
            err = 100 * (ms / (dec_ms / gen) - 1)
            if i:
                errs.append(abs(err))
            tag = "in-sample" if i == 0 else ""
            print(f"  {stack:6} {prompt:6} {gen:5} {dec_ms / gen:13.2f} {ms:6.2f} {err:+6.1f} "
                  f"{pre_ms:10.1f} {1e3 * g.prefill_latency_s:6.1f} {tag}")  # fmt: skip
    print(f"  held-out decode: max |error| {max(errs):.1f} % over {len(errs)} cases")


def _needed(lo: float, hi: float, slower: Callable[[float], float], target: float) -> float:
    """The value in [lo, hi] at which ``slower`` (increasing) reaches ``target`` (bisection);
    ``hi`` where even that falls short."""
    if slower(hi) < target:
        return hi
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slower(mid) < target else (lo, mid)
    return hi


def _multi_fpga_check() -> None:
    """DFX's headline (MICRO'22 abstract): 4 U280s vs 4 V100s, 5.58× faster and 3.99× more
    energy-efficient on GPT-2. Our sources give neither the model size nor the lengths nor
    the GPU software, so this is printed, not scored: GPT-2 1.5B, 64 in / 64 out, end-to-end
    generation time — with what the GPU side would have to cost per token to match."""
    import dataclasses

    wl = cm.load_workload({"model": "gpt2-xl", "prompt_len": 64, "gen_len": 64}, "DFX")
    row = cm.evaluate(wl, "u280", {**DFX.point, "tp": 4}, arch="temporal", baseline="4xv100s")
    r = row.iloc[0]
    v100s = cm.load_platform("v100s")
    assert isinstance(v100s, cm.Gpu)
    g = cm.gpu_baseline(wl, v100s, "eager", 4)
    fpga_pre, fpga_tok = float(r.prefill_latency_s), float(r.decode_latency_s_per_token)
    fpga_s = fpga_pre + 64 * fpga_tok
    gpu_s = g.prefill_latency_s + 64 * g.decode_latency_s_per_token
    print(
        "\nDFX 4×U280 vs 4×V100S (eager), GPT-2 1.5B 64:64 — not scored (workload and GPU "
        f"software not in our sources): end-to-end {gpu_s / fpga_s:.2f}× (published 5.58×), "
        f"decode {float(r.decode_speedup_vs_gpu):.2f}×, energy per token "
        f"{float(r.energy_ratio_vs_gpu):.2f}× (published 3.99×; four GPUs at "
        f"{g.power_w:.0f} W — idle plus the busy share of each step — FPGAs "
        f"{float(r.power_w):.0f} W)"
    )
    # Why the speed is far: what the GPU side would need to cost for 5.58× end to end.
    need_tok = (5.58 * fpga_s - g.prefill_latency_s) / 64
    eager = v100s.stack("eager")

    def with_allreduce(us: float) -> float:
        gpu = dataclasses.replace(v100s, allreduce_us=us)
        return cm.gpu_baseline(wl, gpu, "eager", 4).decode_latency_s_per_token

    def with_issue(us: float) -> float:
        st = dataclasses.replace(eager, us_per_kernel=us)
        stacks = tuple((k, st if k == "eager" else v) for k, v in v100s.stacks)
        gpu = dataclasses.replace(v100s, stacks=stacks)
        return cm.gpu_baseline(wl, gpu, "eager", 4).decode_latency_s_per_token

    from cost_models._common import layer_ops
    from cost_models._gpu import elementwise_kernels

    per_layer = len(layer_ops(wl)) + elementwise_kernels(wl.model, "eager") + 2
    ar = _needed(v100s.allreduce_us, 2000.0, with_allreduce, need_tok)
    issue = _needed(eager.us_per_kernel, 200.0, with_issue, need_tok)
    print(
        f"  why: the FPGAs prefill serially ({1e3 * fpga_pre:.0f} ms for 64 tokens, DFX's "
        f"design) where the GPUs take {1e3 * g.prefill_latency_s:.0f} ms, so end to end is "
        f"below the decode ratio; decode is {1e3 * fpga_tok:.2f} ms/token on the FPGAs and "
        f"{1e3 * g.decode_latency_s_per_token:.1f} on the GPUs (host-bound: "
        f"{eager.us_per_kernel} µs to issue each of {per_layer} kernels a layer per GPU, two "
        f"all-reduces of {v100s.allreduce_us:.0f} µs). 5.58× needs the GPUs at "
        f"{1e3 * need_tok:.1f} ms/token: all-reduces of {ar:.0f} µs each "
        f"({ar / v100s.allreduce_us:.0f}× the one assumed) or {issue:.1f} µs per kernel on the "
        "host (our 14.1 µs is "
        "measured with torch 2.0 on an A100 host) — neither has a source, and a longer "
        "output or a smaller model moves the ratio, so the row stays unscored"
    )


if __name__ == "__main__":
    main()
