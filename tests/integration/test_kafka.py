"""Kafka (KRaft, one node): confluent-kafka produces, aiokafka consumes, group offsets persist."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from smartcourse.settings import Settings

DEADLINE_SECONDS = 60.0


def new_topic(settings: Settings, partitions: int) -> str:
    """Create a topic with a random name and wait until the broker confirms it."""
    topic = f"test-{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
    )
    futures[topic].result(timeout=DEADLINE_SECONDS)
    return topic


def produce(settings: Settings, topic: str, values: list[dict]) -> None:
    """Produce JSON values with confluent-kafka and make sure every one was acknowledged."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    errors = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            errors.append(err)

    for value in values:
        producer.produce(
            topic,
            key=str(value["n"]).encode(),
            value=json.dumps(value).encode(),
            on_delivery=on_delivery,
        )
    assert producer.flush(DEADLINE_SECONDS) == 0, "messages still queued after flush"
    assert errors == []


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[dict]:
    """Read until `count` messages arrived (or fail at the deadline)."""
    received: list[dict] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(received) < count:
        assert time.monotonic() < deadline, f"only {len(received)} of {count} messages arrived"
        batches = await consumer.getmany(timeout_ms=500)
        for messages in batches.values():
            received.extend(json.loads(m.value) for m in messages)
    return received


def consumer_for(settings: Settings, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def test_confluent_producer_to_aiokafka_consumer(stack: Settings) -> None:
    topic = new_topic(stack, partitions=3)
    run = uuid.uuid4().hex
    values = [{"run": run, "n": n} for n in range(50)]
    produce(stack, topic, values)

    async def read_all() -> list[dict]:
        consumer = consumer_for(stack, topic, group=f"group-{uuid.uuid4().hex}")
        await consumer.start()
        try:
            return await consume(consumer, len(values))
        finally:
            await consumer.stop()

    received = asyncio.run(read_all())
    assert sorted(received, key=lambda v: v["n"]) == values


def test_committed_group_offsets_survive_a_consumer_restart(stack: Settings) -> None:
    # One partition: if committed offsets were lost, the old messages would come back first.
    topic = new_topic(stack, partitions=1)
    group = f"group-{uuid.uuid4().hex}"
    first = [{"batch": 1, "n": n} for n in range(5)]
    second = [{"batch": 2, "n": n} for n in range(5, 10)]

    async def read_and_commit(count: int) -> tuple[list[dict], int | None]:
        consumer = consumer_for(stack, topic, group)
        await consumer.start()
        try:
            received = await consume(consumer, count)
            await consumer.commit()
            return received, await consumer.committed(TopicPartition(topic, 0))
        finally:
            await consumer.stop()

    produce(stack, topic, first)
    received, committed = asyncio.run(read_and_commit(len(first)))
    assert received == first
    assert committed == len(first)

    produce(stack, topic, second)
    received, committed = asyncio.run(read_and_commit(len(second)))
    assert received == second  # only the new messages: the group resumed where it committed
    assert committed == len(first) + len(second)
