"""PostgreSQL sink throughput per worker: events/s through `PostgresProjector.apply` for each
read model, in Kafka-like batches, beside the raw anchor measured in the same run: bare
psycopg writing one row per event (the same events) in batches of the same size, by
`executemany` and by `COPY`, each batch in its own transaction as the sink's are.

The events are a synthetic but realistic history (authored courses, enrolments with seats,
activations, lessons completed, quizzes, completions) with valid versions and positions.
Each projection is written as a private copy (own schemas, no views), dropped afterwards.
Each round runs the anchors, then every projection, so ours and the anchor see the same load
on the machine; the figures are the median rounds, the ratio median over median, and every
round is kept.

    .venv/bin/python -m bench.projection_pg [--events 60000] [--batch 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from bench.figures import Figure, Scale
from commands.adapters.event_store import StoredEvent
from projections.base import Projection
from projections.deliveries import Delivery, EventDelivery
from projections.registry import PROJECTIONS
from projections.schema import drop_projection
from projections.sink import PostgresProjector
from smartcourse.settings import Settings

PARTITIONS = 6
ROUNDS = 3


class Synthetic:
    """A valid event history: per-aggregate versions, global positions, JSON payloads."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.events: list[StoredEvent] = []
        self.versions: dict[UUID, int] = {}
        self.start = datetime(2026, 1, 1, tzinfo=UTC)
        self.correlation = uuid4()

    def emit(self, kind: str, aggregate: UUID, payload: dict[str, Any]) -> None:
        version = self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        position = len(self.events) + 1
        self.events.append(StoredEvent(
            position=position, event_id=uuid5(aggregate, str(version)),
            aggregate_type=kind.split(".")[0], aggregate_id=aggregate, version=version,
            event_type=kind, schema_version=1, payload=payload,
            occurred_at=self.start + timedelta(milliseconds=position), actor=None,
            correlation_id=self.correlation, causation_id=None))

    def course(self, modules: int = 2, lessons: int = 5) -> tuple[UUID, list[str]]:
        course, ids = uuid4(), []
        self.emit("course.created", course, {
            "instructor_id": str(uuid4()), "title": f"Course {course.hex[:6]}",
            "description": "About things", "tags": ["bench"], "capacity": 100_000,
            "prerequisites": []})
        for m in range(modules):
            module = str(uuid4())
            self.emit("course.module_added", course, {"module_id": module, "title": f"M{m}",
                                                      "index": m})
            for n in range(lessons):
                ids.append(str(uuid4()))
                self.emit("course.lesson_added", course, {
                    "module_id": module, "lesson_id": ids[-1], "title": f"L{m}.{n}",
                    "content": "Some lesson text. " * 20, "assets": [], "index": n})
        self.emit("course.published", course, {"workflow_id": str(uuid4()),
                                                "content_version": 1, "lessons": []})
        return course, ids

    def enrollment(self, course: UUID, lessons: list[str]) -> None:
        enrollment, student = uuid4(), str(uuid4())
        self.emit("course.seat_reserved", course, {"enrollment_id": str(enrollment),
                                                   "student_id": student})
        self.emit("enrollment.created", enrollment, {"course_id": str(course),
                                                     "student_id": student})
        self.emit("enrollment.activated", enrollment, {})
        done = self.rng.randint(0, len(lessons))
        for n, lesson in enumerate(self.rng.sample(lessons, done)):
            self.emit("enrollment.progressed", enrollment, {
                "lesson_id": lesson, "completed_count": n + 1, "total_lessons": len(lessons)})
            if self.rng.random() < 0.2:
                self.emit("enrollment.quiz_scored", enrollment, {
                    "quiz_id": str(uuid4()), "score": self.rng.randint(0, 10), "max_score": 10})
        if done == len(lessons):
            self.emit("enrollment.completed", enrollment, {})


