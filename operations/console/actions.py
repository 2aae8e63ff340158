"""What an operator does from the console: replay a dead letter (the same code as
`smartcourse dlq replay`), retry a stuck workflow, cancel a stuck enrollment or publishing run.

Retrying a workflow redelivers the event it waits on, from the event store, to its topic:
exactly what Kafka's at-least-once delivery may do at any time, so every consumer already
treats it as a duplicate, and the workflow's process manager restarts the unfinished run
(the publishing workflow from the top, the enrollment workflow by re-issuing its next
command). Cancelling an enrollment or a publishing run goes through the command API with the
operator's own token: the write side decides, as for any other admin."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

import httpx
from psycopg import AsyncConnection

from commands.adapters.avro_contracts import topic_name
from commands.adapters.relay import FETCH_WHOLE_ROWS, Row
from smartcourse.settings import Settings
from streams import dead_letters
from streams.redrive import Replayed, replay_letter


class ActionRefused(Exception):
    """The action does not apply (nothing stuck, no such workflow): a 409 with the reason."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


async def replay(conn: AsyncConnection, settings: Settings, letter_id: int) -> Replayed:
    """`smartcourse dlq replay ID`: the aggregate's letters applied again, unparked; letters
    that fail again go to the dead-letter topic too."""
    done = await replay_letter(conn, letter_id)
    await asyncio.to_thread(dead_letters.publish, done.failed, settings.kafka_bootstrap,
                            settings.worker_topic_prefix)
    return done


@dataclass(frozen=True)
class Redelivered:
    position: int
    event_type: str
    topic: str


LAST_EVENT = "SELECT position FROM event_store.events WHERE aggregate_id = %s" \
    " ORDER BY version DESC LIMIT 1"
PUBLISHED = ("SELECT position FROM event_store.events WHERE event_type = 'course.published'"
             " AND payload->>'workflow_id' = %s ORDER BY position DESC LIMIT 1")
STUCK_PUBLISHING = ("SELECT state FROM content.workflows WHERE workflow_id = %s AND"
                    " state <> ALL(%s) AND updated_at < now() - make_interval(secs => %s)")


async def retry_publishing(conn: AsyncConnection, settings: Settings, workflow_id: UUID
                           ) -> Redelivered:
    from operations.platform_metrics import TERMINAL

    stuck = await (await conn.execute(STUCK_PUBLISHING, [
        workflow_id, list(TERMINAL), settings.stuck_workflow_seconds])).fetchone()
    if stuck is None:
        raise ActionRefused("no stuck publishing workflow with this id (only a run that has "
                            "not moved for SMARTCOURSE_STUCK_WORKFLOW_SECONDS is retried)",
                            "workflow.not_stuck")
    found = await (await conn.execute(PUBLISHED, [str(workflow_id)])).fetchone()
    if found is None:
        raise ActionRefused("the workflow's course.published is not in the store",
                            "workflow.not_found")
    return await redeliver(conn, settings, found[0])


async def retry_enrollment(conn: AsyncConnection, settings: Settings, enrollment_id: UUID
                           ) -> Redelivered:
    from operations.console.sources import ENROLLMENT_WAITING

    found = await (await conn.execute(
        "SELECT position, event_type, occurred_at < now() - make_interval(secs => %s)"
        " FROM event_store.events WHERE aggregate_id = %s AND aggregate_type = 'enrollment'"
        " ORDER BY version DESC LIMIT 1",
        [settings.stuck_workflow_seconds, enrollment_id])).fetchone()
    if found is None or found[1] not in ENROLLMENT_WAITING or not found[2]:
        raise ActionRefused("no stuck enrollment workflow with this id (one waiting on its "
                            "next step for SMARTCOURSE_STUCK_WORKFLOW_SECONDS)",
                            "workflow.not_stuck")
    return await redeliver(conn, settings, found[0])


async def redeliver(conn: AsyncConnection, settings: Settings, position: int) -> Redelivered:
    """The stored event at `position` sent again to its topic, as the relay sent it."""
    cur = await conn.execute(FETCH_WHOLE_ROWS, [position - 1, 1])
    found = await cur.fetchone()
    if found is None or found[0] != position:
        raise ActionRefused(f"no event at position {position}", "event.not_found")
    row = Row(*found)
    if row.encoded is None:
        raise ActionRefused("the event was stored unencoded; the relay encodes it (let it "
                            "publish it) — nothing sent", "event.unencoded")
    topic = topic_name(row.aggregate_type, settings.worker_topic_prefix)
    headers = [("event_id", row.event_id.encode()), ("event_type", row.event_type.encode()),
               ("correlation_id", row.correlation_id.encode())]
    if row.trace_parent:
        headers.append(("traceparent", row.trace_parent.encode()))

    def send() -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
        producer.produce(topic, row.encoded, row.aggregate_id.encode(), headers=headers)
        if producer.flush(30):
            raise RuntimeError(f"Kafka did not confirm the redelivery to {topic}")

    await asyncio.to_thread(send)
    return Redelivered(position, row.event_type, topic)


async def cancel_enrollment(client: httpx.AsyncClient, settings: Settings, token: str,
                            enrollment_id: UUID, reason: str) -> dict:
    """POST /enrollments/{id}/cancel on the command API as the operator."""
    return await _as_operator(client, f"{settings.public_command_url}/enrollments/"
                              f"{enrollment_id}/cancel", token, reason)


async def cancel_publishing(client: httpx.AsyncClient, settings: Settings, token: str,
                            workflow_id: UUID, reason: str) -> dict:
    """POST /workflows/{id}/cancel on the command API as the operator: the run fails, its
    course is a draft again, a worker still carrying it stops at its next step."""
    return await _as_operator(client, f"{settings.public_command_url}/workflows/"
                              f"{workflow_id}/cancel", token, reason)


async def _as_operator(client: httpx.AsyncClient, url: str, token: str, reason: str) -> dict:
    reply = await client.post(url, json={"reason": reason[:200]},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
    body = reply.json() if reply.headers.get("content-type", "").startswith(
        "application/json") else {}
    if reply.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise ActionRefused(error.get("message", f"command API answered {reply.status_code}"),
                            error.get("code", "command_api.refused"))
    return body
