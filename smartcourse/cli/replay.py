"""`smartcourse replay PROJECTION|all`: rebuild read models from the event store, blue/green.

An interrupted replay resumes where it stopped when run again (`--restart` starts over).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer

from smartcourse.settings import Settings


def replay(
    projection: Annotated[str, typer.Argument(
        help="A read model's name, 'all' (every read model), 'clickhouse' or 'weaviate'.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be done and change nothing.")] = False,
    restart: Annotated[bool, typer.Option(
        "--restart", help="Discard a half-built version instead of resuming it.")] = False,
    chunk_size: Annotated[int, typer.Option(min=100, help="Events per transaction.")] = 5_000,
) -> None:
    """Rebuild a projection beside the live one, then switch to it atomically."""
    if projection in ("clickhouse", "weaviate"):
        _other_store(projection, dry_run)
        return
    import psycopg

    from projections.registry import PROJECTIONS
    from projections.replay import ReplayBusy

    if projection != "all" and projection not in PROJECTIONS:
        typer.echo(f"error: unknown projection {projection!r}"
                   f" (known: {', '.join(PROJECTIONS)}, all, clickhouse, weaviate)", err=True)
        raise typer.Exit(2)
    names = list(PROJECTIONS) if projection == "all" else [projection]
    dsn = Settings().pg_dsn
    try:
        asyncio.run(_dry_run(dsn, names, restart) if dry_run
                    else _replay(dsn, names, restart, chunk_size))
    except ReplayBusy as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        typer.echo(f"error: replay: {reason}", err=True)
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(130) from None


def _other_store(store: str, dry_run: bool) -> None:
    """ClickHouse and Weaviate rebuild blue/green too, each its own way (a new database
    version; a new collection behind the alias)."""
    if dry_run:
        what = ("a new analytics database version from the event store, then switch the "
                "views" if store == "clickhouse" else "a new collection from the event store "
                "(cached vectors reused), then move the CourseChunk alias")
        typer.echo(f"dry run: {store}: would build {what}; nothing changed")
        return
    if store == "clickhouse":
        from smartcourse.cli.sql import rebuild as rebuild_clickhouse

        rebuild_clickhouse(chunk_size=20_000, drop_previous=False)
    else:
        from smartcourse.cli.weaviate import rebuild as rebuild_weaviate

        rebuild_weaviate(keep_previous=False)


async def _dry_run(dsn: str, names: list[str], restart: bool) -> None:
    from psycopg import AsyncConnection

    from projections.registry import PROJECTIONS
    from projections.replay import plan_replay

    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        for name in names:
            plan = await plan_replay(conn, PROJECTIONS[name], restart)
            typer.echo(f"dry run: {plan.describe()}")


async def _replay(dsn: str, names: list[str], restart: bool, chunk_size: int) -> None:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from projections.registry import PROJECTIONS
    from projections.replay import replay_projection

    columns = (TextColumn("{task.description:<20}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]:>8} events/s"), TimeRemainingColumn())
    with Progress(*columns) as bar:

        async def one(name: str) -> None:
            task = bar.add_task(name, total=None, rate="-")
            started = time.perf_counter()

            def report(events: int, position: int, head: int) -> None:
                rate = events / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=position, total=head, rate=f"{rate:,.0f}")

            outcome = await replay_projection(dsn, PROJECTIONS[name], chunk_size=chunk_size,
                                              restart=restart, progress=report)
            bar.update(task, completed=outcome.head, total=outcome.head or 1)
            rate = outcome.events / max(outcome.seconds, 1e-9)
            bar.console.print(
                f"{name}: v{outcome.previous} -> v{outcome.version} live; {outcome.events:,}"
                f" events replayed ({outcome.applied:,} applied, {outcome.dead_letters:,} dead"
                f" letters) up to position {outcome.head:,} in {outcome.seconds:.1f} s"
                f" ({rate:,.0f} events/s); kept v{outcome.previous}"
                + (f", dropped {', '.join(f'v{v}' for v in outcome.dropped)}"
                   if outcome.dropped else ""))

        for name in names:  # one at a time: side by side they cost more CPU per event
            await one(name)
