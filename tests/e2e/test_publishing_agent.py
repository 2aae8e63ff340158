"""The publishing agent inside a real `smartcourse worker`, fed by a real `smartcourse relay`.

A database, topic prefix, consumer group and Weaviate alias of the test's own: a course is
published through the CommandBus, and the worker (Kafka -> Faust agent -> workflow) makes it
ready, with the workflow's commands caused by the course.published event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from commands.adapters.relay import RelayConfig
from projections.analytics.clients import writer_password
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings
from tests.support.lessons import course_lessons
from tests.support.publishing import author, drop_index, events_of, publish

pytestmark = pytest.mark.e2e

DEADLINE = 300.0
SMARTCOURSE = Path(sys.executable).with_name("smartcourse")


@pytest.fixture
def own(stack: Settings, tmp_path: Path) -> Iterator[tuple[Settings, dict[str, str], Path]]:
    prefix = f"test-publishing-{uuid.uuid4().hex[:10]}"
    database = prefix.replace("-", "_")
    settings = Settings(pg_dsn=stack.pg_dsn.rsplit("/", 1)[0] + "/" + database,
                        weaviate_collection=f"CourseChunkE2e{uuid.uuid4().hex[:8]}",
                        worker_topic_prefix=prefix)
    data = tmp_path / "data"  # the worker's own data folder (Faust's datadir under it)
    (data / "worker").mkdir(parents=True)
    env = {**os.environ, "SMARTCOURSE_PG_DSN": settings.pg_dsn, "HF_HUB_OFFLINE": "1",
           "SMARTCOURSE_DATA_DIR": str(data),
           # its own data folder holds no secrets: the stack's ClickHouse writer password
           "SMARTCOURSE_CLICKHOUSE_PASSWORD": writer_password(stack),
           "SMARTCOURSE_WORKFLOW_PUBLISHING": "1",
           "SMARTCOURSE_WEAVIATE_COLLECTION": settings.weaviate_collection}
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(_bootstrap(settings))  # the event store exists before the relay starts
        for name, args in (("relay", ["relay", "--name", prefix, "--poll-interval", "0.2"]),
                           ("worker", ["worker", "--app-id", prefix])):
            with (tmp_path / f"{name}.log").open("ab") as log:
                processes.append(subprocess.Popen(
                    [str(SMARTCOURSE), *args, "--topic-prefix", prefix, "--metrics-port", "0"],
                    env=env, stdout=log, stderr=subprocess.STDOUT))
        yield settings, env, tmp_path
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(DEADLINE)
        admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
        existing = set(admin.list_topics(timeout=30).topics)
        doomed = [t for t in RelayConfig(topic_prefix=prefix).topics() + [f"{prefix}.dlq"]
                  if t in existing]
        for future in admin.delete_topics(doomed, request_timeout=30).values() if doomed else []:
            future.result(timeout=30)
        with suppress(Exception):  # the group may not exist (yet)
            admin.delete_consumer_groups([prefix], request_timeout=30)[prefix].result(timeout=30)
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        drop_index(settings)


async def _bootstrap(settings: Settings) -> None:
    side = await open_write_side(settings)
    await side.close()


async def _publish(settings: Settings) -> tuple[Any, Any]:
    side = await open_write_side(settings)
    try:
        course = await author(side.bus, course_lessons(12))
        return course, await publish(side.bus, side.store, course)
    finally:
        await side.close()


async def _events(settings: Settings, *ids: Any) -> list[Any]:
    side = await open_write_side(settings)
    try:
        return [e for i in ids for e in await events_of(side.store, i)]
    finally:
        await side.close()


def workflow_state(settings: Settings, workflow_id: str) -> str | None:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT state FROM content.workflows WHERE workflow_id = %s",
                               [workflow_id]).fetchone()
        except psycopg.errors.UndefinedTable:  # the agent has not started a run yet
            return None
    return row[0] if row else None


def test_the_worker_makes_a_published_course_ready(
        own: tuple[Settings, dict[str, str], Path]) -> None:
    settings, _, logs = own
    course, published = asyncio.run(_publish(settings))
    workflow_id = published.payload["workflow_id"]

    deadline = time.monotonic() + DEADLINE
    while workflow_state(settings, workflow_id) not in ("READY", "FAILED"):
        assert time.monotonic() < deadline, (logs / "worker.log").read_text()[-3000:]
        threading.Event().wait(0.2)

    assert workflow_state(settings, workflow_id) == "READY"
    events = asyncio.run(_events(settings, course.course_id, uuid.UUID(workflow_id)))
    caused = [e for e in events if e.causation_id == published.event_id]
    assert {e.event_type for e in caused} == {
        "workflow.started", "content.chunked", "course.ready", "workflow.completed"}
    assert {e.correlation_id for e in caused} == {published.correlation_id}
    assert {e.actor for e in caused} != {published.actor}  # the platform's system actor
