"""`smartcourse reconcile`: the stores against the event store, with an optional repair."""

from __future__ import annotations

import asyncio

import typer

from smartcourse.settings import Settings


def reconcile(
    repair: bool = typer.Option(False, "--repair", help="replay the drifted aggregates"),
    examples: int = typer.Option(5, "--examples", min=0, help="ids shown per kind of drift"),
    clickhouse: bool = typer.Option(True, "--clickhouse/--no-clickhouse",
                                    help="compare the ClickHouse fact table too"),
) -> None:
    """Compare enrollments in the read models, the progress model and ClickHouse with the
    event store; exits 1 if drift remains (found and not repaired)."""
    from projections.reconcile import reconcile as run

    report = asyncio.run(run(Settings(), repair=repair, clickhouse=clickhouse))
    for line in report.lines(examples):
        typer.echo(line)
    if report.total and not repair:
        raise typer.Exit(1)
