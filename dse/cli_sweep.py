"""``dse sweep``, ``dse status``, ``dse pareto``, ``dse export``."""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dse._console import make_console
from dse.errors import DseError
from dse.layout import DEFAULT_RESULTS, ResultsLayout

console = make_console()
err_console = make_console(stderr=True)

_SET = typer.Option("--set", help="override KEY=VALUE (dotted key), repeatable")
_STORAGE = typer.Option(
    "--storage", help="Optuna RDB URL (default sqlite:///results/<study>/optuna.db)"
)
_RESULTS = typer.Option("--results", help="results folder holding <study>/optuna.db")


def sweep(
    config: Annotated[Path, typer.Argument(help="study config YAML")],
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="total trials the study should reach")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.001, help="stop after S seconds")
    ] = None,
    storage: Annotated[str | None, _STORAGE] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue the study if it exists (else create it)")
    ] = False,
    set_: Annotated[list[str] | None, _SET] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    builds: Annotated[
        bool, typer.Option("--builds/--no-builds", help="run the config's build: policy")
    ] = True,
    hosts: Annotated[
        Path | None, typer.Option("--hosts", help="hosts.yaml for builds (default: build.hosts)")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="join this Ray cluster for builds")
    ] = None,
    results: Annotated[Path, _RESULTS] = DEFAULT_RESULTS,
) -> None:
    """Search the config's space: batched ask/tell over the cost model, persisted per batch.

    Ctrl-C finishes and saves the batch in flight; `--resume` continues exactly where the
    study stopped (same seed -> same trials as an uninterrupted run). With a `build:`
    section, promising trials are built while the search runs and calibrate the model.
    """
    from dse.config import load_config
    from dse.sweep import run_sweep

    cfg = load_config(config, set_ or [])
    lay = _results_folder(results)
    # --results holds the study as well as its builds: <results>/<name>/optuna.db
    url = lay.storage_url(cfg.name, storage, cfg.storage)
    if hosts is not None and not hosts.is_file():
        raise DseError(f"--hosts {hosts}: no such file")
    if ray_address and builds and cfg.build is not None:
        _join_ray(cfg, ray_address, hosts)  # before searching: a bad cluster fails now
    if trials is not None:  # a resumed study shows its new budget while it runs
        _record_trials(url, cfg.name, trials)
    s = run_sweep(
        cfg,
        results=lay,
        trials=trials,
        timeout_s=timeout,
        storage=url,
        resume=resume,
        progress=not quiet,  # a terminal gets a live line, a log file periodic lines
        builds=builds,
        hosts=hosts,
        ray_address=ray_address,
        log=None if quiet else lambda line: err_console.print(line, markup=False),
    )
    if trials is not None:
        _record_trials(s.storage_url, s.study_name, trials)
    where = f"study {s.study_name!r} in {s.storage_url}"
    typer.echo(
        f"{where}: {s.n_trials:,} trials ({s.n_new:,} new: {s.n_evaluated:,} evaluated, "
        f"{s.n_duplicates:,} duplicates) in {s.elapsed_s:.1f} s = {s.trials_per_s:,.0f} "
        f"trials/s; {s.n_feasible:,} feasible, Pareto front {s.pareto_size}"
    )
    if s.search:
        typer.echo(s.search)
    if s.load_s > 0.05:
        typer.echo(f"resumed {s.n_trials - s.n_new:,} trials in {s.load_s:.2f} s")
    if s.builds is not None:
        _print_builds(s.builds)
    if s.interrupted:
        # every option that changes which study or how it goes on, as it was given
        options = {
            "--storage": storage,
            "--results": None if lay.is_default else results,
            "--trials": trials,
            "--hosts": hosts,
            "--ray-address": ray_address,
        }
        again = _resume_command(config, set_ or [], options, builds)
        err_console.print(
            f"interrupted: {s.n_trials:,} trials saved; continue with `{again}`",
            highlight=False,
            markup=False,
            soft_wrap=True,  # a command to paste: never broken inside a path
        )
        sys.exit(130)  # the shell's code for "stopped by SIGINT"


def _resume_command(config: Path, sets: list[str], options: dict[str, Any], builds: bool) -> str:
    """The ``dse sweep ... --resume`` line that continues an interrupted sweep."""
    again = ["dse", "sweep", str(config), "--resume"]
    for text in sets:
        again += ["--set", text]
    for flag, value in options.items():
        if value is not None:
            again += [flag, str(value)]
    if not builds:
        again.append("--no-builds")
    return shlex.join(again)


def _join_ray(cfg: Any, address: str, hosts: Path | None) -> None:
    """Join the cluster the builds will use and check it (reachable, token, the hosts'
    resources), so that a misconfigured one is a one-line error, not a failure after the
    whole search. The build loop's farm then uses this connection."""
    from dse.buildspec import choose_flow
    from runners.dispatch import join_cluster
    from runners.hosts import load_hosts, local_inventory

    path = hosts or cfg.build.hosts
    if path is not None:
        inventory = load_hosts(path)
    else:
        flow = choose_flow(cfg, cfg.build.flow)
        inventory = local_inventory([flow], slots=cfg.build.max_concurrent)
    join_cluster(address, inventory)


