"""The Avro contracts against the real schema registry and Kafka.

Evolution is tried on a copy of a real contract under a test-only namespace (so a subject of
its own), which leaves the real subjects untouched.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from commands.adapters import avro_contracts as contracts
from commands.adapters.event_store import StoredEvent
from commands.domain.registry import EVENT_CLASSES
from smartcourse.settings import Settings

pytestmark = pytest.mark.integration

DEADLINE = 60.0


@pytest.fixture
def client(stack: Settings) -> SchemaRegistryClient:
    return contracts.registry_client(stack.registry_url)


def published_event() -> StoredEvent:
    return StoredEvent(
        position=42, event_id=uuid.uuid4(), aggregate_type="course", aggregate_id=uuid.uuid4(),
        version=5, event_type="course.published", schema_version=1,
        payload={"workflow_id": str(uuid.uuid4()), "content_version": 1, "lessons": [
            {"lesson_id": str(uuid.uuid4()), "module_id": str(uuid.uuid4()),
             "title": "Logs", "content": "A log is ...",
             # Inline content: no reference to stored content (fields the contract defaults).
             "content_sha256": None, "content_length": None}]},
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        actor=str(uuid.uuid4()), correlation_id=uuid.uuid4(), causation_id=None,
    )


def test_every_contract_registers_with_backward_compatibility(
    client: SchemaRegistryClient,
) -> None:
    encoder = contracts.EventEncoder(client)
    ids = encoder.register_all()
    assert set(ids) == set(EVENT_CLASSES)
    assert encoder.register_all() == ids  # registering again changes nothing
    for event_type, schema_id in ids.items():
        subject = contracts.subject_name(event_type)
        assert client.get_compatibility(subject) == "BACKWARD"
        latest = client.get_latest_version(subject)
        assert latest.schema_id == schema_id
        assert json.loads(latest.schema.schema_str) == contracts.schema_of(event_type)


@pytest.fixture
def test_contract(client: SchemaRegistryClient) -> Iterator[dict[str, Any]]:
    """course.published under a namespace of its own; its subject is deleted afterwards."""
    schema = copy.deepcopy(contracts.schema_of("course.published"))
    schema["namespace"] = f"smartcourse.test_{uuid.uuid4().hex}"
    yield schema
    subject = f"{schema['namespace']}.{schema['name']}"
    for permanent in (False, True):
        # Suppressed: already gone, or never registered if the test failed early.
        with contextlib.suppress(SchemaRegistryError):
            client.delete_subject(subject, permanent=permanent)


@pytest.fixture
def topic(stack: Settings) -> Iterator[str]:
    name = f"test-contracts-{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(
        timeout=DEADLINE)
    yield name
    admin.delete_topics([name])[name].result(timeout=DEADLINE)


def read_one(settings: Settings, topic: str) -> bytes:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert time.monotonic() < deadline, "the message did not arrive"
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                return message.value()
    finally:
        consumer.close()


def test_evolution_is_checked_and_old_events_stay_readable(
    stack: Settings, client: SchemaRegistryClient, test_contract: dict[str, Any], topic: str
) -> None:
    subject = f"{test_contract['namespace']}.{test_contract['name']}"
    v1_id = contracts.register(client, test_contract)
    assert client.get_compatibility(subject) == "BACKWARD"

    # An event written with version 1, before the contract evolves.
    event = published_event()
    serialize = AvroSerializer(client, json.dumps(test_contract),
                               conf={"subject.name.strategy": record_subject_name_strategy})
    context = SerializationContext(topic, MessageField.VALUE)
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "acks": "all"})
    producer.produce(topic, value=serialize(contracts.to_record(event), context))
    assert producer.flush(DEADLINE) == 0

    # Accepted: a new optional field with a default (readers of new data fill it for old).
    evolved = copy.deepcopy(test_contract)
    evolved["fields"].append({"name": "level", "type": ["null", "string"], "default": None})
    v2_id = contracts.register(client, evolved)
    assert v2_id != v1_id
    assert client.get_versions(subject) == [1, 2]

    # Refused: a field without a default (version-2 readers could not read version-1 data).
    breaking = copy.deepcopy(evolved)
    breaking["fields"].append({"name": "owner", "type": "string"})
    with pytest.raises(SchemaRegistryError) as refused:
        contracts.register(client, breaking)
    assert refused.value.http_status_code == 409
    assert client.get_versions(subject) == [1, 2]

    data = read_one(stack, topic)
    assert int.from_bytes(data[1:5], "big") == v1_id  # still framed with the old schema id
    reader = AvroDeserializer(client, json.dumps(evolved))
    record = reader(data, context)
    assert record is not None
    assert record["level"] is None  # the new field's default
    assert contracts.from_record({k: v for k, v in record.items() if k != "level"}) == event
    # And with no reader schema given, the writer's own schema (from the registry) is used.
    assert contracts.EventDecoder(client).decode_event(data, topic) == event
