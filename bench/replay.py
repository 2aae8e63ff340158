"""Replay rate: events/s rebuilding a projection from the event store (blue/green, into
PostgreSQL), beside the raw anchor measured in the same run: reading the same events from the
store (the same server-side cursor and chunks, into the same StoredEvents) without projecting
them. Each projection is rebuilt as a private copy (own schemas, no views), so the live read
models are not touched; the copy is dropped afterwards.

Rounds alternate replay and anchor, so both see the same load on the machine; the figure is
the median round of each, the ratio median over median, and every round is kept. A round
replays the whole store and switches, or with `--events N` stops after the first N events
(the replay is safe to interrupt; the copy is dropped anyway), as the small scale does.

    .venv/bin/python -m bench.replay [PROJECTION ...] [--rounds 3] [--events N] [--chunk 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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

ROUNDS = 3
SMALL_EVENTS = 100_000  # per round at small scale: a few seconds each


class _Enough(Exception):
    """Stops a round once it has replayed the events it was asked for."""


async def read_rate(dsn: str, projection: Projection, upto: int, chunk: int) -> float:
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        started, count = time.perf_counter(), 0
        async for events in read_chunks(conn, 0, upto, projection.aggregate_types, chunk):
            count += len(events)
        return count / (time.perf_counter() - started)


async def replay_rate(dsn: str, projection: Projection, chunk: int,
                      limit: int | None) -> dict[str, Any]:
    """One rebuild of a private copy: the whole store and the switch, or the first `limit`
    events. Returns the events, the position reached and the rate."""
    copy = replace(projection, name=f"bench_{uuid4().hex[:6]}_{projection.name}", views=())
    reached = {"events": 0, "position": 0}

    def progress(events: int, position: int, head: int) -> None:
        reached.update(events=events, position=position)
        if limit is not None and events >= limit:
            raise _Enough

    started = time.perf_counter()
    try:
        outcome = await replay_projection(dsn, copy, chunk_size=chunk, progress=progress)
        reached.update(events=outcome.events, position=outcome.head)
        seconds = outcome.seconds
    except _Enough:
        seconds = time.perf_counter() - started
    finally:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await drop_projection(conn, copy)
    return {**reached, "seconds": seconds, "rate": reached["events"] / seconds}


async def compare(dsn: str, names: list[str], chunk: int, rounds: int,
                  limit: int | None) -> dict[str, dict[str, Any]]:
    results = {}
    for name in names:
        projection = PROJECTIONS[name]
        ours: list[dict[str, Any]] = []
        anchor: list[float] = []
        for _ in range(rounds):
            ours.append(await replay_rate(dsn, projection, chunk, limit))
            anchor.append(await read_rate(dsn, projection, ours[-1]["position"], chunk))
        rates = [r["rate"] for r in ours]
        results[name] = {
            "rate": statistics.median(rates), "anchor_rate": statistics.median(anchor),
            "rounds": [round(r) for r in rates], "anchor_rounds": [round(r) for r in anchor],
            "events": [r["events"] for r in ours], "seconds": [round(r["seconds"], 2)
                                                               for r in ours],
            "whole_store": limit is None,
        }
    return results


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    small = scale == Scale.SMALL
    names = ["course_roster"] if small else list(PROJECTIONS)
    results = asyncio.run(compare(settings.pg_dsn, names, CHUNK_SIZE, ROUNDS,
                                  SMALL_EVENTS if small else None))
    return [Figure(
        benchmark="replay", metric=f"{name}: events/s rebuilt from the event store"
        f" ({'whole store' if r['whole_store'] else 'first events'}, median of {ROUNDS})",
        ours=round(r["rate"]), anchor_name="reading the same events from the store, no "
        "projection (events/s)", anchor=round(r["anchor_rate"]),
        target=">= 20,000 events/s", met=r["rate"] >= 20_000, details=r,
    ) for name, r in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projections", nargs="*", metavar="PROJECTION",
                        help=f"default: all ({', '.join(PROJECTIONS)})")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--events", type=int, default=None,
                        help="stop each round after this many events (default: whole store)")
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE)
    args = parser.parse_args()
    if unknown := set(args.projections) - set(PROJECTIONS):
        parser.error(f"unknown projections: {', '.join(sorted(unknown))}")
    dsn = Settings().pg_dsn

    async def head() -> int:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await store_head(conn)

    print(f"event store head: position {asyncio.run(head()):,}; chunks of {args.chunk:,};"
          f" median of {args.rounds} rounds, replay and anchor alternating")
    for name, r in asyncio.run(compare(dsn, args.projections or list(PROJECTIONS), args.chunk,
                                       args.rounds, args.events)).items():
        print(f"  {name:<20} replay {r['rate']:>8,.0f} events/s   anchor: read only"
              f" {r['anchor_rate']:>8,.0f} events/s   ratio {r['rate'] / r['anchor_rate']:.2f}"
              f"   (rounds: replay {r['rounds']}, anchor {r['anchor_rounds']};"
              f" events {r['events']})")


if __name__ == "__main__":
    main()
