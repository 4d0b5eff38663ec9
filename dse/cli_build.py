"""``dse build`` and ``dse templates``: one real build of a design point, template listings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cost_models._safeload import UnsafeInput, load_json, read_text
from dse._console import make_console
from dse.errors import ConfigError, StudyNotFound
from dse.layout import ResultsLayout, layout

templates_app = typer.Typer(no_args_is_help=True, help="Hardware templates.")
console = make_console()


def register(app: typer.Typer) -> None:
    """Add ``build`` and ``templates`` to the ``dse`` app."""
    app.command("build")(build_cmd)
    app.add_typer(templates_app, name="templates")


def parse_point(text: str) -> dict[str, Any]:
    """``--point``: a JSON object, or ``@file.json``."""
    source = "--point"
    try:
        if text.startswith("@"):
            source = text[1:]
            text = read_text(source)
        data = load_json(text)
    except UnsafeInput as exc:
        raise ConfigError(source, "(json)", exc.reason, exc.line) from None
    if not isinstance(data, dict):
        raise ConfigError(source, "(json)", f"expected a JSON object, got {type(data).__name__}")
    return data


def trial_point(spec: str, results: Path | ResultsLayout) -> dict[str, Any]:
    """``STUDY:N`` -> trial N's design point from ``<results>/<STUDY>/optuna.db``."""
    from dse.sweep import read_trial

    study_name, sep, number = spec.rpartition(":")
    if not sep or not study_name or not number.isdigit():
        raise ConfigError("--trial", spec, "expected STUDY:N, e.g. smollm-ecp5:12")
    lay = layout(results)
    db = lay.study_db(study_name)
    if not db.is_file():
        known = sorted(p.parent.name for p in lay.study_dbs())
        raise StudyNotFound(
            f"--trial {spec}: no study storage at {db} (studies under {lay.root}: "
            f"{', '.join(known) or 'none'})"
        )
    try:
        got = read_trial(study_name, int(number), lay.study_url(study_name))
    except StudyNotFound:
        raise StudyNotFound(f"--trial {spec}: {db} has no study named '{study_name}'") from None
    if got.trial is None:
        raise StudyNotFound(
            f"--trial {spec}: study '{study_name}' has no trial {number} "
            f"(it has trials 0..{got.count - 1})"
            if got.count
            else f"--trial {spec}: study '{study_name}' has no trials yet"
        )
    point = got.trial.user_attrs.get("point")
    return dict(point) if isinstance(point, Mapping) else dict(got.trial.params)


def build_cmd(
    config: Annotated[Path, typer.Argument(help="study config YAML")],
    point: Annotated[
        str | None, typer.Option("--point", help="JSON object merged over design:, or @file")
    ] = None,
    trial: Annotated[
        str | None, typer.Option("--trial", help="STUDY:N - build trial N of a stored study")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="template to build (default: the arch's accelerator, overlay)"),
    ] = None,
    flow: Annotated[
        str | None,
        typer.Option(help="a flow of runners.TOOLCHAINS (default: the board's first build.flows)"),
    ] = None,
    part: Annotated[str | None, typer.Option(help="part (default: the platform's)")] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if cached")] = False,
    results: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Build one design point of CONFIG locally and print the result."""
    from dse.buildspec import resolve_build
    from dse.config import load_config
    from runners import build

    if point is not None and trial is not None:
        raise ConfigError("--point/--trial", "(options)", "give one of --point or --trial")
    cfg = load_config(config)
    if trial is not None:
        extra = trial_point(trial, results)
        source = f"--trial {trial}"
    else:
        extra = parse_point(point) if point is not None else {}
        source = "--point"
    spec = resolve_build(cfg, extra, template=template, flow=flow, part=part, source=source)
    res = build(
        spec.template,
        spec.point,
        spec.flow,
        part=spec.part,
        cache_root=ResultsLayout(results).builds,
        force=force,
    )
    if as_json:
        typer.echo(res.to_json().strip())
    else:
        _render(res)
    if not res.ok:
        raise typer.Exit(1)


def _render(res: Any) -> None:
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold")
    head.add_column()
    status = "[green]ok[/]" if res.ok else f"[red]failed[/] ({res.failure_class})"
    rows = [
        ("status", status + ("  [dim](cached)[/]" if res.cached else "")),
        ("template", res.template),
        ("flow", f"{res.flow}  ({res.fidelity})"),
        ("part", res.part),
        ("params", ", ".join(f"{k}={v}" for k, v in res.params.items())),
        ("bundle", res.bundle_hash[:16]),
        ("result dir", res.result_dir),
        ("duration", f"{res.duration_s:.1f} s on {res.host}"),
    ]
    if res.first_error:
        rows.append(("first error", res.first_error))
    for key, value in rows:
        head.add_row(key, str(value))
    console.print(head)
    if res.metrics:
        table = Table(title="metrics", title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in res.metrics.items():
            table.add_row(key, "-" if value is None else str(value))
        console.print(table)
    if res.artefacts:
        for name, rel in res.artefacts.items():
            console.print(f"{name}: {Path(res.result_dir) / rel}")
    if not res.ok and res.log_tail:
        console.print("[dim]" + "\n".join(res.log_tail[-15:]) + "[/]", highlight=False)


@templates_app.command("list")
def templates_list() -> None:
    """List the templates: name, kind, flows, description."""
    from runners import list_templates

    table = Table()
    for col in ("name", "kind", "flows", "description"):
        table.add_column(col)
    for t in list_templates():
        table.add_row(t.name, t.kind, ", ".join(t.flows), t.description)
    console.print(table)


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="template name")]) -> None:
    """Show a template's parameters, constraints, sources and flows."""
    from runners import load_template

    t = load_template(name)
    console.print(f"[bold]{t.name}[/] ({t.kind}) - {t.description}", highlight=False)
    console.print(f"top: {t.top}\nflows: {', '.join(t.flows)}", highlight=False)
    console.print(f"sources: {', '.join(t.sources)}", highlight=False)
    # One line per parameter (not a table) so nothing wraps and the output greps well.
    typer.echo("parameters:")
    width = max((len(p.name) for p in t.parameters.values()), default=0)
    for p in t.parameters.values():
        key = f"  point_key={p.point_key}" if p.point_key else ""
        typer.echo(
            f"  {p.name:{width}s}  {p.type:4s} {p.allowed()}  default={p.default}{key}"
            + (f"  - {p.doc}" if p.doc else "")
        )
    for expr, why in t.constraints:
        console.print(f"constraint: {expr}" + (f"  ({why})" if why else ""), highlight=False)
    for key, default in t.context.items():
        console.print(f"context: {key} (default {default!r})", highlight=False)
