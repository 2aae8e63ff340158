"""Every fold is deterministic, and an event read back from Kafka (Avro) folds to the same
changes as the same event read from the store: the live path and a replay agree."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from commands.adapters.avro_contracts import from_record, schema_of, to_record
from commands.adapters.event_store import StoredEvent
from projections.registry import PROJECTIONS
from tests.unit.projections.given import platform, run
from tests.unit.projections.history import scenario


@pytest.fixture(scope="module")
def events() -> list[StoredEvent]:
    store, h = platform(seed=3)
    run(scenario(h))
    return store.events


def over_kafka(event: StoredEvent) -> StoredEvent:
    schema = parse_schema(schema_of(event.event_type))
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, to_record(event))
    buffer.seek(0)
    record = schemaless_reader(buffer, schema, None)
    assert isinstance(record, dict)
    return from_record(record)


def through_json(event: StoredEvent) -> StoredEvent:
    return replace(event, payload=json.loads(json.dumps(event.payload)))


@pytest.mark.parametrize("name", PROJECTIONS)
def test_the_same_events_fold_to_the_same_changes(name: str,
                                                  events: list[StoredEvent]) -> None:
    projection = PROJECTIONS[name]
    mine = [e for e in events if projection.handles(e)]

    first = [projection.fold(e) for e in mine]

    assert first == [projection.fold(e) for e in mine]
    assert first == [projection.fold(through_json(e)) for e in mine]
    assert any(first), "the history exercises the projection"


@pytest.mark.parametrize("name", PROJECTIONS)
def test_an_event_from_kafka_folds_as_the_stored_one(name: str,
                                                     events: list[StoredEvent]) -> None:
    projection = PROJECTIONS[name]
    mine = [e for e in events if projection.handles(e)]

    assert [projection.fold(over_kafka(e)) for e in mine] == [projection.fold(e) for e in mine]
