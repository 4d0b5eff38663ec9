"""RTL of a spatial plan: generate the dataflow top, its ROM images, simulate it (Verilator).

``render`` writes ``sp_top.v`` (templates/spatial_rtl/sp_top.v.j2: one kernel module per
operator, FIFOs of the plan's depths, C layer instances) beside the kernel library;
``write_roms`` turns a quantised model into the ``rom/*.hex`` files its ROMs load at start
(weights chunked as the GEMVs issue them, N:M columns resolved); ``build`` verilates the
top once per plan (cached like the overlay's simulators, see ``overlay.sim.verilate``);
``simulate`` runs a prompt and greedy decode and returns accumulators and cycles per call.
A streamed point (``weight_storage: stream``) reads its GEMV weights from memory ports
instead of ROMs (spatial/rtl_stream.py: the ports, the image, the memory the harness
serves them with).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cost_models._spatial_params import row_pack
from overlay.model import is_gpt, layer_mats
from overlay.reference import MAT_CLASS, QMat, QuantModel
from overlay.sim import SimError, verilate
from spatial import rtl_stream
from spatial.hls import jinja_env
from spatial.image import compress
from spatial.plan import SpatialError, SpatialPlan

RTL_DIR = Path(__file__).resolve().parents[1] / "templates" / "spatial_rtl"
LIBRARY = ("sp_lib.v", "sp_gemv.v", "sp_norm.v", "sp_attn.v", "sp_stream.v")
HARNESS = "sim_main.cpp"
TOP = "sp_top"
MAX_ROM_WORDS = 1 << 22  # words of one ROM the simulation is built with at most


@dataclass(frozen=True)
class Gemv:
    """A GEMV kernel as the RTL builds it: NCH chunks of ``unroll`` lanes per group; in
    column mode (``ch`` > 0, a decode token) RPC rows x LPR weights of a block a cycle.
    ``pack``: rows issue in pairs, a lane's multiplier forming both rows' products at one
    column (``cost_models._spatial_params.row_pack``: half the plan's MACs a cycle in lanes)."""

    rows: int
    k: int
    ng: int
    gs: int
    unroll: int
    nch: int
    sparse: int
    nn: int
    mm: int
    cb: int
    ch: int = 0
    chs: int = 1
    rpc: int = 1
    lpr: int = 1
    pack: int = 0

    @property
    def issue_rows(self) -> int:
        """Rows (pairs when packed) a weight ROM holds NG x NCH words of, per pass."""
        return self.rows // 2 if self.pack else self.rows

    def word_bits(self, wb: int) -> int:
        """Bits of a row-mode weight ROM word: a lane's weight, or a packed pair."""
        return self.unroll * wb * (2 if self.pack else 1)

    @property
    def nrc(self) -> int:
        return math.ceil(self.rows / self.rpc)

    @property
    def njc(self) -> int:
        return math.ceil(self.chs / self.lpr)

    @property
    def ccb(self) -> int:
        return max(1, (self.ch - 1).bit_length())


@dataclass
class RtlRun:
    accs: list[np.ndarray]  # LM-head accumulators of each call's last token
    cycles: list[int]  # per call: the prompt first, then one per decode step


def check(plan: SpatialPlan) -> None:
    """Refuse what the RTL does not build (one key, what is supported)."""
    if plan.passes > 255:
        raise SpatialError("layers_per_fpga", "the RTL reuses a layer instance 255 passes at most")
    for name, g in gemvs(plan).items():
        if plan.weights_onchip and g.issue_rows * g.ng * g.nch * plan.passes > MAX_ROM_WORDS:
            raise SpatialError(
                "m_ffn" if name.startswith("w_") else "m_qkv",
                f"{name}'s weight ROM exceeds {MAX_ROM_WORDS} words (a model for hardware, "
                "not a tiny simulation)",
            )


def _gemv(
    rows: int,
    k: int,
    group: int,
    unroll: int,
    nm: tuple[int, int] | None,
    ch: int = 0,
    onchip: bool = True,
    pack: bool = True,
) -> Gemv:
    gs = group // nm[1] * nm[0] if nm else group
    nn, mm = nm if nm else (1, 1)
    cb = max(1, (k - 1).bit_length())
    pack = pack and bool(row_pack(rows, gs, unroll, nm is None, onchip))
    lanes = unroll // 2 if pack else unroll
    nch = math.ceil(gs / lanes)
    g = Gemv(rows, k, k // group, gs, lanes, nch, int(bool(nm)), nn, mm, cb, pack=int(pack))
    if not ch:
        return g
    # A block's rows x chs weights at UNROLL a cycle (spatial.cycles: ceil(rows*chs/U)):
    # lanes over rows first, the rest over a row's weights of the block.
    chs = ch // mm * nn
    lpr = min(chs, max(1, unroll // rows))
    return dataclasses.replace(g, ch=ch, chs=chs, rpc=min(rows, max(1, unroll // lpr)), lpr=lpr)


def gemvs(plan: SpatialPlan) -> dict[str, Gemv]:
    """Every GEMV of a layer and the LM head (key ``lm``)."""
    out = {}
    for name in layer_mats(plan.shape):
        k = plan.kernel(name)
        nm = plan.prune[MAT_CLASS[name]] if k.sparse else None
        grp = plan.group or k.k
        out[name] = _gemv(
            k.rows, k.k, grp, k.unroll, nm, k.block_in, plan.weights_onchip, plan.dsp_pack
        )
    m = plan.shape
    lm_unroll = plan.kernel("lm_head").unroll
    grp = plan.group or m.d_model
    out["lm"] = _gemv(
        m.vocab, m.d_model, grp, lm_unroll, None, onchip=plan.weights_onchip, pack=plan.dsp_pack
    )
    return out


def render(plan: SpatialPlan, out: Path) -> list[Path]:
    """Write sp_top.v, the kernel library and the harness into ``out``; return the files."""
    check(plan)
    m = plan.shape
    env = jinja_env(RTL_DIR)
    g = gemvs(plan)
    ctx = {
        "D": m.d_model,
        "NH": m.n_heads,
        "NKV": m.n_kv_heads,
        "HD": m.head_dim,
        "VOCAB": m.vocab,
        "MAXPOS": plan.max_pos,
        "C": plan.layers_built,
        "PASSES": plan.passes,
        "TILE": min(plan.tile_tokens, plan.max_pos),
        "GPT": int(plan.gpt),
        "ENC": plan.encoder,
        "W_BITS": plan.w_bits,
        "M_ATTN": plan.kernel("attn").unroll,
        "FIFO_DEPTH": plan.fifo_depth,
        "FIFOS": plan.fifos,
        "K": g,
        "LM": g["lm"],
        "STREAM": not plan.weights_onchip,
    }
    if ctx["STREAM"]:
        ps = rtl_stream.ports(plan)
        ctx.update(PORTS=ps, NP=len(ps), PW=rtl_stream.slot_bits(ps))
    out.mkdir(parents=True, exist_ok=True)
    top = out / f"{TOP}.v"
    top.write_text(env.get_template(f"{TOP}.v.j2").render(**ctx), encoding="utf-8")
    files = [top]
    for name in LIBRARY:
        shutil.copyfile(RTL_DIR / name, out / name)
        files.append(out / name)
    harness = (RTL_DIR / HARNESS).read_text(encoding="utf-8")
    # the harness serves the memory ports only where sp_top has them
    prefix = "" if plan.weights_onchip else "#define SP_STREAM 1\n"
    (out / HARNESS).write_text(prefix + harness, encoding="utf-8")
    files.append(out / HARNESS)
    return files


def _hex(path: Path, values: Any, bits: int) -> None:
    """One two's-complement word of ``bits`` a line, as ``$readmemh`` reads it."""
    mask = (1 << bits) - 1
    digits = (bits + 3) // 4
    # object dtype: packed ROM words are Python ints wider than 64 bits (never via float)
    flat = np.asarray(values, dtype=object).ravel()
    path.write_text("".join(f"{int(v) & mask:0{digits}x}\n" for v in flat))


def _chunks(q: QMat, g: Gemv, nm: tuple[int, int] | None, wb: int) -> tuple[list[int], list[int]]:
    """Weight and column ROM words of one matrix, in issue order (row, group, chunk)."""
    if nm:
        vals, offs = compress(q, nm)
        idx = np.arange(vals.shape[1])
        cols = (idx // g.nn) * g.mm + offs  # absolute column of every stored weight
    else:
        vals, cols = q.w, np.broadcast_to(np.arange(g.k), q.w.shape)
    pad = g.nch * g.unroll - g.gs
    v = np.pad(vals.reshape(g.rows, g.ng, g.gs), ((0, 0), (0, 0), (0, pad)))
    c = np.pad(cols.reshape(g.rows, g.ng, g.gs), ((0, 0), (0, 0), (0, pad)))
    if g.pack:  # a lane holds rows 2i (low) and 2i + 1 (high) at one column
        v = v.reshape(g.rows // 2, 2, g.ng, g.nch, g.unroll).transpose(0, 2, 3, 4, 1)
        v = v.reshape(-1, 2 * g.unroll).astype(object) & ((1 << wb) - 1)
        sh = np.array([1 << (n * wb) for n in range(2 * g.unroll)], dtype=object)
        return list((v * sh).sum(axis=1)), []
    v = v.reshape(-1, g.unroll).astype(object) & ((1 << wb) - 1)
    c = c.reshape(-1, g.unroll).astype(object)
    sh = np.array([1 << (lane * wb) for lane in range(g.unroll)], dtype=object)
    shc = np.array([1 << (lane * g.cb) for lane in range(g.unroll)], dtype=object)
    return list((v * sh).sum(axis=1)), list((c * shc).sum(axis=1))


def _columns(q: QMat, g: Gemv, wb: int) -> tuple[list[int], list[int]]:
    """Column-mode ROM words: per block, row chunk, weight chunk; lane rr * LPR + jj holds
    row rc * RPC + rr's stored weight jc * LPR + jj of the block and its column in it."""
    if g.sparse:
        vals, offs = compress(q, (g.nn, g.mm))
    else:
        vals, offs = q.w, np.zeros_like(q.w)
    nb = g.k // g.ch
    j = np.arange(g.chs)
    cols = (
        (j // g.nn) * g.mm + offs.reshape(g.rows, nb, g.chs)
        if g.sparse
        else np.tile(j, (g.rows, nb, 1))
    )
    v = vals.reshape(g.rows, nb, g.chs)
    pr, pj = g.nrc * g.rpc - g.rows, g.njc * g.lpr - g.chs
    v = np.pad(v, ((0, pr), (0, 0), (0, pj))).astype(object) & ((1 << wb) - 1)
    c = np.pad(cols, ((0, pr), (0, 0), (0, pj))).astype(object)
    # (rc, rr, b, jc, jj) -> (b, rc, jc, rr, jj): one word per (b, rc, jc)
    shape = (g.nrc, g.rpc, nb, g.njc, g.lpr)
    words = v.reshape(shape).transpose(2, 0, 3, 1, 4).reshape(-1, g.rpc * g.lpr)
    cwords = c.reshape(shape).transpose(2, 0, 3, 1, 4).reshape(-1, g.rpc * g.lpr)
    sh = np.array([1 << (n * wb) for n in range(g.rpc * g.lpr)], dtype=object)
    shc = np.array([1 << (n * g.ccb) for n in range(g.rpc * g.lpr)], dtype=object)
    return list((words * sh).sum(axis=1)), list((cwords * shc).sum(axis=1))


def _rq(pairs: list[tuple[int, int]]) -> list[int]:
    return [(mm << 8) | sh for mm, sh in pairs]


def write_roms(plan: SpatialPlan, qm: QuantModel, folder: Path) -> None:
    """The ROM images of ``qm`` for the RTL of ``plan`` under ``folder/rom``."""
    rom = folder / "rom"
    rom.mkdir(parents=True, exist_ok=True)
    m, c_built, g = plan.shape, plan.layers_built, gemvs(plan)
    _hex(rom / "emb.hex", qm.emb, 8)
    if qm.pos is not None:
        _hex(rom / "pos.hex", qm.pos[: plan.max_pos], 8)
    if not is_gpt(m):
        assert qm.rope_cos is not None and qm.rope_sin is not None
        _hex(rom / "rope_cos.hex", qm.rope_cos[: plan.max_pos], 16)
        _hex(rom / "rope_sin.hex", qm.rope_sin[: plan.max_pos], 16)
    gf, bf, mf, shf = qm.norm_f
    _hex(rom / "nf_g.hex", gf, 8)
    _hex(rom / "nf_b.hex", bf, 8)
    _hex(rom / "nf_rq.hex", _rq([(mf, shf)]), 32)
    onchip = plan.weights_onchip  # else the weights are in the streamed image
    if onchip:
        w, _ = _chunks(qm.lm, g["lm"], None, plan.w_bits)
        _hex(rom / "lm_w.hex", w, g["lm"].word_bits(plan.w_bits))
    _hex(rom / "lm_s.hex", qm.lm.s, 16)
    _hex(rom / "lm_rq.hex", [0], 32)
    for c in range(c_built):
        layers = [p * c_built + c for p in range(plan.passes)]  # served by instance c
        p = rom / f"c{c}_"
        for name in layer_mats(m):
            gm = g[name]
            nm = (gm.nn, gm.mm) if gm.sparse else None
            ws: list[int] = []
            ixs: list[int] = []
            cws: list[int] = []
            cixs: list[int] = []
            for li in layers if onchip else []:
                w, ix = _chunks(qm.layers[li][name], gm, nm, plan.w_bits)
                ws += w
                ixs += ix
                if gm.ch:
                    w, ix = _columns(qm.layers[li][name], gm, plan.w_bits)
                    cws += w
                    cixs += ix
            if onchip:
                _hex(Path(f"{p}{name}_w.hex"), ws, gm.word_bits(plan.w_bits))
            if gm.sparse and onchip:
                _hex(Path(f"{p}{name}_ix.hex"), ixs, gm.unroll * gm.cb)
            if gm.ch:
                _hex(Path(f"{p}{name}_cw.hex"), cws, gm.rpc * gm.lpr * plan.w_bits)
                if gm.sparse:
                    _hex(Path(f"{p}{name}_cix.hex"), cixs, gm.rpc * gm.lpr * gm.ccb)
            _hex(Path(f"{p}{name}_s.hex"), [qm.layers[li][name].s for li in layers], 16)
            _hex(Path(f"{p}{name}_rq.hex"), _rq([qm.rq[li][name] for li in layers]), 32)
        for key in ("score", "ctx") + (() if plan.gpt else ("mid",)):
            _hex(Path(f"{p}rq_{key}.hex"), _rq([qm.rq[li][key] for li in layers]), 32)
        for nk in ("n1", "n2"):
            _hex(Path(f"{p}{nk}_g.hex"), [qm.norms[li][nk][0] for li in layers], 8)
            _hex(Path(f"{p}{nk}_b.hex"), [qm.norms[li][nk][1] for li in layers], 8)
            _hex(Path(f"{p}{nk}_rq.hex"), _rq([qm.norms[li][nk][2:] for li in layers]), 32)
        _hex(Path(f"{p}lut_exp.hex"), [qm.luts[li]["exp"] for li in layers], 18)
        _hex(Path(f"{p}lut_act.hex"), [qm.luts[li]["act"] for li in layers], 8)


def build(plan: SpatialPlan) -> Path:
    """The Verilator simulator of ``plan``'s top, built once per generated source."""
    with tempfile.TemporaryDirectory(prefix="spatial-rtl-") as tmp:
        files = render(plan, Path(tmp))
        srcs = [f for f in files if f.suffix == ".v"] + [Path(tmp) / HARNESS]
        return verilate(TOP, srcs, {}, tag="spatial")


def simulate(
    plan: SpatialPlan,
    qm: QuantModel,
    prompt: list[int],
    n_new: int,
    point: Mapping[str, Any] | None = None,
) -> RtlRun:
    """Prefill ``prompt`` and decode ``n_new - 1`` greedy tokens in RTL simulation; a
    streamed plan's memory is the one the cost model prices for ``point`` (its clock,
    channels, port width; ``rtl_stream.memory``)."""
    if len(prompt) + n_new - 1 > plan.max_pos:
        raise SpatialError("max_positions", f"prompt + new tokens exceed {plan.max_pos}")
    binary = build(plan)
    with tempfile.TemporaryDirectory(prefix="spatial-sim-") as tmp:
        wd = Path(tmp)
        write_roms(plan, qm, wd)
        run = f"vocab {plan.shape.vocab}\ntokens {len(prompt)} {n_new} "
        run += " ".join(map(str, prompt)) + "\nout result.txt\n"
        if not plan.weights_onchip:
            (wd / "weights.bin").write_bytes(rtl_stream.image(plan, qm))
            run += rtl_stream.run_lines(plan, rtl_stream.memory(point or {}), "weights.bin")
        (wd / "run.txt").write_text(run)
        done = subprocess.run([str(binary), "run.txt"], cwd=wd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = done.stderr.strip()[-300:]
            raise SimError(f"spatial RTL simulation failed ({done.returncode}): {tail}")
        accs, cycles = [], []
        for line in (wd / "result.txt").read_text().splitlines():
            f = line.split()
            if f[0] == "call":
                cycles.append(int(f[4]))
            elif f[0] == "logits":
                accs.append(np.array([int(v) for v in f[1:]], dtype=np.int64))
    return RtlRun(accs, cycles)
