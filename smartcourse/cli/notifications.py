"""`smartcourse notifications`: the notifications that failed for good, and sending them again.

`redrive` schedules dead-lettered notifications for another round of tries (after the SMTP
relay or a webhook's receiver was fixed, say); the workflow worker's retry timer sends them.
Exit status 1, with a one-line reason, when there is nothing to redrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer

from smartcourse.settings import Settings

app = typer.Typer(help="Notifications that failed for good: list, redrive.",
                  no_args_is_help=True)
T = TypeVar("T")


def _fail(reason: str) -> typer.Exit:
    typer.echo(f"error: notifications: {reason}", err=True)
    return typer.Exit(1)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from psycopg import AsyncConnection
    from psycopg import Error as PostgresError

    from notifications.sender import SCHEMA

    async def main() -> T:
        async with await AsyncConnection.connect(Settings().pg_dsn, autocommit=True) as conn:
            await conn.execute(SCHEMA)
            return await work(conn)

    try:
        return asyncio.run(main())
    except PostgresError as error:
        raise _fail(str(error).strip().splitlines()[0]) from error


@app.command("dead-letters")
def list_dead_letters(limit: Annotated[int, typer.Option(min=1)] = 100) -> None:
    """One line per failed notification, oldest first: id, attempts, when, reason."""
    from notifications.sender import dead_letters

    letters = _run(lambda conn: dead_letters(conn, limit))
    if not letters:
        typer.echo("no failed notifications")
    for letter in letters:
        typer.echo(f"{letter.notification_id}\t{letter.attempts}\t"
                   f"{letter.failed_at:%Y-%m-%dT%H:%M:%SZ}\t{letter.reason[:160]}")


@app.command("redrive")
def redrive(
    notification_ids: Annotated[list[UUID] | None, typer.Argument(
        help="Failed notifications to send again.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every failed one.")] = False,
) -> None:
    """Schedule failed notifications for another round of delivery tries."""
    from notifications.sender import redrive as schedule

    if bool(notification_ids) == everything:
        raise _fail("give notification ids or --all (not both)")
    ids = None if everything else notification_ids
    moved = _run(lambda conn: schedule(conn, ids, datetime.now(UTC)))
    if not moved:
        raise _fail("none of those is a failed notification")
    typer.echo(f"{moved} notification(s) scheduled; the workflow worker sends them")
