"""The analytics Faust agent, driven through Faust's test context with real Avro messages (the
real registry) into the real ClickHouse: repeats, a watermark and a poison message.

The agent reads its settings when `streams.app` is imported, so it runs in a child process
with its own analytics database: `python tests/integration/test_analytics_agent.py DATABASE`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.sink import read_checkpoints
from smartcourse.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

WATERMARK = 9_000_000_000  # far above any real position


def events(course: UUID) -> list[StoredEvent]:
    at = datetime.now(UTC) - timedelta(minutes=1)
    student, enrollment = uuid4(), uuid4()
    return [
        StoredEvent(1, uuid4(), "enrollment", enrollment, 1, "enrollment.created", 1,
                    {"course_id": str(course), "student_id": str(student)}, at, "it",
                    uuid4(), None),
        StoredEvent(2, uuid4(), "enrollment", enrollment, 2, "enrollment.activated", 1, {},
                    at + timedelta(seconds=1), "it", uuid4(), None),
    ]


async def drive(database: str, course: UUID) -> None:
    """In the child: put messages into the agent and wait until ClickHouse has them."""

    from commands.adapters.avro_contracts import EventEncoder, registry_client
    from commands.adapters.relay import WATERMARK_HEADER
    from streams.agents import analytics as agent_module
    from streams.app import settings

    assert agent_module.analytics is not None, "the agent is declared"
    encoder = EventEncoder(registry_client(settings.registry_url))
    messages = [(encoder.encode(e, "smartcourse.enrollment"), str(e.aggregate_id).encode())
                for e in events(course)]
    client = writer_client(settings)
    schema.ensure_schema(client, database)  # as the agent does at its first batch
    async with agent_module.analytics.test_context() as agent:
        for value, key in [*messages, *messages]:  # each twice: a redelivery
            await agent.put(value, key=key)
        await agent.put(b"\x00not avro", key=b"poison")
        await agent.put(b"", key=b"", headers=[(WATERMARK_HEADER, str(WATERMARK).encode())])
        deadline = time.monotonic() + 60
        while not (client.command(f"SELECT count() FROM {database}.events") == 2
                   and WATERMARK in read_checkpoints(client, database, "analytics").values()):
            if time.monotonic() > deadline:
                raise SystemExit("the agent did not insert the events in time")
            await asyncio.sleep(0.05)
    client.close()


def test_the_agent_inserts_each_event_once_and_checkpoints(stack: Settings) -> None:
    database, course = f"it_agent_{uuid4().hex[:10]}", uuid4()
    env = {**os.environ, "SMARTCOURSE_ANALYTICS_DATABASE": database,
           "SMARTCOURSE_ANALYTICS_BATCH_SECONDS": "0.1", "SMARTCOURSE_WORKER_METRICS_PORT": "0",
           "SMARTCOURSE_WORKER_ANALYTICS": "1"}
    client = writer_client(stack)
    try:
        child = subprocess.run([sys.executable, str(Path(__file__)), database, str(course)],
                               cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                               timeout=180)
        assert child.returncode == 0, child.stdout[-2000:] + child.stderr[-3000:]
        assert "undecodable message skipped" in child.stderr  # logged, not silently dropped
        rows = client.query(f"SELECT event_type, course_id FROM {database}.events"
                            " ORDER BY occurred_at").result_rows
        # the activation names no course: the views resolve it through `enrollments`
        assert [tuple(r) for r in rows] == [("enrollment.created", course),
                                            ("enrollment.activated", None)]
        assert client.query(f"SELECT course_id, enrollments FROM"
                            f" {database}.enrollments_per_course_day").result_rows == [
            (course, 1)]
    finally:
        schema.drop_all(client, database)
        client.close()


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1], UUID(sys.argv[2])))
