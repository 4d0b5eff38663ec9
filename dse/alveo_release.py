"""The part of ``dse promote`` that makes an Alveo (U280/U55C) temporal release runnable.

A temporal point on a board with HBM is released as the overlay packaged as an RTL kernel and
linked by ``v++`` (flow ``vitis-link``): the ``.xclbin``, the memory image of every AXI port
and the program (``alveo/``, ``overlay.xrt_host.write_layout``), which the host runner
(``overlay.xrt_host.XrtRunner``, ``dse run``) writes into the HBM banks the point's channel
map chose. ``plan`` runs before anything is built: it refuses a flow that cannot give a
runnable release (``vivado`` builds the scan-chain top), a shape the overlay cannot compile
(naming the field) and an image that does not fit the HBM it is linked to, and compiles the
point's model. ``build_spec`` sizes the kernel for that program (scratchpad, instruction
memory, x buffer). ``publish`` writes ``alveo/``, checks its ``sp=`` lines and kernel
parameters against what the ``.xclbin`` was linked from, and, for an image small enough to
simulate, runs the exact kernel sources in Verilator as XRT drives them (tokens against the
bit-exact reference) and the sim rung on the same program (cycles per token, beside the
cycle model's prediction).

The weights are the overlay's seeded random weights (``overlay.model``, seed = the study's
``seed``), as for the ECP5 release: the release proves the hardware computes the model.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dse.errors import DseError

FLOW = "vitis-link"  # the one flow that gives a loadable Alveo design
MAX_POSITIONS = 256  # KV positions the release holds (at most the shape's max_positions)
SIM_TOKENS = 4  # tokens the promote-time simulations decode
# The release's seeded random weights are made, quantised and compiled on the promoting host
# (float copies of every weight): above this a promote would run for hours or out of memory.
MAX_PARAMS = 400_000_000
SIM_LIMIT_BYTES = 4 << 20  # images above this are not simulated at promote time (hours)
KERNEL_MAIN = (
    Path(__file__).resolve().parents[1] / "templates" / "overlay_kernel" / "kernel_main.cpp"
)


class AlveoError(DseError, ValueError):
    """A temporal Alveo point, or a promote request, that cannot give a runnable release."""


@dataclass
class Plan:
    prep: Any  # overlay.flow.Prepared: the compiled model
    shape: Any  # cost_models.ModelShape
    params: dict[str, int]  # the kernel's template parameters for this program
    channels: int
    channel_bytes: float
    freq_mhz: float
    seed: int
    point: dict[str, Any]  # the trial's design point, with the platform's name


def plan(
    config_path: Path, point: dict[str, Any], template: str = "overlay", flow: str | None = None
) -> Plan | None:
    """None unless ``template`` is the overlay and the study temporal on an Alveo card (HBM
    and a Vitis platform); else the compiled model and kernel parameters, checked to fit."""
    from dse.config import load_config
    from overlay.config import OverlayError
    from overlay.flow import default_prompt, prepare
    from overlay.sim import DEFAULT_LATENCY, verilator_params

    if template != "overlay":
        return None
    cfg = load_config(config_path)
    memory: Any = getattr(cfg.platform, "memory", None)
    build = getattr(cfg.platform, "build", None)
    card = bool(getattr(build, "vitis_platforms", ()))  # an Alveo card: XRT loads its xclbin
    if cfg.arch != "temporal" or str(getattr(memory, "kind", "")) != "hbm" or not card:
        return None
    where = config_path.name
    if flow is not None and flow != FLOW:
        why = {"vivado": "; vivado builds it behind a scan-chain top, to measure, not to run"}
        raise AlveoError(
            f"--flow {flow}: a {cfg.platform.name} release of the overlay must load on the card, "
            f"and only a {FLOW} build (the kernel's .xclbin) does{why.get(flow, '')}: use "
            f"--flow {FLOW} (the default for this board)"
        )
    shape = cfg.workload.model
    channels, cap = int(memory.channels), float(memory.channel_capacity_gb) * 2**30
    w_bits = 4 if point.get("quant", "w4a8") == "w4a8" else 8
    need = shape.params_total() * w_bits / 8
    if shape.params_total() > MAX_PARAMS:
        raise AlveoError(
            f"{where}: workload: {shape.name} has {shape.params_total() / 1e6:.0f} M parameters; "
            f"the release's weight image is generated on this host, up to {MAX_PARAMS / 1e6:.0f} "
            "M parameters (dse/alveo_release.py MAX_PARAMS)"
        )
    if need > channels * cap:  # before compiling: random weights of such a model take hours
        raise AlveoError(
            f"{where}: {shape.name}'s weights need {need / 2**30:.1f} GiB and "
            f"{cfg.platform.name} has {channels * cap / 2**30:.1f} GiB of HBM"
        )
    max_pos = min(MAX_POSITIONS, shape.max_positions or MAX_POSITIONS)
    try:
        prep = prepare(shape, point, cfg.seed, max_pos, default_prompt(shape, 4, cfg.seed + 7))
    except OverlayError as exc:  # names the point key or the shape field
        field = "workload.shape." if hasattr(shape, exc.key) else "design."
        raise AlveoError(f"{where}: {shape.name} cannot be compiled: {field}{exc}") from None
    except ValueError as exc:
        raise AlveoError(
            f"{where}: {shape.name} cannot be compiled: workload.shape: {exc}"
        ) from None
    params = verilator_params(prep.cfg, prep.comp, DEFAULT_LATENCY)
    _check_params(where, params)
    point = {**point, "platform": cfg.platform.name}
    p = Plan(prep, shape, params, channels, cap, float(prep.cfg.freq_mhz), cfg.seed, point)
    _check_banks(where, p)
    return p


def _check_params(where: str, params: dict[str, int]) -> None:
    """The kernel's memories sized for the program, within what the template builds."""
    from runners import load_template

    spec = load_template("overlay").parameters
    for name, value in params.items():
        hi = spec[name].max if name in spec else None
        if hi is not None and value > hi:
            raise AlveoError(
                f"{where}: the compiled program needs {name}={value} and the overlay template "
                f"builds at most {hi} ({spec[name].doc})"
            )


