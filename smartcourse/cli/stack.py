"""`smartcourse stack …` (the real local services) and `smartcourse app …` (our own
processes): up | down | status | logs, the same for both groups."""


from typing import Annotated

import typer

from infra import stack
from infra.service import StackError
from infra.supervisor import ServiceStatus
from smartcourse.settings import Settings


def _fail(error: StackError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


def _print(rows: list[ServiceStatus]) -> None:
    kept = any(r.restarts is not None for r in rows)  # app processes: restarts and state
    extra = f"  {'restarts':>8}  {'state':<8}" if kept else ""
    typer.echo(f"{'service':<16} {'version':<9} {'pid':>8}  {'healthy':<7}{extra}  endpoint")
    for r in rows:
        pid = str(r.pid) if r.pid else "-"
        more = (f"  {r.restarts if r.restarts is not None else '-':>8}  {r.state or '-':<8}"
                if kept else "")
        typer.echo(
            f"{r.name:<16} {r.version:<9} {pid:>8}  {'yes' if r.healthy else 'no':<7}{more}  "
            f"{r.endpoint}"
        )


def group_cli(group: stack.Group, noun: str, help_text: str) -> typer.Typer:
    app = typer.Typer(help=help_text, no_args_is_help=True)
    names_help = f"{noun.capitalize()}s (default: all): {', '.join(group)}"
    Names = Annotated[list[str] | None, typer.Argument(help=names_help)]  # noqa: N806

    @app.command()
    def up(names: Names = None) -> None:
        """Install on first use, start, and wait until each answers a health check."""
        try:
            _print(stack.up(Settings(), names, group))
        except StackError as error:
            _fail(error)

    @app.command()
    def down(
        names: Names = None,
        purge: Annotated[bool, typer.Option(help="Also delete their data.")] = False,
    ) -> None:
        """Stop cleanly, keeping data unless --purge."""
        try:
            stopped = stack.down(Settings(), names, purge=purge, group=group)
        except StackError as error:
            _fail(error)
        typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        if purge:
            typer.echo("data purged")

    @app.command()
    def status(names: Names = None) -> None:
        """Name, version, pid, health and endpoint; exit code 1 if any is not healthy."""
        try:
            rows = stack.status(Settings(), names, group)
        except StackError as error:
            _fail(error)
        _print(rows)
        if not all(r.healthy for r in rows):
            raise typer.Exit(1)

    @app.command()
    def logs(
        name: Annotated[str, typer.Argument(help=f"The {noun} whose log to show.")],
        lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
        follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
        grep: Annotated[str | None, typer.Option(
            "--grep", "-g", help="Only lines matching this regular expression.")] = None,
    ) -> None:
        """Print the end of a log (its path is printed first), optionally filtered."""
        import re

        from smartcourse.cli.log_follow import follow as follow_log
        from smartcourse.cli.log_follow import last_matching

        try:
            service = stack.service(name, Settings(), group)
        except StackError as error:
            _fail(error)
        try:
            pattern = re.compile(grep) if grep else None
        except re.error as error:
            _fail(StackError(f"--grep: not a regular expression: {error}"))
        typer.echo(f"# {service.log_file}", err=True)
        if not service.log_file.exists():
            _fail(StackError(f"{name}: no log yet at {service.log_file}"))
        if not follow:
            with service.log_file.open(errors="replace") as handle:
                for line in last_matching((x.rstrip("\n") for x in handle), pattern, lines):
                    typer.echo(line)
            return
        try:
            for line in follow_log(service.log_file, pattern, lines):
                typer.echo(line)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None

    return app


app = group_cli(stack.SERVICE_CLASSES, "service",
                "Install, start, inspect and stop the local stack (the real services).")
app_processes = group_cli(stack.APP_CLASSES, "process",
                          "Start, inspect and stop SmartCourse's own processes "
                          "(APIs, relay, workers) in the background.")
