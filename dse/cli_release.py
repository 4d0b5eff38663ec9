"""``dse promote`` and ``dse release list | show | verify`` (library: ``dse.release``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dse._console import make_console
from dse.layout import ResultsLayout

if TYPE_CHECKING:
    from dse.release import Release

release_app = typer.Typer(no_args_is_help=True, help="Published releases (results/releases/).")
console = make_console()
err_console = make_console(stderr=True)
_RESULTS = typer.Option("--results", help="results root holding <study>/, builds/, releases/")
_JSON = typer.Option("--json", help="print one JSON object")


def register(app: typer.Typer) -> None:
    """Add ``promote`` and ``release`` to the ``dse`` app."""
    app.command("promote")(promote_cmd)
    app.add_typer(release_app, name="release")


def promote_cmd(
    study: Annotated[str, typer.Argument(help="study name (see `dse status`)")],
    trial: Annotated[str, typer.Argument(help="trial number, or best:<objective metric>")],
    name: Annotated[str, typer.Option("--name", help="release name (results/releases/NAME)")],
    flow: Annotated[
        str | None,
        typer.Option(help="a flow that makes a deliverable (default: the board's first such)"),
    ] = None,
    template: Annotated[
        str | None, typer.Option(help="template (default: the arch's accelerator, overlay)")
    ] = None,
    part: Annotated[str | None, typer.Option(help="part (default: the platform's)")] = None,
    hosts: Annotated[
        Path | None, typer.Option("--hosts", help="hosts.yaml: build on the farm (docs/farm.md)")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="build on this host of --hosts only")
    ] = None,
    allow_timing_failure: Annotated[
        bool,
        typer.Option("--allow-timing-failure", help="publish even if timing is not met"),
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="join this Ray cluster (with --hosts)")
    ] = None,
    results: Annotated[Path, _RESULTS] = Path("results"),
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna RDB URL (default sqlite:///results/<study>/optuna.db)"),
    ] = None,
    sign_key: Annotated[
        Path | None,
        typer.Option("--sign-key", help="key file: also sign the release (RELEASES/NAME.sig)"),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Build a trial at bitstream fidelity and publish it, read-only, with its provenance.

    Exit status: 0 published, 1 the build failed or missed timing (nothing published),
    2 bad input (unknown study/trial/metric/host, bad or taken name).
    """
    from dse.release import ReleaseBuildFailed, promote, release_digest

    def log(msg: str) -> None:
        if not as_json:
            err_console.print(f"[dim]{escape(msg)}[/]", highlight=False)

    try:
        rel = promote(
            study,
            trial,
            name,
            flow=flow,
            template=template,
            part=part,
            hosts=hosts,
            host=host,
            allow_timing_failure=allow_timing_failure,
            results=results,
            storage=storage,
            ray_address=ray_address,
            sign_key=sign_key,
            log=log,
        )
    except ReleaseBuildFailed as exc:
        err_console.print(f"[red]not published:[/] {escape(str(exc))}", highlight=False)
        if exc.result.log_tail and not as_json:
            err_console.print(escape("\n".join(exc.result.log_tail[-10:])), style="dim")
        raise typer.Exit(1) from None
    digest = release_digest(rel)
    if as_json:
        typer.echo(
            json.dumps({"name": rel.name, "path": str(rel.path), "digest": digest, **rel.manifest})
        )
        return
    _summary(rel)
    typer.echo(f"release digest: sha256:{digest}")
    typer.echo(f"  record it; `dse release verify {rel.name} --digest {digest}` checks it later")


@release_app.command("list")
def release_list(
    results: Annotated[Path, _RESULTS] = Path("results"), as_json: Annotated[bool, _JSON] = False
) -> None:
    """One row per release: study, trial, flow, timing, host, created."""
    from dse.release import list_releases

    rels = list_releases(results)
    if as_json:
        typer.echo(json.dumps([_row(r) for r in rels]))
        return
    if not rels:
        typer.echo(
            f"no releases under {ResultsLayout(results).releases} "
            "(run `dse promote STUDY TRIAL --name N`)"
        )
        return
    table = Table()
    for col in ("name", "study", "trial", "flow", "timing", "fmax MHz", "host", "created"):
        table.add_column(col)
    for r in rels:
        if r.error:
            table.add_row(r.name, f"[red]{escape(r.error)}[/]", "", "", "", "", "", "")
            continue
        table.add_row(
            r.name,
            r.study,
            str(r.trial),
            r.flow,
            _timing(r.timing_met),
            _fmt(r.measured.get("fmax_mhz")),
            r.host,
            r.created_at,
        )
    console.print(table)


