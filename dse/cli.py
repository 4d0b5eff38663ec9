"""The ``dse`` command line. Errors print one line and exit with code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

import cost_models as cm
from dse.cli_build import register as register_build
from dse.cli_dashboard import register as register_dashboard
from dse.cli_hosts import register as register_hosts
from dse.cli_release import register as register_release
from dse.cli_sweep import register as register_sweep
from dse.errors import DseError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Design-space exploration for FPGA accelerators of LLM inference.",
)
report_app = typer.Typer(no_args_is_help=True, help="Tool report parsing.")
app.add_typer(report_app, name="report")
register_build(app)  # dse build, dse templates (dse/cli_build.py)
register_dashboard(app)  # dse dashboard (dse/cli_dashboard.py)
register_hosts(app)  # dse hosts check (dse/cli_hosts.py)
register_release(app)  # dse promote, dse release list/show/verify (dse/cli_release.py)
register_sweep(app)  # dse sweep, status, pareto, export (dse/cli_sweep.py)
console = Console()
err_console = Console(stderr=True)


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

    cfg = load_config(config, set_ or [])
    df = cm.evaluate(
        cfg.workload,
        cfg.platform,
        cfg.point,
        arch=cfg.arch,
        baseline=cfg.baseline,
        detail=True,
    )
    row = df.iloc[0]
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning expected errors into one line + exit 2."""
    try:
        code = app(args=argv, standalone_mode=False)
        # With standalone_mode=False click returns (not raises) a typer.Exit's code.
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except (DseError, cm.InputError) as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:
        from click.exceptions import ClickException, Exit

        if isinstance(exc, Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(2)
        try:
            from runners import RunnerError
        except ImportError:  # pragma: no cover - runners is part of the package
            raise exc from None
        if isinstance(exc, RunnerError):
            err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
