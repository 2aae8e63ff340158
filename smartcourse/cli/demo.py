"""`smartcourse demo`: seed a realistic data set through the APIs and show it flow."""

from __future__ import annotations

import typer

from smartcourse.settings import Settings


def demo() -> None:
    """Seed courses, students, enrollments and progress through the running APIs, then show
    the events in the store and in Kafka, and where to look next."""
    import httpx

    from smartcourse import demo as walkthrough

    settings = Settings()
    try:
        typer.echo(walkthrough.run(settings))
    except httpx.ConnectError as error:
        typer.echo(f"error: demo: {error} — are the APIs running? `smartcourse app up` starts "
                   "them", err=True)
        raise typer.Exit(1) from None
