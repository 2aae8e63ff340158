"""`smartcourse stack up | down | status | logs`: the real local services, without Docker."""

from __future__ import annotations

import subprocess
from typing import Annotated

import typer

from infra import stack
from infra.service import StackError
from infra.supervisor import ServiceStatus
from smartcourse.settings import Settings

app = typer.Typer(help="Install, start, inspect and stop the local stack.", no_args_is_help=True)

Names = Annotated[
    list[str] | None,
    typer.Argument(help=f"Services (default: all): {', '.join(stack.SERVICE_CLASSES)}"),
]


def _fail(error: StackError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


def _print(rows: list[ServiceStatus]) -> None:
    typer.echo(f"{'service':<11} {'version':<9} {'pid':>8}  {'healthy':<7}  endpoint")
    for r in rows:
        pid = str(r.pid) if r.pid else "-"
        typer.echo(
            f"{r.name:<11} {r.version:<9} {pid:>8}  {'yes' if r.healthy else 'no':<7}  {r.endpoint}"
        )


@app.command()
def up(names: Names = None) -> None:
    """Install on first use, start, and wait until every service answers a health check."""
    try:
        _print(stack.up(Settings(), names))
    except StackError as error:
        _fail(error)


@app.command()
def down(
    names: Names = None,
    purge: Annotated[bool, typer.Option(help="Also delete the services' data.")] = False,
) -> None:
    """Stop services cleanly, keeping their data unless --purge."""
    try:
        stopped = stack.down(Settings(), names, purge=purge)
    except StackError as error:
        _fail(error)
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    if purge:
        typer.echo("data purged")


@app.command()
def status(names: Names = None) -> None:
    """Service, version, endpoint, pid and health; exit code 1 if any is not healthy."""
    try:
        rows = stack.status(Settings(), names)
    except StackError as error:
        _fail(error)
    _print(rows)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="The service whose log to show.")],
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print the end of a service's log (its path is printed first)."""
    try:
        service = stack.service(name, Settings())
    except StackError as error:
        _fail(error)
    typer.echo(f"# {service.log_file}", err=True)
    if not service.log_file.exists():
        _fail(StackError(f"{name}: no log yet at {service.log_file}"))
    args = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(service.log_file)]
    raise typer.Exit(subprocess.call(args))
