"""The schema registry (Apicurio, Confluent-compatible API) with confluent-kafka's own clients."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from commands.adapters.avro_contracts import registry_client
from infra import stack as local_stack
from infra import supervisor
from smartcourse.settings import Settings

DEADLINE_SECONDS = 60.0


def record(name: str, fields: list[dict]) -> Schema:
    schema = {"type": "record", "name": name, "namespace": "smartcourse.test", "fields": fields}
    return Schema(json.dumps(schema), "AVRO")


V1_FIELDS = [{"name": "course_id", "type": "string"}, {"name": "title", "type": "string"}]


def client_for(settings: Settings) -> SchemaRegistryClient:
    return registry_client(settings.registry_url)


def new_subject() -> str:
    return f"test-{uuid.uuid4().hex}-value"


def test_backward_compatibility_is_enforced_per_subject(stack: Settings) -> None:
    client = client_for(stack)
    subject = new_subject()
    client.register_schema(subject, record("CourseCreated", V1_FIELDS))
    client.set_compatibility(subject, "BACKWARD")
    assert client.get_compatibility(subject) == "BACKWARD"

    # A new field with a default: old data can still be read, so the registry accepts it.
    compatible = record(
        "CourseCreated", [*V1_FIELDS, {"name": "level", "type": "int", "default": 1}]
    )
    assert client.test_compatibility(subject, compatible) is True
    client.register_schema(subject, compatible)

    incompatible = {
        "new field without default": record(
            "CourseCreated",
            [
                *V1_FIELDS,
                {"name": "level", "type": "int", "default": 1},
                {"name": "owner", "type": "string"},
            ],
        ),
        "type change": record(
            "CourseCreated",
            [
                {"name": "course_id", "type": "long"},
                {"name": "title", "type": "string"},
                {"name": "level", "type": "int", "default": 1},
            ],
        ),
    }
    for change, schema in incompatible.items():
        assert client.test_compatibility(subject, schema) is False, change
        with pytest.raises(SchemaRegistryError) as rejected:
            client.register_schema(subject, schema)
        assert rejected.value.http_status_code == 409, change

    assert client.get_versions(subject) == [1, 2]
    latest = client.get_latest_version(subject)
    assert json.loads(latest.schema.schema_str) == json.loads(compatible.schema_str)


def new_topic(settings: Settings) -> str:
    topic = f"test-{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=DEADLINE_SECONDS)
    return topic


def test_avro_message_round_trips_through_kafka(stack: Settings) -> None:
    client = client_for(stack)
    topic = new_topic(stack)
    schema = record(
        "EnrollmentCreated",
        [
            {"name": "enrollment_id", "type": "string"},
            {"name": "student_id", "type": "string"},
            {"name": "progress", "type": "double"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    )
    serialize = AvroSerializer(client, schema.schema_str)
    deserialize = AvroDeserializer(client)
    value = {
        "enrollment_id": str(uuid.uuid4()),
        "student_id": "s-1",
        "progress": 0.25,
        "tags": ["python", "kafka"],
        "note": None,
    }
    context = SerializationContext(topic, MessageField.VALUE)

    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "acks": "all"})
    producer.produce(topic, value=serialize(value, context))
    assert producer.flush(DEADLINE_SECONDS) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka_bootstrap,
            "group.id": f"group-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        message = None
        while message is None:
            assert time.monotonic() < deadline, "the message did not arrive"
            message = consumer.poll(0.5)
        assert message.error() is None, message.error()
        payload = message.value()
    finally:
        consumer.close()

    assert payload[0] == 0  # Confluent wire format: magic byte, then the 4-byte schema id
    schema_id = int.from_bytes(payload[1:5], "big")
    registered = client.get_latest_version(f"{topic}-value")  # the default subject naming
    assert registered.schema_id == schema_id
    assert deserialize(payload, context) == value


def test_registered_schemas_survive_a_registry_restart(stack: Settings) -> None:
    local_url = f"http://{stack.host}:{stack.registry_port}/apis/ccompat/v7"
    if stack.registry_url != local_url:
        pytest.skip("the registry is not the local stack's; it cannot be restarted from here")
    subject = new_subject()
    schema = record("LessonPublished", [{"name": "lesson_id", "type": "string"}])
    schema_id = client_for(stack).register_schema(subject, schema)
    before = supervisor.running_process(local_stack.service("registry", stack))

    try:
        assert local_stack.down(stack, ["registry"]) == ["registry"]
    finally:
        local_stack.up(stack, ["registry"])  # leave the registry running for other tests

    after = supervisor.running_process(local_stack.service("registry", stack))
    assert before is not None and after is not None and after.pid != before.pid
    client = client_for(stack)  # a new client: nothing from its cache
    latest = client.get_latest_version(subject)
    assert latest.schema_id == schema_id
    assert latest.version == 1
    assert json.loads(latest.schema.schema_str) == json.loads(schema.schema_str)
    assert json.loads(client.get_schema(schema_id).schema_str) == json.loads(schema.schema_str)
