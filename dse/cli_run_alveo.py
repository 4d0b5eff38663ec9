"""``dse run RELEASE --prompt 1,2,3 --tokens 16`` for an Alveo release: decode on the card.

The release's ``alveo/`` folder (port images, program, ``layout.json``) and its ``.xclbin``
go to ``overlay.xrt_host.XrtRunner``, which uses XRT's Python binding ``pyxrt`` (on a card
host: ``source /opt/xilinx/xrt/setup.sh`` puts it on ``PYTHONPATH``).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import typer

from dse.cli_run import RunError, check_request


def is_alveo(results: Path, name: str) -> bool:
    """Whether ``name`` is a readable release with an ``alveo`` section (an unreadable one
    is left to the ECP5 path, which names what is wrong)."""
    from dse.release import ReleaseError, load_release

    try:
        return "alveo" in load_release(results, name).manifest
    except (ReleaseError, OSError, ValueError):
        return False


def alveo_section(results: Path, name: str) -> tuple[Any, dict[str, Any]]:
    """(release, its ``alveo`` section), the fields ``dse run`` reads checked."""
    from dse.release import load_release

    rel = load_release(results, name)
    section = rel.manifest["alveo"]
    model = section.get("model") if isinstance(section, dict) else None
    fields = {
        "alveo.model.vocab": model.get("vocab") if isinstance(model, dict) else None,
        "alveo.max_positions": section.get("max_positions") if isinstance(section, dict) else None,
    }
    for key, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RunError(
                f"release {name!r}: manifest.json {key}: expected a positive integer, got {value!r}"
            )
    return rel, section


def check_images(rel: Any, section: dict[str, Any]) -> Path:
    """The ``alveo/`` folder, after checking its port images are the ones released (the
    runner writes them into HBM as they are)."""
    folder = Path(rel.path) / "alveo"
    try:
        import json

        layout = json.loads((folder / "layout.json").read_text())
        digest = hashlib.sha256()
        for port in layout["ports"].values():  # in port order, as image_sha256 is taken
            digest.update((folder / port["file"]).read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(
            f"release {rel.name!r}: {folder / 'layout.json'}: unreadable ({exc})"
        ) from None
    if digest.hexdigest() != section.get("image_sha256"):
        raise RunError(
            f"release {rel.name!r}: the port images in {folder} do not match the manifest's "
            "alveo.image_sha256 (run dse release verify)"
        )
    return folder


def run_alveo(
    results: Path, name: str, prompt: list[int], n: int, device: int, port: str | None
) -> None:
    """Decode ``n`` tokens after ``prompt`` on XRT device ``device``; tokens on stdout."""
    from overlay.xrt_host import XrtRunner

    if port is not None:
        raise RunError(f"release {name!r} is an Alveo release: it takes --device, not --port")
    rel, section = alveo_section(results, name)
    check_request(section, prompt, n)
    folder = check_images(rel, section)
    try:
        runner = XrtRunner(folder, rel.bitstream, device=device)
        start = time.perf_counter()
        out = runner.generate(prompt, n)
        took = time.perf_counter() - start
    except ModuleNotFoundError as exc:
        raise RunError(
            f"release {name!r}: XRT's Python binding is not importable ({exc}); on the card's "
            "host: source /opt/xilinx/xrt/setup.sh"
        ) from None
    except (RuntimeError, ValueError, OSError) as exc:
        raise RunError(f"release {name!r} on XRT device {device}: {exc}") from None
    typer.echo(",".join(map(str, out)))
    steps = len(prompt) + n - 1
    typer.echo(
        f"{steps} steps ({len(prompt)} prompt, {n - 1} decode) in {took:.3f} s on device "
        f"{device}: {steps / took:.1f} steps/s, host calls included",
        err=True,
    )
