"""Relay throughput (event store -> Kafka) beside a bare confluent-kafka producer, same run.

    .venv/bin/python bench/relay.py [--events 20000] [--rounds 5] [--batch-size 2000]

Appends EVENTS fresh events through the CommandBus (a realistic mix: courses with modules and
lessons, students enrolling and progressing), then, ROUNDS times each and alternating:
- relay: a relay with a fresh checkpoint works through those events as a backlog, from its
  start (topics and schemas ready) to its checkpoint passing the last one: read from
  PostgreSQL, Avro-encode, produce, wait for acks=all, record the checkpoint (pipelined);
- anchor: a bare Producer with the same settings (idempotent, acks=all, lz4, linger) sends
  the very same encoded messages (same bytes, keys, headers), from first produce to flush.
Rounds alternate anchor and relay, so both see the same load on the machine. Prints the
median round of each and relay / anchor, median over median (target: at least 0.5), every
round, and where a relayed event's time goes. Needs the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
import timeit
import uuid
from uuid import UUID, uuid4

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from bench.figures import Figure, Scale
from commands import messages as m
from commands.adapters.avro_contracts import EventEncoder, topic_name
from commands.adapters.relay import (
    FETCH_WHOLE_ROWS,
    Relay,
    RelayConfig,
    Row,
    avro_record,
    ensure_topics,
)
from commands.bus import CommandBus
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings


async def _course_life(bus: CommandBus, students: int) -> int:
    """One course authored and published, students enrolled and studying: ~6 events each."""
    teacher = m.Actor(uuid4(), "instructor")
    course, module, lessons = uuid4(), uuid4(), [uuid4() for _ in range(3)]
    await bus.execute(m.CreateCourse(course, "Benchmarking Kafka", "A course.", ["kafka"],
                                     capacity=students), teacher)
    await bus.execute(m.AddModule(course, module, "Basics"), teacher)
    for n, lesson in enumerate(lessons):
        await bus.execute(m.AddLesson(course, module, lesson, f"Lesson {n}", "Some text. " * 20,
                                      [{"name": "slides.pdf", "url": "https://files.test/s.pdf",
                                        "mime_type": "application/pdf", "size_bytes": 2048}]),
                          teacher)
    await bus.execute(m.PublishCourse(course, uuid4()), teacher)

    async def study(student: UUID) -> None:
        me = m.Actor(student, "student")
        await bus.execute(m.RegisterUser(student, "Student", f"{student}@bench.example",
                                         "student"), me)
        enrolled = await bus.execute(m.EnrollStudent(course, student), me)
        platform = m.Actor(me.user_id, "system")  # the workflow's and the grader's steps
        await bus.execute(m.ActivateEnrollment(enrolled.aggregate_id), platform)
        await bus.execute(m.CompleteLesson(enrolled.aggregate_id, lessons[0]), me)
        await bus.execute(m.ScoreQuiz(enrolled.aggregate_id, uuid4(), 7, 10), platform)

    await asyncio.gather(*(study(uuid4()) for _ in range(students)))
    return 6 + students * 6  # events: course 6, per student: user 1, seat 1, enrollment 4


async def append_events(settings: Settings, count: int) -> tuple[int, int]:
    """Append at least `count` events; returns the head before and after."""
    side = await open_write_side(settings)
    try:
        before = await side.store.head()
        appended = 0
        while appended < count:
            lives = [_course_life(side.bus, students=20) for _ in range(10)]
            appended += sum(await asyncio.gather(*lives))
        return before, await side.store.head()
    finally:
        await side.close()


def load_rows(settings: Settings, after: int, last: int) -> list[Row]:
    """The events as the relay reads them, payload included even where the appender stored
    the encoded bytes: the encoding's cost is measured on the same rows."""
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(FETCH_WHOLE_ROWS, [after, last - after]).fetchall()
    return [Row(*row) for row in rows]


def relay_round(settings: Settings, config: RelayConfig, last: int) -> float:
    """Events/s of a relay working through the backlog, once warm: from its first confirmed
    batch to its checkpoint covering `last` (connection set-up is not throughput)."""
    relay = Relay(settings, config)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    marks: list[tuple[float, int]] = []
    deadline = time.monotonic() + 600
    while relay.position < last:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the relay stopped early")
        if not marks and relay.position > config.start_after:
            marks.append((time.perf_counter(), relay.position))
        time.sleep(0.001)
    marks.append((time.perf_counter(), relay.position))
    relay.stop()
    thread.join(60)
    (t1, p1), (t2, p2) = marks[0], marks[-1]
    return (p2 - p1) / (t2 - t1)