def _record_trials(url: str, study: str, trials: int) -> None:
    """Keep ``--trials`` with the study (``dse:trials``): the budget the dashboard shows
    progress against, which the config's ``budget.trials`` does not know about."""
    from dse.sweep import TrialStore

    try:
        store = TrialStore(url, create=False)
    except Exception:  # no database yet (a new study): recorded after the run
        return
    try:
        sid = store.study_id(study)
        if sid is not None:
            store.rdb.set_study_user_attr(sid, "dse:trials", int(trials))
    finally:
        store.close()


def _print_builds(b: Any) -> None:
    """Measured vs predicted per build, the calibration's error before/after (in-sample)
    and held out (leave-one-out), and what was refused."""
    from dse.calibration import predicted_for

    typer.echo(
        f"builds: {b.requested} requested, {b.done} done, {b.failed} failed"
        + (f", {b.unfinished} unfinished (re-queued by --resume)" if b.unfinished else "")
    )
    metrics = ("lut", "ff", "dsp", "fmax_mhz", "estimated_clock_mhz", "decode_cycles_per_token")
    shown = [m for m in metrics if any(r.measured and m in r.measured for r in b.rows)]
    if b.rows:
        names = [_COLUMN_NAMES.get(m, m) for m in shown]
        table = Table("build", "trial", "flow", "result", *names, box=None, padding=(0, 1, 0, 0))
        for r in b.rows:
            cells = []
            for m in shown:
                got = (r.measured or {}).get(m)
                pred = predicted_for(m, r.measured or {}, r.predicted)
                cells.append("-" if got is None else f"{_short(got)}/{_short(pred)}")
            result = "ok" if r.state == "done" else r.failure_class or r.state
            result = _SHORT_FAILURE.get(result, result)
            table.add_row(str(r.build_id), str(r.trial_number), r.flow, result, *cells)
        typer.echo(
            "measured/model (raw model of the object built: the whole accelerator without "
            "the platform shell, a unit template's units; cycles: the sim run's own model):"
        )
        console.print(table)
    if b.errors:
        table = Table(
            "metric", "flow", "builds", "error before", "after", "held out", "correction", box=None
        )
        for (metric, flow), (before, after) in sorted(b.errors.items()):
            c = b.corrections.get((metric, flow))
            if c is None:
                how = "-"
            elif c.method == "scale":
                how = f"x{c.scale_at_one:.3g}"
            else:
                how = f"{c.scale_at_one:.3g}*p^{c.slope:.2f}"
            loo = b.held_out.get((metric, flow))
            held = "-" if not loo else f"{_median(loo):.0f}% (max {max(loo):.0f}%)"
            table.add_row(
                _COLUMN_NAMES.get(metric, metric),
                flow,
                str(c.n if c else "-"),
                f"{math.expm1(before):.0%}",
                f"{math.expm1(after):.0%}",
                held,
                how,
            )
        typer.echo(
            "calibration (median |measured/model - 1|: before and after in-sample; held out: "
            "each build predicted by the correction fitted on the others):"
        )
        console.print(table)
    for line in b.refused:
        typer.echo(f"refused: {line}")


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


_COLUMN_NAMES = {"decode_cycles_per_token": "cycles", "estimated_clock_mhz": "est_mhz"}
_SHORT_FAILURE = {  # so the table fits 80 columns
    "timing_not_met": "timing",
    "over_utilization": "over-util",
    "routing_congestion": "routing",
    "host_error": "host",
}


def _short(x: Any) -> str:
    """2262 -> 2.26k; 36.204 -> 36.2; None -> ?"""
    if not isinstance(x, int | float):
        return "?"
    return f"{x / 1e3:.3g}k" if abs(x) >= 1e3 else f"{x:.3g}"


