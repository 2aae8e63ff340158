"""Dead letters in PostgreSQL (`read_models.dead_letters`) and on the dead-letter topic.

A row is written in the same transaction as the sink's batch that parked the aggregate, so a
parked aggregate always has its letters. A redelivered message (same projection and source
topic/partition/offset) finds its row instead of adding one, and the row as first recorded is
what goes to the topic again: the topic gets each letter at least once, with its first reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from projections.deliveries import DeadLetter

DDL = """
CREATE SCHEMA IF NOT EXISTS read_models;
CREATE TABLE IF NOT EXISTS read_models.dead_letters (
    id           bigserial PRIMARY KEY,
    projection   text NOT NULL,
    aggregate_id uuid,            -- null: the message named no aggregate (nothing parked)
    event_id     uuid,            -- null: the message could not be decoded
    event_type   text,
    version      int,
    position     bigint,
    topic        text,            -- the source; null for a letter of a dead-letter replay
    partition    int,
    "offset"     bigint,
    reason       text NOT NULL,
    error        text NOT NULL,
    payload      bytea,           -- the message's value as it was on Kafka
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_source
    ON read_models.dead_letters (projection, topic, partition, "offset");
CREATE INDEX IF NOT EXISTS dead_letters_waiting
    ON read_models.dead_letters (projection, aggregate_id, id) WHERE replayed_at IS NULL;
"""
BOOTSTRAP_LOCK = "read_models:bootstrap"  # as projections.schema: one creator at a time

COLUMNS = ('id, projection, aggregate_id, event_id, event_type, version, position, topic,'
           ' partition, "offset", reason, error, payload, created_at, replayed_at')

# A redelivery hits the source index: the no-op update makes RETURNING give the first row.
INSERT = f"""
INSERT INTO read_models.dead_letters (projection, aggregate_id, event_id, event_type, version,
    position, topic, partition, "offset", reason, error, payload)
VALUES (%(projection)s, %(aggregate_id)s, %(event_id)s, %(event_type)s, %(version)s,
    %(position)s, %(topic)s, %(partition)s, %(offset)s, %(reason)s, %(error)s, %(payload)s)
ON CONFLICT (projection, topic, partition, "offset") DO UPDATE SET projection = EXCLUDED.projection
RETURNING {COLUMNS}, (xmax = 0) AS new
"""


@dataclass(frozen=True)
class Letter:
    """A row of read_models.dead_letters."""

    id: int
    projection: str
    aggregate_id: UUID | None
    event_id: UUID | None
    event_type: str | None
    version: int | None
    position: int | None
    topic: str | None
    partition: int | None
    offset: int | None
    reason: str
    error: str
    payload: bytes | None
    created_at: datetime
    replayed_at: datetime | None
    new: bool = True  # False: the row was already there (the message was redelivered)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the dead-letter topic's value and `smartcourse dlq show`."""
        fields = asdict(self)
        fields.pop("new")
        payload = fields.pop("payload")
        fields = {k: str(v) if isinstance(v, UUID | datetime) else v for k, v in fields.items()}
        fields["payload_base64"] = base64.b64encode(payload).decode() if payload else None
        return fields


def letter_row(projection: str, letter: DeadLetter, payload: bytes | None) -> dict[str, Any]:
    """The row of a dead letter the sink returned."""
    event, delivery = letter.delivery.event, letter.delivery
    return {"projection": projection, "aggregate_id": event.aggregate_id,
            "event_id": event.event_id, "event_type": event.event_type,
            "version": event.version, "position": event.position, "topic": delivery.topic,
            "partition": delivery.partition, "offset": delivery.offset,
            "reason": letter.reason, "error": letter.error, "payload": payload}


def poison_row(projection: str, topic: str, partition: int, offset: int,
               aggregate_id: UUID | None, reason: str, error: str,
               payload: bytes | None) -> dict[str, Any]:
    """The row of a message that could not be decoded."""
    return {"projection": projection, "aggregate_id": aggregate_id, "event_id": None,
            "event_type": None, "version": None, "position": None, "topic": topic,
            "partition": partition, "offset": offset, "reason": reason, "error": error,
            "payload": payload}


async def ensure_dead_letters(conn: AsyncConnection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [BOOTSTRAP_LOCK])
        await conn.execute(DDL)


async def record(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[Letter]:
    """Insert letters (in order) or find them if their message was seen before."""
    letters: list[Letter] = []
    cur = conn.cursor(row_factory=class_row(Letter))
    for row in rows:  # letters are rare: one statement each keeps the order of the ids
        await cur.execute(INSERT, row)
        found = await cur.fetchone()
        assert found is not None
        letters.append(found)
    return letters


async def fetch(conn: AsyncConnection, where: str = "true", params: Sequence[Any] = (),
                limit: int | None = None) -> list[Letter]:
    """Letters matching `where` (SQL over the table's columns), oldest first."""
    sql = f"SELECT {COLUMNS} FROM read_models.dead_letters WHERE {where} ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cur = conn.cursor(row_factory=class_row(Letter))
    await cur.execute(sql, list(params))
    return await cur.fetchall()


async def waiting_aggregates(conn: AsyncConnection) -> list[tuple[str, UUID | None]]:
    """(projection, aggregate) pairs with letters not yet replayed, oldest letter first."""
    cur = await conn.execute(
        "SELECT projection, aggregate_id FROM read_models.dead_letters"
        " WHERE replayed_at IS NULL GROUP BY projection, aggregate_id ORDER BY min(id)")
    return list(await cur.fetchall())


async def mark_replayed(conn: AsyncConnection, ids: Sequence[int]) -> None:
    await conn.execute("UPDATE read_models.dead_letters SET replayed_at = now()"
                       " WHERE id = ANY(%s)", [list(ids)])


def waiting_filter(projection: str | None, include_replayed: bool) -> tuple[str, list[Any]]:
    """The `where` and params of `fetch` for a listing: one projection's or all, waiting only
    unless `include_replayed` (`smartcourse dlq list` and the operator's console)."""
    clauses: list[str] = []
    params: list[Any] = []
    if projection:
        clauses.append("projection = %s")
        params.append(projection)
    if not include_replayed:
        clauses.append("replayed_at IS NULL")
    return " AND ".join(clauses) or "true", params


def publish(letters: Sequence[Letter], bootstrap: str, prefix: str,
            timeout: float = 30.0) -> None:
    """Put letters on PREFIX.dlq, as the worker does (letters of a replay that failed
    again); raises RuntimeError when Kafka does not confirm them in `timeout` seconds."""
    if not letters:
        return
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for letter in letters:
        key, value, headers = topic_message(letter)
        producer.produce(f"{prefix}.dlq", key=key, value=value, headers=headers)
    if producer.flush(timeout):
        raise RuntimeError("the dead-letter topic did not confirm the new letters")


def decoded(letter: Letter, registry_url: str) -> Any:
    """The letter's message as an event record, or why it cannot be read (None: no message)."""
    if not letter.payload:
        return None
    from commands.adapters.avro_contracts import EventDecoder, registry_client

    decoder = EventDecoder(registry_client(registry_url))
    try:
        return decoder.decode(letter.payload, letter.topic or "smartcourse.unknown")
    except Exception as error:  # noqa: BLE001 - shown to the operator, not handled
        return {"undecodable": f"{type(error).__name__}: {error}"}


def topic_message(letter: Letter) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of a letter on the dead-letter topic: keyed by aggregate, the
    value a JSON document holding everything (the original message base64-encoded)."""
    key = str(letter.aggregate_id).encode() if letter.aggregate_id else None
    headers = [("dead_letter_id", str(letter.id).encode()),
               ("projection", letter.projection.encode()), ("reason", letter.reason.encode())]
    if letter.event_id is not None:
        headers.append(("event_id", str(letter.event_id).encode()))
    return key, json.dumps(letter.describe()).encode(), headers
