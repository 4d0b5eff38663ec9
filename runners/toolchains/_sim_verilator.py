"""``sim-verilator``: a generated accelerator (the overlay, the spatial RTL) in
cycle-accurate RTL simulation.

The ``sim`` rung: the bundle holds the generated RTL, the point's tiny model compiled to a
program and memory images, and the bit-exact reference's expected tokens (written by
``overlay.simflow`` in ``prepare``, deterministic; a template with a ``generator``
module, the spatial RTL's ``spatial.flow``, brings its own ``write_bundle`` and
``read_result``); the steps build the Verilator model and run prefill plus decode (the
overlay against an AXI memory model with the platform's per-port rates).
Metrics: ``bit_exact``, ``prefill_cycles``, ``decode_cycles_kv<T>``,
``decode_cycles_per_token`` and the cost model's prediction of the same cycles.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runners._executor import Command
from runners._result import BuildResult
from runners.toolchains._base import Toolchain, ToolchainError, existing, result

if TYPE_CHECKING:
    from runners._bundle import Bundle


class SimVerilator(Toolchain):
    """Verilator simulation of the overlay: bit-exactness and cycles per token."""

    name = "sim-verilator"
    description = "Verilator RTL simulation of the overlay: bit-exact tokens, cycles per token"
    fidelity = "sim"
    default_part = "sim"
    programs: ClassVar[Mapping[str, tuple[str, ...]]] = {"verilator": ("--version",)}
    step_timeout_s = 1800.0
    # The simulated tiny model has d_model 64: the cost model's default group of 128
    # weights does not divide it.
    example_point: ClassVar[Mapping[str, object]] = {"quant_group": 64}

    def prepare(self, bundle: Bundle) -> list[Command]:
        """Compile the tiny model into the bundle; build and run steps."""
        from overlay.config import OverlayError

        try:
            build, run = _simflow(bundle.template.generator).write_bundle(
                bundle.folder, bundle.point
            )
        except OverlayError as exc:  # the spatial generator's SpatialError is one too
            raise ToolchainError(f"flow '{self.name}': design point {exc}") from None
        return [
            Command("verilate", tuple(build), "verilator.log", timeout_s=self.step_timeout_s),
            Command("simulate", tuple(run), "sim.log", timeout_s=self.step_timeout_s),
        ]

    def parse(self, workdir: Path) -> BuildResult:
        """Compare the run with the reference; cycles measured and predicted."""
        reports = existing(
            workdir, {"result": "result.txt", "expected": "expected.json", "log": "sim.log"}
        )
        try:
            metrics = _simflow(_generator_of(workdir)).read_result(workdir)
        except (OSError, ValueError, IndexError) as exc:
            return result(
                "failed",
                metrics={},
                failure_class="tool_error",
                first_error=f"simulation wrote no readable result.txt: {exc}",
                reports=reports,
                fidelity=self.fidelity,
            )
        if not metrics["bit_exact"]:
            return result(
                "failed",
                metrics=metrics,
                failure_class="tool_error",
                first_error="RTL tokens, residual stream or logits differ from the bit-exact "
                "reference",
                reports=reports,
                fidelity=self.fidelity,
            )
        return result("ok", metrics=metrics, reports=reports, fidelity=self.fidelity)


def _simflow(generator: str) -> Any:
    """The module with the rung's two halves (``write_bundle``, ``read_result``): a generated
    template's generator (the spatial RTL: ``spatial.flow``), else the overlay's."""
    return importlib.import_module(generator or "overlay.simflow")


def _generator_of(workdir: Path) -> str:
    """The generator of the template a finished bundle was made from (its bundle.json)."""
    from runners._bundle import BUNDLE_JSON
    from runners._templates import load_template

    name = json.loads((workdir / BUNDLE_JSON).read_text(encoding="utf-8"))["template"]
    return load_template(name).generator