@release_app.command("show")
def release_show(
    name: Annotated[str, typer.Argument(help="release name")],
    results: Annotated[Path, _RESULTS] = Path("results"),
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """The release's manifest: trial, parameters, predicted vs measured, provenance.

    Utilisation (``*_util``) is shown as a fraction of the device (0-1) on both sides, in
    the table and in --json; the manifest itself keeps the tool's percent under measured.
    """
    from dse.release import load_release

    rel = load_release(results, name)
    if as_json:
        shown = dict(rel.manifest)
        if isinstance(shown.get("measured"), dict):
            shown["measured"] = {k: _measured(k, v) for k, v in shown["measured"].items()}
        shown["util_unit"] = "fraction"  # *_util in predicted and measured: 0-1
        run, why = _run_model(rel)
        shown["run_model"] = run if why is None else {"error": why}
        typer.echo(json.dumps(shown))
        return
    _summary(rel)
    m = rel.manifest
    table = Table(title="predicted vs measured (*_util as fractions)", title_justify="left")
    for col in ("metric", "predicted", "measured"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    pred, meas = rel.predicted, rel.measured
    for key in [k for k in meas if k in pred] + [k for k in meas if k not in pred]:
        table.add_row(key, _fmt(pred.get(key)), _fmt(_measured(key, meas.get(key))))
    console.print(table)
    _run_table(rel)
    typer.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in rel.parameters.items()))
    for prog, version in (m.get("tool_versions") or {}).items():
        typer.echo(f"tool {prog}: {version}")
    for tpl, info in (m.get("templates") or {}).items():
        typer.echo(f"template {tpl}: sha256 {info.get('digest', '?')}")
    typer.echo(f"files: {len(m.get('files') or {})} (check them with `dse release verify {name}`)")


