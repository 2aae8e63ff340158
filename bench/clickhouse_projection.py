"""ClickHouse sink throughput beside a bare clickhouse-connect insert of the same rows, same run.

    .venv/bin/python bench/clickhouse_projection.py [--events 200000] [--rounds 3]

Takes the store's latest EVENTS events (appending a realistic mix through the CommandBus first
if the store holds fewer), then, ROUNDS times each and alternating, in a fresh throwaway
analytics namespace per round (so ClickHouse's insert deduplication never drops a repeat):
- sink: `ClickHouseSink.write` of the events as Kafka deliveries (1,000 per call, as a worker
  hands them) and `close()`: mapping, dedup, token, one insert per `analytics_batch_rows` into
  the fact table with its materialized views, checkpoint after each acknowledged insert;
- anchor: `client.insert` of the already mapped rows, in batches of the same size, into a table
  of the same definition without materialized views.
And the rebuild's copy of the same store range (read from PostgreSQL, map, insert) beside a
bare psycopg read of that range. Prints the median round of each (rounds interleaved, so
both see the same load on the machine), ratios as median over median, and every round.
Target: at least 50,000 events/s through the sink. Needs the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from clickhouse_connect.driver.client import Client

from bench.figures import Figure, Scale
from commands.adapters.event_store import COLUMNS as STORE_COLUMNS
from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.rebuild import SELECT, copy_range
from projections.analytics.rows import COLUMNS, to_row
from projections.analytics.sink import ClickHouseSink
from projections.deliveries import EventDelivery
from smartcourse.settings import Settings

TARGET = 50_000
HANDED = 1_000  # deliveries per write() call, as a worker's batch


def load_events(settings: Settings, count: int) -> list[StoredEvent]:
    """The latest `count` events of the store, oldest first; appends some if too few."""
    with psycopg.connect(settings.pg_dsn) as conn:
        have = conn.execute("SELECT count(*) FROM event_store.events").fetchone()[0]
    if have < count:
        from bench.relay import append_events

        asyncio.run(append_events(settings, count - have))
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(f"SELECT {STORE_COLUMNS} FROM event_store.events"
                            " ORDER BY position DESC LIMIT %s", [count]).fetchall()
    return [StoredEvent(*row) for row in reversed(rows)]


def in_namespace(client: Client, run: Callable[[str], float]) -> float:
    database = f"bench_ch_{uuid.uuid4().hex[:10]}"
    try:
        schema.ensure_schema(client, database)
        return run(database)
    finally:
        schema.drop_all(client, database)


def sink_round(client: Client, deliveries: list[EventDelivery], batch_rows: int,
               batch_seconds: float, cpu: list[float]) -> float:
    """Events/s; appends this process's CPU µs per event to `cpu` (the client's share, which
    other load on the machine does not inflate as it does wall time)."""
    def run(database: str) -> float:
        sink = ClickHouseSink(client, database, name="bench", max_rows=batch_rows,
                              max_seconds=batch_seconds)
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(0, len(deliveries), HANDED):
            sink.write(deliveries[n:n + HANDED])
        sink.close()
        seconds = time.perf_counter() - started
        cpu.append(1e6 * (time.process_time() - cpu_started) / len(deliveries))
        stored = client.command(f"SELECT count() FROM {database}.events")
        if stored != len({d.event.event_id for d in deliveries}):
            raise SystemExit(f"the sink stored {stored} events of {len(deliveries)}")
        return len(deliveries) / seconds

    return in_namespace(client, run)


def rebuild_round(settings: Settings, client: Client, after: int, upto: int) -> float:
    def run(database: str) -> float:
        started = time.perf_counter()
        copied = copy_range(settings, client, database, 1, after, upto,
                            settings.analytics_rebuild_chunk)
        return copied / (time.perf_counter() - started)

    return in_namespace(client, run)


def read_round(settings: Settings, after: int, upto: int) -> float:
    """The anchor of the rebuild: a bare server-side-cursor read of the same range."""
    started = time.perf_counter()
    count = 0
    with psycopg.connect(settings.pg_dsn) as conn, conn.transaction():
        cursor = conn.cursor(name="bench_read")
        cursor.execute(SELECT, [after, upto])
        while rows := cursor.fetchmany(settings.analytics_rebuild_chunk):
            count += len([StoredEvent(*row) for row in rows])
    return count / (time.perf_counter() - started)


def anchor_round(client: Client, rows: list[tuple[Any, ...]], batch_rows: int) -> float:
    def run(database: str) -> float:
        table = f"{database}.anchor"
        client.command(f"CREATE TABLE {table} AS {schema.version_database(database, 1)}.events")
        started = time.perf_counter()
        for n in range(0, len(rows), batch_rows):
            client.insert(table, rows[n:n + batch_rows], column_names=COLUMNS)
        return len(rows) / (time.perf_counter() - started)

    return in_namespace(client, run)


def compare(settings: Settings, events: int, rounds: int) -> dict[str, Any]:
    loaded = load_events(settings, events)
    print(f"{len(loaded)} events from the store (positions {loaded[0].position}.."
          f"{loaded[-1].position})")
    deliveries = [EventDelivery(e, f"bench.{e.aggregate_type}", e.aggregate_id.int % 6, n)
                  for n, e in enumerate(loaded)]
    started = time.process_time()
    rows = [to_row(e) for e in loaded]
    mapping_us = 1e6 * (time.process_time() - started) / len(rows)  # CPU, as the sink's
    batch = settings.analytics_batch_rows
    after, upto = loaded[0].position - 1, loaded[-1].position
    # The inputs live for the whole run: keep the collector from walking them again and again
    # (a worker never holds hundreds of thousands of events, so those pauses are not its cost).
    gc.freeze()
    client = writer_client(settings)
    rates: dict[str, list[float]] = {k: [] for k in ("sink", "anchor", "rebuild", "read")}
    cpu: list[float] = []
    try:
        for _ in range(rounds):
            rates["anchor"].append(anchor_round(client, rows, batch))
            rates["sink"].append(sink_round(client, deliveries, batch,
                                            settings.analytics_batch_seconds, cpu))
            rates["read"].append(read_round(settings, after, upto))
            rates["rebuild"].append(rebuild_round(settings, client, after, upto))
    finally:
        client.close()
    return {**{f"{k}_rate": statistics.median(v) for k, v in rates.items()},
            **{f"{k}_rounds": [round(x) for x in v] for k, v in rates.items()},
            "events": len(rows), "batch_rows": batch,
            "mapping_us_per_event": round(mapping_us, 2),
            "sink_client_cpu_us_per_event": round(statistics.median(cpu), 2),
            "materialized_views": 5}


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    small = scale == Scale.SMALL
    r = compare(settings, events=30_000 if small else 500_000, rounds=3)
    anchor = "bare clickhouse-connect insert of the same rows, same batch size, same table " \
             "without materialized views (rows/s)"
    return [
        Figure(benchmark="clickhouse_sink", metric="events/s into ClickHouse through the sink "
               "(mapped, deduplicated, inserted with its views, acknowledged, checkpointed)",
               ours=round(r["sink_rate"]), anchor_name=anchor, anchor=round(r["anchor_rate"]),
               target=f">= {TARGET:,} events/s", met=r["sink_rate"] >= TARGET, details=r),
        Figure(benchmark="clickhouse_rebuild", metric="events/s copied from the event store "
               "into a new analytics version (read, map, insert)",
               ours=round(r["rebuild_rate"]), anchor_name="bare psycopg server-side-cursor read "
               "of the same range into StoredEvents (events/s)", anchor=round(r["read_rate"])),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    r = compare(Settings(), args.events, args.rounds)
    print(f"events: {r['events']}, batch {r['batch_rows']} rows, median of {args.rounds} rounds"
          f" (rounds: {', '.join(f'{k}={r[k]}' for k in r if k.endswith('_rounds'))})")
    print(f"sink (map, dedup, insert with views, checkpoint): {r['sink_rate']:,.0f} events/s"
          f" (target >= {TARGET:,}); client CPU {r['sink_client_cpu_us_per_event']} us/event,"
          f" of which mapping {r['mapping_us_per_event']}")
    print(f"anchor (bare insert of the mapped rows, no views): {r['anchor_rate']:,.0f} rows/s")
    print(f"sink / anchor: {r['sink_rate'] / r['anchor_rate']:.2f}")
    print(f"rebuild copy: {r['rebuild_rate']:,.0f} events/s beside a bare PostgreSQL read of "
          f"{r['read_rate']:,.0f} events/s")


if __name__ == "__main__":
    main()
