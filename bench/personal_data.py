"""The cost of sealing personal fields on the command path: per `user.registered` event,
sealing (AES-GCM with a cached data key) plus the append-time Avro encoding, beside the raw
anchor of the same encoding alone, in the same run. Opening (the unit of work's load and the
export) is reported beside it, and the check every other event type pays (a dict lookup).

    .venv/bin/smartcourse bench personal_data
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from uuid import uuid4

from bench.figures import Figure, Scale, median_of
from commands.adapters import avro_contracts
from commands.adapters.avro_contracts import EventEncoder
from commands.adapters.event_store import StoredEvent
from privacy.sealing import MemoryKeys, PersonalData
from smartcourse.settings import Settings

TYPE = "user.registered"


def _event(payload: dict[str, object], n: int) -> StoredEvent:
    return StoredEvent(n, uuid4(), "user", uuid4(), 1, TYPE, 1, payload,
                       datetime.now(UTC), "bench", uuid4(), None)


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    count = 20_000 if scale is Scale.FULL else 2_000
    encoder = EventEncoder(client=None, event_types=[TYPE])  # type: ignore[arg-type]
    encoder._writers[TYPE] = avro_contracts._writer(TYPE, 1)  # framed as id 1: no registry
    personal = PersonalData(MemoryKeys())
    plain = {"display_name": "Ada Lovelace", "email": "ada@example.org", "role": "student"}
    events = [_event(plain, n) for n in range(count)]
    subject = events[0].aggregate_id
    loop = asyncio.new_event_loop()
    loop.run_until_complete(personal.keys.get_or_create(subject))  # cached key, as in a process

    def encode_only() -> float:
        start = time.perf_counter()
        for event in events:
            encoder.encode_new(event)
        return (time.perf_counter() - start) / count * 1e6

    async def seal_all() -> list[dict[str, object]]:
        return [await personal.seal(TYPE, subject, dict(plain)) for _ in range(count)]

    def seal_and_encode() -> float:
        start = time.perf_counter()
        sealed = loop.run_until_complete(seal_all())
        for event, payload in zip(events, sealed, strict=True):
            encoder.encode_new(StoredEvent(event.position, event.event_id, "user", subject, 1,
                                           TYPE, 1, payload, event.occurred_at, "bench",
                                           event.correlation_id, None))
        return (time.perf_counter() - start) / count * 1e6

    sealed_payload = loop.run_until_complete(personal.seal(TYPE, subject, dict(plain)))

    async def open_all() -> None:
        for _ in range(count):
            await personal.open(TYPE, subject, sealed_payload)

    def open_only() -> float:
        start = time.perf_counter()
        loop.run_until_complete(open_all())
        return (time.perf_counter() - start) / count * 1e6

    def check_only() -> float:
        start = time.perf_counter()
        for _ in range(count):
            personal.has_personal_fields("enrollment.progressed")
        return (time.perf_counter() - start) / count * 1e6

    anchor, anchor_rounds = median_of(5, encode_only)
    ours, rounds = median_of(5, seal_and_encode)
    opened, _ = median_of(5, open_only)
    check, _ = median_of(5, check_only)
    loop.close()
    return [Figure(
        benchmark="personal_data", metric="µs per user.registered (seal + Avro encode)",
        ours=round(ours, 2), anchor_name="Avro encode alone (encode_new)",
        anchor=round(anchor, 2),
        target="only events with personal fields pay; others pay a dict lookup",
        details={"events": count, "rounds_us": [round(r, 2) for r in rounds],
                 "anchor_rounds_us": [round(r, 2) for r in anchor_rounds],
                 "open_us": round(opened, 2), "other_event_types_check_us": round(check, 3)},
    )]
