"""Dead-letter rows and their form on the dead-letter topic, without services."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import uuid4

from commands.adapters.event_store import StoredEvent
from projections.deliveries import VERSION_GAP, DeadLetter, EventDelivery
from streams.dead_letters import Letter, letter_row, poison_row, topic_message


def letter(**fields: object) -> Letter:
    base: dict[str, object] = dict(
        id=7, projection="course_detail", aggregate_id=uuid4(), event_id=uuid4(),
        event_type="course.module_added", version=4, position=99, topic="p.course",
        partition=3, offset=12, reason="fold_failed", error="KeyError: 'title'",
        payload=b"\x00\x01raw", created_at=datetime(2026, 1, 2, tzinfo=UTC), replayed_at=None)
    return Letter(**{**base, **fields})  # type: ignore[arg-type]


def test_a_sink_letter_keeps_the_event_and_its_source() -> None:
    event = StoredEvent(
        position=99, event_id=uuid4(), aggregate_type="course", aggregate_id=uuid4(),
        version=4, event_type="course.module_added", schema_version=1, payload={},
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC), actor=None, correlation_id=uuid4(),
        causation_id=None)
    row = letter_row("course_detail", DeadLetter(
        EventDelivery(event, "p.course", 3, 12), VERSION_GAP, "expected 3, got 4"), b"raw")
    assert row == {"projection": "course_detail", "aggregate_id": event.aggregate_id,
                   "event_id": event.event_id, "event_type": "course.module_added",
                   "version": 4, "position": 99, "topic": "p.course", "partition": 3,
                   "offset": 12, "reason": VERSION_GAP, "error": "expected 3, got 4",
                   "payload": b"raw"}


def test_a_poison_letter_has_no_event() -> None:
    aggregate = uuid4()
    row = poison_row("course_catalog", "p.course", 1, 5, aggregate, "undecodable", "bad",
                     b"xx")
    assert row["event_id"] is None and row["version"] is None
    assert (row["aggregate_id"], row["topic"], row["partition"], row["offset"]) == (
        aggregate, "p.course", 1, 5)


def test_on_the_topic_a_letter_is_keyed_by_aggregate_and_holds_everything() -> None:
    sent = letter()
    key, value, headers = topic_message(sent)
    assert key == str(sent.aggregate_id).encode()
    assert dict(headers) == {"dead_letter_id": b"7", "projection": b"course_detail",
                             "reason": b"fold_failed", "event_id": str(sent.event_id).encode()}
    body = json.loads(value)
    assert body["id"] == 7 and body["offset"] == 12 and body["error"] == "KeyError: 'title'"
    assert base64.b64decode(body["payload_base64"]) == b"\x00\x01raw"
    assert "new" not in body


def test_a_letter_without_aggregate_or_event_has_no_key_and_no_event_header() -> None:
    key, value, headers = topic_message(letter(aggregate_id=None, event_id=None, payload=None))
    assert key is None and "event_id" not in dict(headers)
    assert json.loads(value)["payload_base64"] is None
