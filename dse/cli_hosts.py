"""``dse hosts check``: reachability, tool versions, free disk and licences of build hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse._console import make_console

if TYPE_CHECKING:
    from runners.hostcheck import HostStatus

hosts_app = typer.Typer(no_args_is_help=True, help="Build hosts (hosts.yaml).")
console = make_console()


def register(app: typer.Typer) -> None:
    """Add ``hosts`` to the ``dse`` app."""
    app.add_typer(hosts_app, name="hosts")


@hosts_app.command("check")
def hosts_check(
    hosts_file: Annotated[Path, typer.Argument(help="hosts.yaml (see docs/farm.md)")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Connect to every host in parallel; exit 1 if any host fails, 2 for a bad hosts file."""
    from runners.hostcheck import check_hosts
    from runners.hosts import load_hosts

    inventory = load_hosts(hosts_file)  # HostsFileError -> one line, exit 2 (dse.cli.main)
    statuses = check_hosts(inventory)
    if as_json:
        payload = {
            "hosts_file": str(hosts_file),
            "ok": all(s.ok for s in statuses),
            "licence_pools": dict(inventory.licence_pools),
            "hosts": [s.to_json() for s in statuses],
        }
        typer.echo(json.dumps(payload, sort_keys=True))
    else:
        _render(statuses, dict(inventory.licence_pools))
    if not all(s.ok for s in statuses):
        raise typer.Exit(1)


def _render(statuses: list[HostStatus], pools: dict[str, int]) -> None:
    table = Table(title="build hosts", title_justify="left")
    for col in ("host", "target", "status", "tools", "free disk", "licences", "reason"):
        table.add_column(col, overflow="fold")
    for s in statuses:
        if s.ok:
            state = "[green]ok[/]"
        elif not s.reachable:
            state = "[red]unreachable[/]"
        else:
            state = "[yellow]degraded[/]"
        # The full version lines are in --json; the table keeps the part before " (".
        tools = "\n".join(f"{k}: {v.split(' (')[0]}" for k, v in s.tools.items()) or "-"
        disk = "-" if s.free_disk_gb is None else f"{s.free_disk_gb:g} GB"
        lic = "\n".join(f"{f} -> {p} ({pools.get(p, '?')})" for f, p in s.licences.items()) or "-"
        table.add_row(s.name, s.target, state, tools, disk, lic, s.reason or "")
    console.print(table)
    if pools:
        console.print(
            "licence pools: " + ", ".join(f"{p}={n} seats" for p, n in pools.items()),
            highlight=False,
        )