def status(
    study: Annotated[str | None, typer.Argument(help="study name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    results: Annotated[Path, _RESULTS] = DEFAULT_RESULTS,
    storage: Annotated[str | None, _STORAGE] = None,
) -> None:
    """Trials, feasible share, Pareto size, best per objective and last update.

    Pareto size counts Pareto-optimal points (distinct objective values of the feasible,
    non-dominated trials), the rows `dse pareto` shows; best names a trial on that front.
    """
    from dse.sweep import list_studies, load_study_data

    lay = _results_folder(results)
    problems: list[str] = []  # unreadable databases: reported after the healthy studies
    if study is None:
        # (name, URL): one database file may hold several studies (--storage shared).
        found = list_studies(lay, problems, storage=storage)
        if not found and not as_json:
            if problems:
                raise DseError("; ".join(problems))
            typer.echo(f"no studies under {results}/ (run `dse sweep CONFIG`)")
            return
        summaries = [load_study_data(n, url, lay, full=False).summary() for n, url in found]
    else:
        summaries = [load_study_data(study, storage, lay, full=False).summary()]
    if as_json:
        typer.echo(json.dumps(summaries if study is None else summaries[0]))
        if problems:
            raise DseError("; ".join(problems))
        return
    table = Table("study", "trials", "feasible", "Pareto", "best", "last update", box=None)
    for s in summaries:
        best = "; ".join(
            f"{m} {b['direction'][:3]} {_fmt(b['value'])} (#{b['trial']})"
            for m, b in s["best"].items()
            if b is not None
        )
        share = s["feasible"] / s["trials"] if s["trials"] else 0.0
        table.add_row(
            s["study"],
            f"{s['trials']:,}",
            f"{s['feasible']:,} ({share:.0%})",
            str(s["pareto_size"]),
            best or "-",
            s["last_update"] or "-",
        )
    _wide().print(table)
    if problems:
        raise DseError("; ".join(problems))


def pareto(
    study: Annotated[str, typer.Argument(help="study name")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON rows")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="every trial on the front, not one per objective value")
    ] = False,
    results: Annotated[Path, _RESULTS] = DEFAULT_RESULTS,
    storage: Annotated[str | None, _STORAGE] = None,
) -> None:
    """The Pareto-optimal feasible trials with their objectives and parameters.

    Trials reaching the same objective values with other parameters are shown once (the
    first, with a `ties` count) unless --all is given.
    """
    from dse.sweep import load_study_data

    lay = _results_folder(results)
    data = load_study_data(study, storage, lay)
    front = data.pareto(collapse=not show_all)
    ties = [] if show_all else ["ties"]
    cols = ["number", *data.objectives, *ties, *(f"param_{p}" for p in data.params)]
    cols = [c for c in cols if c in front.columns]
    if as_json:
        rows = [
            {k: _json_value(v) for k, v in r.items()} for r in front[cols].to_dict(orient="records")
        ]
        typer.echo(json.dumps({"study": study, "objectives": data.objectives, "front": rows}))
        return
    table = Table(*(c.removeprefix("param_") for c in cols), box=None)
    for r in front[cols].itertuples(index=False):
        table.add_row(*(_fmt(v) for v in r))
    out = _wide()
    out.print(table)
    n = int(front["ties"].sum()) if not show_all and len(front) else len(front)
    out.print(
        f"{len(front)} Pareto-optimal points ({n} trials) of {len(data.frame):,} trials "
        f"({', '.join(f'{m} {d}' for m, d in zip(data.objectives, data.directions, strict=True))});"
        " "
        f"storage {data.url}",
        highlight=False,
    )


def _output_file(out: Path) -> None:
    """``-o`` must name a file that may be replaced: never a folder or a device (the export
    is written beside it and renamed over it, which would replace /dev/null itself)."""
    if str(out) in ("", "."):
        raise DseError("-o: expected an output file path, got an empty one")
    if out.exists() and not out.is_file():
        what = "a folder" if out.is_dir() else "not a regular file"
        raise DseError(f"-o {out}: is {what}; expected the path of the file to write")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DseError(f"-o {out}: {parent} is a file, not a folder")
            break


def export(
    study: Annotated[str, typer.Argument(help="study name")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="output file")] = None,
    results: Annotated[Path, _RESULTS] = DEFAULT_RESULTS,
    storage: Annotated[str | None, _STORAGE] = None,
) -> None:
    """One row per trial: number, params, objectives, feasibility, key metrics."""
    from dse.sweep import load_study_data

    if fmt not in ("csv", "parquet"):
        raise DseError(f"--format: expected csv or parquet, got {fmt!r}")
    lay = _results_folder(results)
    data = load_study_data(study, storage, lay)
    out = output or lay.export_file(study, fmt)
    _output_file(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DseError(f"-o {out}: cannot create its folder ({exc.strerror or exc})") from None
    df = data.frame.copy()
    df.insert(3, "pareto", df["number"].isin(data.pareto()["number"]))
    if "datetime_complete" in df:
        df["datetime_complete"] = df["datetime_complete"].astype(str)
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise DseError(f"-o {out}: cannot write there ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        # mkstemp makes the file 0600; an export is an ordinary file (0666 less the umask)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    typer.echo(f"wrote {len(df):,} trials of {study!r} to {out}")


def _results_folder(results: Path) -> ResultsLayout:
    """``--results`` as a layout; a file there is an error, not an empty listing."""
    if results.exists() and not results.is_dir():
        raise DseError(
            f"--results {results}: is a file; expected the results folder holding "
            "<study>/optuna.db (default: results)"
        )
    return ResultsLayout(results)


def _wide() -> Console:
    # Piped output (make demo, logs) would otherwise be cut to 80 columns.
    return console if console.is_terminal else make_console(width=200)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.4g}"
    return str(v)


def _json_value(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def register(app: typer.Typer) -> None:
    """Add the sweep commands to the ``dse`` app."""
    app.command("sweep")(sweep)
    app.command("status")(status)
    app.command("pareto")(pareto)
    app.command("export")(export)
