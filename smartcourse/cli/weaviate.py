"""`smartcourse weaviate rebuild`: rebuild the course-chunk index from the event store.

The replay CLI rebuilds PostgreSQL projections (its registry holds no Weaviate sink), so the
vector index has its own command: same blue/green idea, vectors taken from the cache.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from smartcourse.settings import Settings

app = typer.Typer(help="The Weaviate index of course content.", no_args_is_help=True)


@app.command("rebuild")
def rebuild(
    keep_previous: Annotated[bool, typer.Option(
        "--keep-previous", help="Keep the collection the alias pointed at before.")] = False,
) -> None:
    """Rebuild the index into a new collection from the event store, then switch the alias."""
    import psycopg
    from weaviate.exceptions import WeaviateBaseError

    from projections.content.rebuild import RebuildBusy, rebuild_weaviate

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the packaged model needs no hub
    settings = Settings()
    try:
        outcome = asyncio.run(rebuild_weaviate(settings, keep_previous=keep_previous))
    except RebuildBusy as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    except (psycopg.Error, WeaviateBaseError, OSError) as error:
        reason = (str(error).strip().splitlines() or [repr(error)])[0]
        typer.echo(f"error: weaviate rebuild: {reason}", err=True)
        raise typer.Exit(1) from error
    typer.echo(
        f"{settings.weaviate_collection}: {outcome.previous} -> {outcome.collection}; "
        f"{outcome.courses} ready courses, {outcome.chunks} chunks ({outcome.computed} "
        f"embedded, the rest from the cache) up to position {outcome.position} in "
        f"{outcome.seconds:.1f} s; {'dropped' if outcome.dropped else 'kept'} "
        f"{outcome.previous}")