def _check_banks(where: str, p: Plan) -> None:
    from overlay.isa import PORTS
    from overlay.xrt_host import hbm_banks

    banks = hbm_banks(p.prep.cfg.hbm_ch, channels=p.channels)
    for g in PORTS:
        a, b = banks[g]
        size = len(p.prep.comp.mem[g])
        if size > (b - a + 1) * p.channel_bytes:
            raise AlveoError(
                f"{where}: port {g} holds {size / 2**20:.0f} MiB and hbm_ch_{g} links it to "
                f"{b - a + 1} HBM channel(s) of {p.channel_bytes / 2**20:.0f} MiB: raise hbm_ch_{g}"
            )


def build_spec(p: Plan, spec: Any) -> Any:
    """``spec`` (a ``dse.buildspec.BuildSpec`` of the overlay, flow ``vitis-link``) with the
    kernel's parameters sized for the compiled program."""
    from runners import load_template

    tparams = load_template("overlay").parameters
    sized = {(tparams[k].point_key or k): v for k, v in p.params.items() if k in tparams}
    return replace(spec, point={**spec.point, **sized}, flow=FLOW)


def publish(p: Plan, release_dir: Path, xclbin: Path, log: Any = None) -> dict[str, Any]:
    """Write ``alveo/`` (port images, program, ``layout.json``); check it against the linked
    sources; simulate when small; return the manifest's ``alveo`` section.

    Raises AlveoError when the layout and the link disagree or a simulation is not exact.
    """
    from dse._release_files import sha256_file
    from overlay.flow import default_prompt
    from overlay.isa import PORTS
    from overlay.onchip import digests
    from overlay.xrt_host import write_layout

    comp = p.prep.comp
    folder = release_dir / "alveo"
    folder.mkdir()
    layout = write_layout(
        comp, folder, p.shape.vocab, channels=p.channels, slots=p.params.get("TT", 1)
    )
    built = release_dir / "sources"
    linked = re.findall(r"^sp=\S+", (built / "link.cfg").read_text(), re.M)
    if sorted(linked) != sorted(layout["sp"]):
        raise AlveoError(
            f"the layout's HBM banks {layout['sp']} differ from the link's {linked} "
            "(sources/link.cfg): not published"
        )
    tcl = (built / "package_xo.tcl").read_text()
    found = re.search(r"^foreach \{name value\} \{([^}]*)\}", tcl, re.M)
    words = found.group(1).split() if found else []
    packaged = dict(zip(words[::2], words[1::2], strict=False))
    wrong = {k: v for k, v in p.params.items() if packaged.get(k) != str(v)}
    if wrong:  # the xclbin's kernel would not hold this program
        raise AlveoError(
            f"sources/package_xo.tcl packaged the kernel with {packaged}, the program needs "
            f"{wrong}: not published"
        )
    img, prog = digests(comp)
    small = sum(map(len, comp.mem.values())) <= SIM_LIMIT_BYTES
    prompt = default_prompt(p.shape, 3, p.seed + 11)
    sim = simulate_release(p, folder, built, prompt, SIM_TOKENS, log) if small else None
    return {
        "kernel": layout["kernel"],
        "model": asdict(p.shape),
        "weights": f"overlay.model seeded random weights, seed {p.seed}",
        "image_sha256": img,
        "program_sha256": prog,
        "xclbin_sha256": sha256_file(xclbin),
        "layout": "alveo/layout.json",
        "channel_map": {g: int(p.prep.cfg.hbm_ch.get(g, 1)) for g in PORTS},
        "hbm_banks": {g: layout["ports"][g]["hbm"] for g in PORTS},
        "sp": layout["sp"],
        "kernel_params": p.params,
        "max_positions": comp.max_pos,
        "prefill": {k: layout["prefill"][k] for k in ("mode", "slots")},
        "clock_mhz": p.freq_mhz,
        "runner": "overlay.xrt_host.XrtRunner",
        "simulated": sim,
        "cycles_per_token": sim["cycles_per_token"] if sim else None,
        "model_cycles_per_token": sim["model_cycles_per_token"] if sim else None,
    }