@release_app.command("verify")
def release_verify(
    name: Annotated[str, typer.Argument(help="release name")],
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="the release digest dse promote printed (sha256 hex)"),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="key file: check the signature RELEASES/NAME.sig")
    ] = None,
    results: Annotated[Path, _RESULTS] = Path("results"),
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Check every file, mode and manifest field; exit 1 naming each finding.

    Without --digest or --key a consistent rewrite of files and manifest goes unnoticed
    (docs/release.md); with either it does not.
    """
    from dse.release import verify_release

    rep = verify_release(results, name, digest=digest, key=key)
    findings = rep.problems()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "name": rep.name,
                    "ok": rep.ok,
                    "checked": rep.checked,
                    "digest": rep.digest,
                    "digest_ok": rep.digest_ok,
                    "signature_ok": rep.signature_ok,
                    "changed": rep.changed,
                    "missing": rep.missing,
                    "extra": rep.extra,
                    "modes": rep.modes,
                    "unsafe": rep.unsafe,
                    "inconsistent": rep.inconsistent,
                    "problems": [f"{kind}: {what}" for kind, what in findings],
                }
            )
        )
    elif rep.ok:
        also = [
            w for w, flag in (("digest", rep.digest_ok), ("signature", rep.signature_ok)) if flag
        ]
        typer.echo(
            f"release {name}: ok, {rep.checked} files, their modes and manifest.json match"
            + (f"; {' and '.join(also)} match" if also else "")
        )
        if not also:
            typer.echo(f"digest sha256:{rep.digest} (compare with the one you recorded)")
    else:
        for kind, what in findings:
            shown = (
                what if kind in ("inconsistent", "digest", "signature") else f"{rep.path}/{what}"
            )
            typer.echo(f"{kind}: {shown}")
        typer.echo(
            f"release {name}: FAILED, {len(rep.changed)} changed, {len(rep.missing)} missing, "
            f"{len(rep.extra)} extra of {rep.checked} files; {len(rep.modes)} modes, "
            f"{len(rep.unsafe)} unsafe, {len(rep.inconsistent)} manifest findings"
        )
    if not rep.ok:
        raise typer.Exit(1)


@release_app.command("sign")
def release_sign(
    name: Annotated[str, typer.Argument(help="release name")],
    key: Annotated[Path, typer.Option("--key", help="key file holding the secret (>= 16 bytes)")],
    results: Annotated[Path, _RESULTS] = Path("results"),
) -> None:
    """Sign a release's manifest.json (HMAC-SHA256) into RELEASES/NAME.sig.

    Sign only a release you have just verified; `dse release verify NAME --key FILE` then
    detects any later rewrite, however consistent.
    """
    from dse.release import sign_release

    typer.echo(f"signed: {sign_release(results, name, key)}")


def _run_model(rel: Release) -> tuple[dict[str, Any] | None, str | None]:
    """The cost model beside the release's measured run (None: it records no run), or why
    the model could not be evaluated."""
    from dse._release_model import run_prediction

    try:
        return run_prediction(rel), None
    except ValueError as exc:
        return None, str(exc)


def _run_table(rel: Release) -> None:
    """Cycles per token and tokens/s of the release's own run: measured, and the study's cost
    model's prediction of the same run (same shape, prompt, tokens, point, clock, memory)."""
    run, why = _run_model(rel)
    if why is not None:
        typer.echo(f"model of the release's run: not available ({why})")
    if run is None:
        return
    title = (
        f"the release's run ({run['run']}: prompt {run['prompt_tokens']} + "
        f"{run['generated_tokens']} tokens, {run['steps']} steps, {_fmt(run['clock_mhz'])} MHz, "
        f"{run['memory']}): cost model vs measured"
    )
    table = Table(title=escape(title), title_justify="left")
    for col in ("metric", "model", "measured", "model error"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    model, meas = run["model_cycles_per_token"], run["measured_cycles_per_token"]
    table.add_row("cycles/token", f"{model:,.0f}", f"{meas:,.0f}", f"{run['error_pct']:+.1f} %")
    model, meas = run["model_tokens_per_s"], run["measured_tokens_per_s"]
    table.add_row("tokens/s", f"{model:,.1f}", f"{meas:,.1f}", f"{100 * (model / meas - 1):+.1f} %")
    if "cycle_model_cycles_per_token" in run:  # the overlay cycle model, recorded at promote
        cyc = run["cycle_model_cycles_per_token"]
        table.add_row("cycles/token (overlay cycle model)", f"{cyc:,.0f}", "", "")
    console.print(table)


def _summary(rel: Release) -> None:
    m = rel.manifest
    build = m.get("build") or {}
    project = m.get("project") or {}
    commit = project.get("commit")
    rows = [
        ("release", escape(str(rel.path))),
        ("bitstream", escape(str(rel.bitstream))),
        ("study", f"{rel.study}  trial {rel.trial}  ({(m.get('trial') or {}).get('selector')})"),
        ("build", f"{build.get('template')} / {rel.flow} / {build.get('part')}"),
        (
            "timing",
            _timing(rel.timing_met)
            + f"  fmax {_fmt(rel.measured.get('fmax_mhz'))} MHz"
            + f" (target {_fmt(rel.measured.get('target_clock_mhz'))} MHz)",
        ),
        (
            "host",
            f"{rel.host}, {build.get('duration_s')} s"
            + (" (cached build)" if build.get("cached") else ""),
        ),
        (
            "commit",
            "not a git checkout"
            if commit is None
            else f"{commit[:12]}" + (" (dirty tree)" if project.get("dirty") else ""),
        ),
        ("created", rel.created_at),
    ]
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold")
    head.add_column()
    for key, value in rows:
        head.add_row(key, value)
    console.print(head)


def _row(r: Release) -> dict[str, Any]:
    return {
        "name": r.name,
        "path": str(r.path),
        "error": r.error,
        "study": r.study,
        "trial": r.trial,
        "flow": r.flow,
        "timing_met": r.timing_met,
        "fmax_mhz": r.measured.get("fmax_mhz"),
        "host": r.host,
        "created_at": r.created_at,
    }


def _measured(key: str, value: Any) -> Any:
    """Tool reports give utilisation in percent (as the tools print it), the cost model as a
    fraction: show both as fractions so the columns compare."""
    if key.endswith("_util") and isinstance(value, int | float) and not isinstance(value, bool):
        return value / 100.0
    return value


def _timing(met: bool | None) -> str:
    return {True: "[green]met[/]", False: "[red]NOT met[/]"}.get(met, "n/a")  # type: ignore[arg-type]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
