"""`smartcourse dlq`: list, inspect and replay the read side's dead letters.

`replay` brings a parked aggregate back (after a fix was deployed, say): its events are
applied again through the projection's sink, in order, and it is unparked. Exit status 1,
with a one-line reason, when there is nothing to replay or a letter fails again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

import typer

from smartcourse.settings import Settings

app = typer.Typer(help="Dead letters of the projections: list, show, replay.",
                  no_args_is_help=True)
T = TypeVar("T")


def _fail(reason: str) -> typer.Exit:
    typer.echo(f"error: dlq: {reason}", err=True)
    return typer.Exit(1)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(conn)` on one autocommit connection; database errors become one line."""
    from psycopg import AsyncConnection
    from psycopg import Error as PostgresError

    from projections.registry import UnknownProjection
    from streams.dead_letters import ensure_dead_letters

    async def main() -> T:
        async with await AsyncConnection.connect(Settings().pg_dsn, autocommit=True) as conn:
            await ensure_dead_letters(conn)
            return await work(conn)

    try:
        return asyncio.run(main())
    except (PostgresError, UnknownProjection) as error:
        raise _fail(str(error).strip().splitlines()[0]) from error


@app.command("list")
def list_letters(
    projection: Annotated[str | None, typer.Option(help="Only this projection's.")] = None,
    include_replayed: Annotated[bool, typer.Option(
        "--all", help="Also letters replayed already.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """One line per letter, oldest first: id, projection, aggregate, reason, error."""
    from projections.registry import PROJECTIONS
    from streams import dead_letters

    if projection is not None and projection not in PROJECTIONS:
        raise _fail(f"unknown projection {projection!r} (known: {', '.join(PROJECTIONS)})")
    where, params = dead_letters.waiting_filter(projection, include_replayed)
    letters = _run(lambda conn: dead_letters.fetch(conn, where, params, limit))
    for line in listing(letters, projection, include_replayed):
        typer.echo(line)


def listing(letters: Sequence[Any], projection: str | None, include_replayed: bool
            ) -> list[str]:
    """The lines `dlq list` prints: one per letter, or one that says there is none (an
    operator must tell "empty" from "the command did nothing")."""
    if not letters:
        which = "" if include_replayed else " waiting"
        where = f" for {projection}" if projection else ""
        return [f"no dead letters{which}{where}"]
    return [f"{letter.id}\t{letter.projection}\t{letter.aggregate_id or '-'}\t"
            f"{letter.reason}\t{'replayed' if letter.replayed_at else 'waiting'}\t"
            f"{letter.error[:120]}" for letter in letters]


@app.command("show")
def show(letter_id: Annotated[int, typer.Argument(help="The letter's id.")]) -> None:
    """The letter as JSON, with its message decoded when it can be."""
    from streams import dead_letters

    found = _run(lambda conn: dead_letters.fetch(conn, "id = %s", [letter_id]))
    if not found:
        raise _fail(f"no dead letter {letter_id}")
    letter = found[0]
    shown = letter.describe()
    shown["event"] = dead_letters.decoded(letter, Settings().registry_url)
    typer.echo(json.dumps(shown, indent=2, default=str))


@app.command("replay")
def replay(
    letter_id: Annotated[int | None, typer.Argument(
        help="A letter: its aggregate's waiting letters are replayed together.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every waiting letter.")] = False,
    topic_prefix: Annotated[str | None, typer.Option(
        help="Letters that fail again go to PREFIX.dlq too (default: the worker's).")] = None,
) -> None:
    """Apply a parked aggregate's events again, in order, and unpark it."""
    from streams.redrive import NothingToReplay, replay_all, replay_letter

    if (letter_id is None) == (not everything):
        raise _fail("give a letter id or --all (not both)")
    try:
        done = _run(replay_all if everything else lambda conn: _one(replay_letter, conn,
                                                                     letter_id))
    except NothingToReplay as error:
        raise _fail(str(error)) from error
    failed = [letter for result in done for letter in result.failed]
    _publish(failed, topic_prefix or Settings().worker_topic_prefix)
    for result in done:
        ids = ",".join(str(letter.id) for letter in result.letters)
        typer.echo(f"{result.projection}\t{result.aggregate_id or '-'}\tletters {ids}\t"
                   f"applied {result.applied}\tduplicates {result.duplicates}\t"
                   + ("ok" if result.ok else f"failed again: {len(result.failed)} new letters"))
    if failed:
        raise _fail(f"{len(failed)} events failed again, first: letter {failed[0].id}"
                    f" ({failed[0].reason}: {failed[0].error[:200]})")


async def _one(replay_one: Callable[[Any, int], Awaitable[T]], conn: Any, letter_id: Any
               ) -> list[T]:
    return [await replay_one(conn, letter_id)]


def _publish(letters: Sequence[Any], prefix: str) -> None:
    """Letters of a failed replay go to the dead-letter topic, as the worker's do."""
    from streams.dead_letters import publish

    try:
        publish(letters, Settings().kafka_bootstrap, prefix)
    except RuntimeError as error:
        raise _fail(str(error)) from error