def anchor_round(settings: Settings, config: RelayConfig,
                 messages: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> float:
    """Messages/s of a bare producer with the relay's settings, once warm: the first batch
    sent and confirmed untimed, then the rest, from first produce to flush."""
    producer = Producer({
        "bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True,
        "acks": "all", "linger.ms": config.linger_ms, "compression.type": config.compression,
        "partitioner": "murmur2_random", "queue.buffering.max.messages": 1_000_000,
    })
    failures: list[object] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is not None:
            failures.append(error)

    def send(part: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
        for topic, key, value, headers in part:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, headers=headers,
                                     on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.01)
        if producer.flush(120) or failures:
            raise SystemExit(f"the anchor producer failed: {failures[:3]}")

    send(messages[: config.batch_size])  # warm: producer id, metadata, connections
    rest = messages[config.batch_size:]
    started = time.perf_counter()
    send(rest)
    return len(rest) / (time.perf_counter() - started)


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    small = scale == Scale.SMALL
    result = compare(settings, events=5_000 if small else 20_000, rounds=3 if small else 5,
                     batch_size=RelayConfig.batch_size)
    return [Figure(
        benchmark="relay", metric="events/s from the store into Kafka (confirmed)",
        ours=round(result["relay_rate"]), anchor_name="bare confluent-kafka producer, "
        "same messages and settings (msgs/s)", anchor=round(result["anchor_rate"]),
        target=">= 50% of the bare producer",
        met=result["relay_rate"] >= 0.5 * result["anchor_rate"], details=result,
    )]


def compare(settings: Settings, events: int, rounds: int, batch_size: int) -> dict[str, object]:
    """Relay and bare-producer rounds on the same messages, interleaved; the median of each."""
    tag = f"bench-relay-{uuid.uuid4().hex[:8]}"

    before, last = asyncio.run(append_events(settings, events))
    rows = load_rows(settings, before, last)
    count = len(rows)
    print(f"appended {count} events through the CommandBus (positions {before + 1}..{last})")

    base = RelayConfig(name=tag, topic_prefix=tag, start_after=before, poll_interval=0.05,
                       batch_size=batch_size)
    encoder = EventEncoder(SchemaRegistryClient({"url": settings.registry_url}))
    encoder.register_all()
    anchor_topics = {t: f"{tag}.anchor.{t.rsplit('.', 1)[-1]}" for t in
                     {topic_name(e.aggregate_type, tag) for e in rows}}
    ensure_topics(settings.kafka_bootstrap, base.topics() + list(anchor_topics.values()),
                  base.partitions, base.replication_factor)
    def encode_all() -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        """Every event encoded as the relay would encode a row stored without bytes (the
        appender encodes the same way: ADR 7), as anchor messages."""
        encoded = []
        for event in rows:
            topic = topic_name(event.aggregate_type, tag)
            encoded.append((anchor_topics[topic], event.aggregate_id.encode(),
                            encoder.encode_record(event.event_type, avro_record(event)),
                            [("event_id", event.event_id.encode()),
                             ("event_type", event.event_type.encode()),
                             ("correlation_id", event.correlation_id.encode())]))
        return encoded

    messages = encode_all()
    encoding = min(timeit.repeat(encode_all, number=1, repeat=3))
    stored = sum(1 for event in rows if event.encoded is not None)
    size = statistics.mean(len(value) for _, _, value, _ in messages)

    relay_rates: list[float] = []
    anchor_rates: list[float] = []
    names: list[str] = []
    try:
        for round_ in range(rounds):
            name = f"{tag}-{round_}"
            names.append(name)
            config = RelayConfig(**{**vars(base), "name": name})
            anchor_rates.append(anchor_round(settings, config, messages))
            relay_rates.append(relay_round(settings, config, last))
    finally:
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM event_store.checkpoints WHERE name = ANY(%s)", [names])
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        doomed = base.topics() + list(anchor_topics.values())
        for future in admin.delete_topics(doomed, request_timeout=30).values():
            future.result(timeout=30)

    relay_rate, anchor_rate = statistics.median(relay_rates), statistics.median(anchor_rates)
    return {"relay_rate": relay_rate, "anchor_rate": anchor_rate, "relay_rounds": relay_rates,
            "anchor_rounds": anchor_rates, "messages": count, "mean_value_bytes": size,
            "batch_size": batch_size, "encoding_us_per_event": 1e6 * encoding / count,
            "encoded_when_appended": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=RelayConfig.batch_size)
    args = parser.parse_args()
    r = compare(Settings(), args.events, args.rounds, args.batch_size)
    relay_rate, anchor_rate, count = r["relay_rate"], r["anchor_rate"], r["messages"]
    encoding, size = r["encoding_us_per_event"] * count / 1e6, r["mean_value_bytes"]
    relay_rates, anchor_rates = r["relay_rounds"], r["anchor_rounds"]
    print(f"messages: {count}, mean value size {size:.0f} bytes, relay batch size "
          f"{args.batch_size}, median of {args.rounds} rounds each, alternating")
    print("  rounds, relay events/s:  " + ", ".join(f"{r:,.0f}" for r in relay_rates))
    print("  rounds, anchor msgs/s:   " + ", ".join(f"{r:,.0f}" for r in anchor_rates))
    print(f"relay (store -> Kafka, confirmed and checkpointed): {relay_rate:,.0f} events/s")
    print(f"anchor (bare confluent-kafka producer, same messages): {anchor_rate:,.0f} msgs/s")
    print(f"relay / anchor: {relay_rate / anchor_rate:.2f} (target >= 0.50)")
    print(f"where a relayed event's time goes: {1e6 / relay_rate:.1f} us in all, of which "
          f"producing {1e6 / anchor_rate:.1f} us; {r['encoded_when_appended']} of {count} "
          f"events were encoded when appended (Avro record + fastavro: "
          f"{1e6 * encoding / count:.1f} us each, in the command path)")


if __name__ == "__main__":
    main()
