"""`smartcourse demo`: seed a realistic data set through the APIs and show it flow."""

from __future__ import annotations

import typer

from smartcourse.settings import Settings


def demo() -> None:
    """Seed courses, students, enrollments and progress through the running APIs, then show
    the events in the store and in Kafka, and where to look next."""
    from smartcourse import demo as walkthrough

    typer.echo(walkthrough.run(Settings()))
