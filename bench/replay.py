"""Replay rate: events/s rebuilding a projection from the whole event store (blue/green,
into PostgreSQL), beside the raw anchor measured in the same run: reading the same events
from the store (the same server-side cursor and chunks, into the same StoredEvents) without
projecting them. Each projection is rebuilt as a private copy (own schemas, no views), so
the live read models are not touched; the copy is dropped afterwards.

    .venv/bin/python -m bench.replay [PROJECTION ...] [--chunk 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from typing import Any
from uuid import uuid4

from psycopg import AsyncConnection

from bench.figures import Figure, Scale
from projections.base import Projection
from projections.registry import PROJECTIONS
from projections.replay import CHUNK_SIZE, replay_projection
from projections.schema import drop_projection
from projections.store_reader import read_chunks, store_head
from smartcourse.settings import Settings


async def read_rate(dsn: str, projection: Projection, upto: int, chunk: int) -> float:
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        started, count = time.perf_counter(), 0
        async for events in read_chunks(conn, 0, upto, projection.aggregate_types, chunk):
            count += len(events)
        return count / (time.perf_counter() - started)


async def replay_rate(dsn: str, projection: Projection, chunk: int) -> dict[str, Any]:
    copy = replace(projection, name=f"bench_{uuid4().hex[:6]}_{projection.name}", views=())
    try:
        outcome = await replay_projection(dsn, copy, chunk_size=chunk)
    finally:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await drop_projection(conn, copy)
    return {"events": outcome.events, "head": outcome.head, "seconds": outcome.seconds,
            "rate": outcome.events / outcome.seconds, "dead_letters": outcome.dead_letters}


async def compare(dsn: str, names: list[str], chunk: int) -> dict[str, dict[str, Any]]:
    results = {}
    for name in names:
        projection = PROJECTIONS[name]
        ours = await replay_rate(dsn, projection, chunk)
        anchor = await read_rate(dsn, projection, ours["head"], chunk)
        results[name] = {**ours, "anchor_rate": anchor}
    return results


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    names = ["course_roster"] if scale == Scale.SMALL else list(PROJECTIONS)
    results = asyncio.run(compare(settings.pg_dsn, names, CHUNK_SIZE))
    return [Figure(
        benchmark="replay", metric=f"{name}: events/s rebuilt from the event store",
        ours=round(r["rate"]), anchor_name="reading the same events from the store, no "
        "projection (events/s)", anchor=round(r["anchor_rate"]),
        target=">= 20,000 events/s", met=r["rate"] >= 20_000, details=r,
    ) for name, r in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projections", nargs="*", metavar="PROJECTION",
                        help=f"default: all ({', '.join(PROJECTIONS)})")
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE)
    args = parser.parse_args()
    if unknown := set(args.projections) - set(PROJECTIONS):
        parser.error(f"unknown projections: {', '.join(sorted(unknown))}")
    dsn = Settings().pg_dsn

    async def head() -> int:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await store_head(conn)

    print(f"event store head: position {asyncio.run(head()):,}; chunks of {args.chunk:,}")
    for name, r in asyncio.run(compare(dsn, args.projections or list(PROJECTIONS),
                                       args.chunk)).items():
        print(f"  {name:<20} replay {r['rate']:>8,.0f} events/s ({r['events']:,} events in"
              f" {r['seconds']:.1f} s)   anchor: read only {r['anchor_rate']:>8,.0f} events/s"
              f"   ratio {r['rate'] / r['anchor_rate']:.2f}")


if __name__ == "__main__":
    main()
