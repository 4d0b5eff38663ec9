"""The ``dse`` command line. Errors print one line and exit with code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

import cost_models as cm
from dse._console import make_console
from dse.cli_build import register as register_build
from dse.cli_dashboard import register as register_dashboard
from dse.cli_hosts import register as register_hosts
from dse.cli_release import register as register_release
from dse.cli_run import register as register_run
from dse.cli_sweep import register as register_sweep
from dse.errors import DseError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    help="Design-space exploration for FPGA accelerators of LLM inference.",
)
report_app = typer.Typer(no_args_is_help=True, help="Tool report parsing.")
app.add_typer(report_app, name="report")
register_build(app)  # dse build, dse templates (dse/cli_build.py)
register_dashboard(app)  # dse dashboard (dse/cli_dashboard.py)
register_hosts(app)  # dse hosts check (dse/cli_hosts.py)
register_release(app)  # dse promote, dse release list/show/verify (dse/cli_release.py)
register_run(app)  # dse run: a released on-chip overlay over UART (dse/cli_run.py)
register_sweep(app)  # dse sweep, status, pareto, export (dse/cli_sweep.py)
console = make_console()
err_console = make_console(stderr=True)


@app.command()
def estimate(
    config: Annotated[Path, typer.Argument(help="study config YAML")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override KEY=VALUE (dotted key), repeatable")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Score the config's design point with the cost model and show the breakdown."""
    from dse._estimate_view import render, to_json
    from dse.config import load_config
    from dse.scoring import Model

    cfg = load_config(config, set_ or [])
    row = Model.of(cfg).evaluate(cfg.point, detail=True).iloc[0]  # the raw model (no study)
    if as_json:
        typer.echo(json.dumps({"config": cfg.source, "name": cfg.name, **to_json(row)}))
    else:
        render(cfg, row, console)


@app.command("platforms")
def platforms() -> None:
    """List the platforms shipped in cost_models/platforms."""
    for name in cm.list_platforms():
        p = cm.load_platform(name)
        typer.echo(f"{name:10s} {p.kind:5s} {getattr(p, 'part', '')}")


@app.command("models")
def models() -> None:
    """List the model presets (Hugging Face shapes) shipped in cost_models/workloads."""
    for name in cm.list_presets():
        s = cm.preset_shape(name)
        typer.echo(
            f"{name:22s} layers={s.n_layers:3d} d={s.d_model:5d} heads={s.n_heads}/"
            f"{s.n_kv_heads} ffn={s.d_ffn} {s.ffn} params={s.params_total() / 1e9:.2f}B"
        )


@report_app.command("parse")
def report_parse(
    file: Annotated[Path, typer.Argument(help="a Vivado/Vitis/Yosys/nextpnr report or log")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Parse a tool report or log and print what was found."""
    from runners.reports import parse_report

    rep = parse_report(file)
    d = rep.to_dict()
    if as_json:
        typer.echo(json.dumps(d))
        return
    width = max(len(k) for k in d)
    for k, v in d.items():
        typer.echo(f"{k:{width}s}  {v}")


def _fail(message: str, hint: str = "") -> NoReturn:
    """Print ``error: MESSAGE`` as one line (plus an optional hint line) and exit 2."""
    text = " ".join(message.split())  # a message never spans lines, whatever it quotes
    err_console.print(f"[red]error:[/] {escape(text)}", soft_wrap=True)
    if hint:
        err_console.print(escape(hint), soft_wrap=True)
    sys.exit(2)


def _usage_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", "") or "dse"
    return f"(see '{path} --help')"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app; expected errors and usage errors print one line and
    exit 2, never a traceback.

    Typer >= 0.2x vendors click as ``typer._click``: its usage errors are *not*
    ``click.exceptions`` but derive from the public ``typer.TyperException``, so that is what
    is caught here (pyproject pins the typer series this was checked against).
    """
    try:
        code = app(args=argv, prog_name="dse", standalone_mode=False)
        # With standalone_mode=False a typer.Exit's code is returned, not raised.
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except DseError as exc:  # the one root: cost_models' and runners' errors too
        _fail(str(exc))
    except OSError as exc:
        # The environment refused (an unwritable --results, a full disk): name the path.
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # ``dse`` or ``dse report`` alone: the help text is the message.
            err_console.print(escape(exc.format_message()))
            sys.exit(2)
        _fail(exc.format_message(), _usage_hint(exc) if exc.exit_code == 2 else "")


if __name__ == "__main__":
    main()