def simulate_release(
    p: Plan, folder: Path, built: Path, prompt: list[int], n: int, log: Any = None
) -> dict[str, Any]:
    """The kernel built from ``built`` (the release's sources), driven as XRT drives it on
    the images in ``folder``, against the reference; the sim rung's simulator on the same
    program for cycles per token, beside the cycle model's prediction of the same run."""
    from cost_models._overlay_cycles import run_cycles
    from overlay.reference import run_reference
    from overlay.sim import DEFAULT_LATENCY, simulate
    from overlay.simflow import memory_of

    want, _ = run_reference(p.prep.qm, prompt, n)
    if log:
        log(f"simulating the released kernel as XRT drives it ({len(prompt)} + {n} tokens)")
    got = _run_kernel(p, folder, built, prompt, n)
    if got != want:
        raise AlveoError(
            f"the released kernel decoded {got} in simulation, the bit-exact reference {want}: "
            "not published"
        )
    mem = memory_of(p.point, p.prep.cfg, DEFAULT_LATENCY)
    run = simulate(p.prep.comp, prompt, n, dict(mem.rates), DEFAULT_LATENCY)
    if run.tokens != want:
        raise AlveoError(f"the sim rung decoded {run.tokens}, the reference {want}: not published")
    pre, dec = run_cycles(p.shape, p.point, len(prompt), n, mem, p.prep.comp.max_pos)
    steps = len(run.step_cycles)
    return {
        "prompt": prompt,
        "tokens": got,
        "reference_tokens": want,
        "bit_exact": True,
        "hbm_latency_cycles": DEFAULT_LATENCY,
        "step_cycles": sum(run.step_cycles),
        "cycles_per_token": sum(run.step_cycles) / steps,
        "model_cycles_per_token": (pre + sum(dec)) / steps,
    }


def _run_kernel(p: Plan, folder: Path, built: Path, prompt: list[int], n: int) -> list[int]:
    """Tokens of the kernel built from the release's own ``sources/`` in Verilator, driven
    through ``s_axi_control`` as XRT does (``templates/overlay_kernel/kernel_main.cpp``)."""
    import subprocess

    from overlay.sim import SOURCES, verilate
    from overlay.xrt_host import KERNEL, kernel_run_file

    lay = json.loads((folder / "layout.json").read_text())
    top = (built / f"{KERNEL}.v").read_text()
    declared = set(re.findall(r"parameter\s+(\w+)\s*=", top[: top.index(") (")]))
    params = {k: v for k, v in p.params.items() if k in declared}
    files = [built / f"{KERNEL}.v", built / "overlay_top.v", *(built / s for s in SOURCES)]
    files.append(KERNEL_MAIN)
    binary = verilate(KERNEL, files, params, tag="kernel")
    with tempfile.TemporaryDirectory(prefix="dse-alveo-") as tmp:
        out = Path(tmp) / "result.txt"
        run = kernel_run_file(p.prep.cfg.beat, folder, lay, prompt, n, out)
        (Path(tmp) / "run.txt").write_text(run)
        done = subprocess.run(
            [str(binary), str(Path(tmp) / "run.txt")], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise AlveoError(
                f"the released kernel's simulation failed ({done.returncode}): "
                f"{done.stderr.strip()[-300:]}; not published"
            )
        steps = [ln.split() for ln in out.read_text().splitlines() if ln.startswith("step")]
    return [int(f[3]) for f in steps[len(prompt) - 1 :]]