def history(events: int, seed: int = 1) -> list[StoredEvent]:
    made = Synthetic(seed)
    courses = [made.course() for _ in range(max(10, events // 2_000))]
    while len(made.events) < events:
        made.enrollment(*made.rng.choice(courses))
    return made.events


def kafka_batches(events: list[StoredEvent], size: int) -> list[list[Delivery]]:
    """Per topic and partition in order; a batch takes the next events of every partition."""
    queues: dict[tuple[str, int], list[EventDelivery]] = {}
    for e in events:
        key = (f"smartcourse.{e.aggregate_type}", e.aggregate_id.int % PARTITIONS)
        queue = queues.setdefault(key, [])
        queue.append(EventDelivery(e, key[0], key[1], len(queue)))
    share = max(1, size // len(queues))
    batches: list[list[Delivery]] = []
    for start in range(0, max(len(q) for q in queues.values()), share):
        batch: list[Delivery] = [d for q in queues.values() for d in q[start:start + share]]
        for n in range(0, len(batch), size):
            batches.append(batch[n:n + size])
    return batches


def fed(projection: Projection, events: list[StoredEvent]) -> bool:
    return any(projection.handles(e) for e in events)


async def sink_rate(dsn: str, projection: Projection, batches: list[list[Delivery]]) -> float:
    copy = replace(projection, name=f"bench_{uuid4().hex[:6]}_{projection.name}", views=())
    projector = PostgresProjector(copy)
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            await projector.apply(conn, [])  # bootstrap outside the timing
            mine = [[d for d in b if isinstance(d, EventDelivery) and copy.handles(d.event)]
                    for b in batches]
            count = sum(map(len, mine))
            started = time.perf_counter()
            for batch in mine:
                result = await projector.apply(conn, batch)
                assert not result.dead_letters, result.dead_letters[:1]
            return count / (time.perf_counter() - started)
        finally:
            await drop_projection(conn, copy)


ANCHOR_TABLE = """
CREATE TABLE {t} (aggregate_id uuid, version int, position bigint, occurred_at timestamptz,
                  event_type text, payload jsonb, PRIMARY KEY (aggregate_id, version))
"""


async def anchor_rates(dsn: str, events: list[StoredEvent], size: int) -> dict[str, float]:
    """Bare psycopg: one row per event, `size` rows per transaction."""
    rows = [(e.aggregate_id, e.version, e.position, e.occurred_at, e.event_type,
             Jsonb(e.payload)) for e in events]
    rates: dict[str, float] = {}
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        for how in ("executemany", "copy"):
            table = f"bench_anchor.sink_{uuid4().hex[:8]}"
            await conn.execute("CREATE SCHEMA IF NOT EXISTS bench_anchor")
            await conn.execute(ANCHOR_TABLE.replace("{t}", table))
            started = time.perf_counter()
            for n in range(0, len(rows), size):
                async with conn.transaction():
                    if how == "copy":
                        async with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                            for row in rows[n:n + size]:
                                await copy.write_row(row)
                    else:
                        await conn.cursor().executemany(
                            f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)",
                            rows[n:n + size])
            rates[how] = len(rows) / (time.perf_counter() - started)
            await conn.execute(f"DROP TABLE {table}")
    return rates


async def compare(dsn: str, events: int, size: int, rounds: int) -> dict[str, Any]:
    made = history(events)
    batches = kafka_batches(made, size)
    # The inputs live for the whole run: keep the collector from walking them again and again
    # (a worker holds one batch at a time, so those pauses are not its cost).
    gc.freeze()
    anchors: dict[str, list[float]] = {"executemany": [], "copy": []}
    # Projections of users, certificates and the like see none of these events: no figure.
    measured = {name: p for name, p in PROJECTIONS.items() if fed(p, made)}
    sinks: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(rounds):
        for how, rate in (await anchor_rates(dsn, made, size)).items():
            anchors[how].append(rate)
        for name, projection in measured.items():
            sinks[name].append(await sink_rate(dsn, projection, batches))
    return {"events": len(made), "batch": size, "rounds": rounds,
            "not_fed": sorted(set(PROJECTIONS) - set(measured)),
            "sink": {name: statistics.median(r) for name, r in sinks.items()},
            "anchor": {how: statistics.median(r) for how, r in anchors.items()},
            "sink_rounds": {name: [round(x) for x in r] for name, r in sinks.items()},
            "anchor_rounds": {how: [round(x) for x in r] for how, r in anchors.items()}}


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    result = asyncio.run(compare(settings.pg_dsn, 20_000 if scale == Scale.SMALL else 100_000,
                                 500, ROUNDS))
    anchor = result["anchor"]["executemany"]
    return [Figure(
        benchmark="projection_pg", metric=f"{name}: events/s into PostgreSQL, one worker"
        f" (median of {ROUNDS})", ours=round(rate), anchor_name="bare psycopg executemany, one"
        " row per event, same batches (rows/s)", anchor=round(anchor),
        target=">= 10,000 events/s per worker", met=rate >= 10_000,
        details={**result, "copy_rows_per_s": round(result["anchor"]["copy"])},
    ) for name, rate in result["sink"].items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    result = asyncio.run(compare(Settings().pg_dsn, args.events, args.batch, args.rounds))
    print(f"{result['events']:,} events, batches of {result['batch']}; median of"
          f" {result['rounds']} rounds (anchors, then every projection, each round)")
    for how, rate in result["anchor"].items():
        print(f"  anchor  bare psycopg {how:<11} {rate:>10,.0f} rows/s"
              f"     rounds {result['anchor_rounds'][how]}")
    anchor = result["anchor"]["executemany"]
    for name, rate in result["sink"].items():
        print(f"  sink    {name:<22} {rate:>10,.0f} events/s   {rate / anchor:5.2f} x executemany"
              f"   {rate / result['anchor']['copy']:5.2f} x COPY   rounds"
              f" {result['sink_rounds'][name]}")


if __name__ == "__main__":
    main()
