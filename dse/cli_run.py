"""``dse run RELEASE --port DEV --prompt 1,2,3 --tokens 16``: decode on a board.

Talks to a released ECP5 top (a manifest with an ``onchip`` section: the overlay's,
``dse/onchip_release.py``, or the spatial accelerator's, ``dse/spatial_release.py``; one
UART protocol, ``overlay.onchip.run_uart``) over its UART with pyserial; ``--port`` is a
device path or any pyserial URL (``socket://host:port``, ``rfc2217://``...). An Alveo
release (an ``alveo`` section, ``dse/alveo_release.py``) runs on the card through XRT's
``pyxrt`` instead (``dse/cli_run_alveo.py``); it takes ``--device`` and no ``--port``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dse.errors import DseError
from dse.layout import DEFAULT_RESULTS


class RunError(DseError, ValueError):
    """Bad input to ``dse run`` or a board that does not answer as a release should."""


def parse_prompt(text: str) -> list[int]:
    try:
        ids = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise RunError(f"--prompt: expected comma-separated token ids, got {text!r}") from None
    if not ids:
        raise RunError("--prompt: at least one token id")
    return ids


def onchip_section(results: Path, name: str) -> dict[str, Any]:
    from dse.release import load_release

    rel = load_release(results, name)
    section = rel.manifest.get("onchip")
    if not isinstance(section, dict):
        raise RunError(
            f"release {name!r}: its manifest has no 'onchip' section; `dse run` drives a "
            "released ECP5 top (overlay or spatial) over UART (an Alveo release has its own "
            "host runner)"
        )
    model, uart = section.get("model"), section.get("uart")
    fields = {
        "onchip.model.vocab": model.get("vocab") if isinstance(model, dict) else None,
        "onchip.max_positions": section.get("max_positions"),
        "onchip.uart.baud": uart.get("baud") if isinstance(uart, dict) else None,
    }
    for key, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RunError(
                f"release {name!r}: manifest.json {key}: expected a positive integer, got {value!r}"
            )
    clock = section.get("clock_mhz")
    if clock is not None and (isinstance(clock, bool) or not isinstance(clock, int | float)):
        raise RunError(f"release {name!r}: manifest.json onchip.clock_mhz: expected a number")
    return section


def check_request(section: dict[str, Any], prompt: list[int], n: int) -> None:
    """Refuse a request the release cannot serve, before any port is opened."""
    if not 1 <= n <= 255:
        raise RunError(f"--tokens: 1 to 255, got {n}")
    vocab = int(section["model"]["vocab"])
    bad = [t for t in prompt if not 0 <= t < vocab]
    if bad:
        raise RunError(f"--prompt: token ids {bad} outside the model's vocabulary 0..{vocab - 1}")
    if len(prompt) + n - 1 > int(section["max_positions"]):
        raise RunError(
            f"--prompt/--tokens: {len(prompt)} + {n} - 1 positions, the release holds "
            f"{section['max_positions']}"
        )


def run_release(
    section: dict[str, Any], port: Any, prompt: list[int], n: int
) -> tuple[list[int], int]:
    """Check the request against the release, then decode over ``port`` (pyserial-like)."""
    from overlay.onchip import run_uart

    check_request(section, prompt, n)
    try:
        return run_uart(port, prompt, n)
    except (TimeoutError, ValueError) as exc:
        raise RunError(str(exc)) from None


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        release: Annotated[str, typer.Argument(help="release name (dse release list)")],
        prompt: Annotated[str, typer.Option(help="prompt token ids, comma-separated")],
        port: Annotated[
            str | None, typer.Option(help="serial device or pyserial URL (ECP5 release)")
        ] = None,
        tokens: Annotated[int, typer.Option(help="tokens to generate")] = 16,
        results: Annotated[Path, typer.Option(help="results root")] = DEFAULT_RESULTS,
        timeout: Annotated[float, typer.Option(help="seconds to wait for each reply")] = 30.0,
        device: Annotated[int, typer.Option(help="XRT device index (Alveo release)")] = 0,
    ) -> None:
        """Decode TOKENS tokens after PROMPT on a board running release RELEASE."""
        from dse.cli_run_alveo import is_alveo, run_alveo

        if is_alveo(results, release):
            run_alveo(results, release, parse_prompt(prompt), tokens, device, port)
            return
        import serial  # pyserial

        section = onchip_section(results, release)
        if port is None:
            raise RunError(f"release {release!r}: --port: the board's serial port is needed")
        ids = parse_prompt(prompt)
        check_request(section, ids, tokens)
        baud = int(section["uart"]["baud"])
        try:
            link = serial.serial_for_url(port, baudrate=baud, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise RunError(f"--port {port}: {exc}") from None
        with link:
            out, cycles = run_release(section, link, ids, tokens)
        steps = len(ids) + tokens - 1
        typer.echo(",".join(map(str, out)))
        clock = float(section.get("clock_mhz") or 0)
        per = cycles / steps
        speed = f", {clock * 1e6 / per:.1f} tokens/s at {clock:g} MHz" if clock else ""
        typer.echo(f"cycles {cycles} ({per:.0f} per token{speed})", err=True)
