"""The `smartcourse` command: one entry point, one sub-command group per concern."""

from __future__ import annotations

import typer

from smartcourse.cli import stack

app = typer.Typer(
    help="SmartCourse: event-sourced CQRS learning-platform backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack.app, name="stack")
