"""Outgoing webhooks that keep failing, against real PostgreSQL (the outbox, the endpoints'
circuits, the event store) and a real HTTP receiver on loopback, in a database of the
module's own; the sender's clock is the test's. And the admin's view and URL checks through
the real command API.

Before the circuit breaker, every notification for a failing endpoint went into the outbox
and was tried again and again (37,000 rows after one polluted run).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from commands import messages as m
from notifications.breaker import BreakerPolicy
from notifications.sender import Retry, enable_endpoint, endpoint_rows
from notifications.wiring import open_processes
from smartcourse.settings import Settings
from tests.integration.test_enrollment_workflow import events_after, student
from tests.support import webhooks
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration
SYSTEM = m.Actor(uuid4(), "system")
QUICK = Retry(attempts=50, base_delay=0.01, max_delay=0.02)  # per notification: not the limit


@pytest.fixture(scope="module")
def own(stack: Settings) -> Iterator[Settings]:
    database = f"test_webhooks_{uuid4().hex[:10]}"
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        yield Settings(pg_dsn=stack.pg_dsn.rsplit("/", 1)[0] + "/" + database)
    finally:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


class Receiver:
    """A webhook receiver on loopback answering 503 while `failing`, else 200."""

    def __init__(self) -> None:
        self.failing = True
        self.requests: list[tuple[int, str]] = []  # (status answered, delivery id)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                self.rfile.read(int(self.headers["content-length"]))
                status = 503 if outer.failing else 200
                outer.requests.append((status, self.headers["X-SmartCourse-Delivery"]))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/in"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def feed(p: Any, settings: Settings, after: int) -> int:
    """Every new event to the workflow and the sender's consumer part (no delivery)."""
    while batch := events_after(settings, after):
        await p.workflow.handle_all(batch)
        await p.sender.handle_all(batch)
        after = batch[-1].position
    return after


async def outbox(p: Any) -> int:
    async with p.side.pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) FROM notifications.outbox WHERE channel = 'webhook'")).fetchone()
    return int(row[0])


async def endpoint(p: Any, hook: UUID) -> dict[str, Any]:
    async with p.side.pool.connection() as conn:
        return (await endpoint_rows(conn))[hook]


async def published_course(bus: Any) -> UUID:
    teacher, course, module = m.Actor(uuid4(), "instructor"), uuid4(), uuid4()
    await bus.execute(m.CreateCourse(course, "Streams in practice", capacity=50), teacher)
    await bus.execute(m.AddModule(course, module, "Basics"), teacher)
    await bus.execute(m.AddLesson(course, module, uuid4(), "Lesson 0", "text"), teacher)
    await bus.execute(m.PublishCourse(course, uuid4()), teacher)
    return course


async def enroll(p: Any, course: UUID, count: int) -> None:
    for _ in range(count):
        person, _ = await student(p.side.bus)
        await p.side.bus.execute(m.EnrollStudent(course, person.user_id), person)


def test_an_open_circuit_holds_deliveries_without_growing_the_outbox_then_recovers(
        own: Settings) -> None:
    receiver, clock, hook = Receiver(), Clock(), uuid4()
    policy = BreakerPolicy(failures_to_open=3, cooldown=timedelta(minutes=10),
                           disable_after=timedelta(days=3))

    async def scenario() -> None:
        async with open_processes(own, QUICK, policy) as p:
            p.sender.clock = clock
            await p.side.bus.execute(m.RegisterWebhook(hook, receiver.url, ["welcome"]), SYSTEM)
            try:
                course = await published_course(p.side.bus)
                start = events_after(own, 0)[-1].position
                await enroll(p, course, 4)
                after = await feed(p, own, start)
                await p.sender.deliver_due()  # four tries, four 503s: the circuit opens
                state = await endpoint(p, hook)
                assert (state["state"], state["failures"]) == ("OPEN", 4)
                assert "503" in state["last_error"]
                assert len(receiver.requests) == 4 and await outbox(p) == 4

                # Open: ten more welcomes are owed, none is tried, the outbox stays at four.
                await enroll(p, course, 10)
                after = await feed(p, own, after)
                for _ in range(5):
                    clock.now += timedelta(seconds=30)  # every retry due, the cooldown not
                    await p.sender.deliver_due()
                assert len(receiver.requests) == 4
                assert await outbox(p) == 4
                state = await endpoint(p, hook)
                assert (state["state"], state["parked"], state["waiting"]) == ("OPEN", 10, 4)

                # The receiver is back; after the cooldown one probe closes the circuit and
                # every owed delivery goes out once, the parked ones read back from the store.
                receiver.failing = False
                clock.now += timedelta(minutes=10)
                await p.sender.deliver_due()
                assert len(receiver.requests) == 5  # the probe alone
                assert (await endpoint(p, hook))["state"] == "CLOSED"
                for _ in range(10):
                    if not await outbox(p) and not (await endpoint(p, hook))["parked"]:
                        break
                    await p.sender.deliver_due()
                assert await outbox(p) == 0
                delivered = [d for status, d in receiver.requests if status == 200]
                assert len(delivered) == len(set(delivered)) == 14
                sent = [e for e in events_after(own, start) if e.event_type ==
                        "notification.sent" and e.payload["channel"] == "webhook"]
                assert sorted(str(e.aggregate_id) for e in sent) == sorted(delivered)
                state = await endpoint(p, hook)
                assert (state["state"], state["failures"], state["parked"]) == ("CLOSED", 0, 0)
            finally:
                await p.side.bus.execute(m.RemoveWebhook(hook), SYSTEM)
                receiver.server.shutdown()

    asyncio.run(scenario())


def test_an_endpoint_failing_for_long_is_disabled_with_an_event_until_an_admin_enables_it(
        own: Settings) -> None:
    receiver, clock, hook = Receiver(), Clock(), uuid4()
    policy = BreakerPolicy(failures_to_open=2, cooldown=timedelta(minutes=10),
                           disable_after=timedelta(hours=1))

    async def scenario() -> None:
        async with open_processes(own, QUICK, policy) as p:
            p.sender.clock = clock
            await p.side.bus.execute(m.RegisterWebhook(hook, receiver.url, ["welcome"]), SYSTEM)
            try:
                course = await published_course(p.side.bus)
                start = events_after(own, 0)[-1].position
                await enroll(p, course, 2)
                after = await feed(p, own, start)
                await p.sender.deliver_due()
                assert (await endpoint(p, hook))["state"] == "OPEN"
                for _ in range(8):  # a probe every cooldown, each failing, for over an hour
                    clock.now += timedelta(minutes=10)
                    await p.sender.deliver_due()
                state = await endpoint(p, hook)
                assert state["state"] == "DISABLED"
                disabled = [e for e in events_after(own, after)
                            if e.event_type == "webhooks.disabled"]
                assert [e.payload["webhook_id"] for e in disabled] == [str(hook)]
                assert "503" in disabled[0].payload["reason"]
                tries = len(receiver.requests)

                # Disabled: a new enrollment owes it nothing; nothing is tried any more.
                await enroll(p, course, 1)
                after = await feed(p, own, after)
                owed = [e for e in events_after(own, start) if e.event_type ==
                        "notification.requested" and e.payload["channel"] == "webhook"]
                assert len(owed) == 2
                clock.now += timedelta(days=1)
                await p.sender.deliver_due()
                assert len(receiver.requests) == tries

                # An admin enables it: closed again, the two waiting deliveries go out.
                receiver.failing = False
                await p.side.bus.execute(m.EnableWebhook(hook), SYSTEM)
                async with p.side.pool.connection() as conn:
                    await enable_endpoint(conn, hook)
                await p.sender.deliver_due()
                assert [s for s, _ in receiver.requests[tries:]] == [200, 200]
                assert (await endpoint(p, hook))["state"] == "CLOSED"
            finally:
                await p.side.bus.execute(m.RemoveWebhook(hook), SYSTEM)
                receiver.server.shutdown()

    asyncio.run(scenario())


def test_admins_see_each_webhooks_health_and_bad_urls_get_clear_codes(
        stack: Settings, command_api: str) -> None:
    admin = CommandClient(command_api, role="admin")
    start = webhooks.store_head(stack)
    try:
        for url, code in [("http://user:pw@hooks.example.com/in", "webhook.credentials_in_url"),
                          ("https://token@hooks.example.com/in", "webhook.credentials_in_url")]:
            refused = admin.post("/webhooks", {"url": url, "templates": ["welcome"]})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == code
        made = admin.post("/webhooks", {"url": "http://127.0.0.1:9/in", "templates": ["welcome"]})
        assert made.status_code == 201, made.text
        hook = made.json()["webhook_id"]
        listed = admin.http.get("/webhooks", headers=admin.headers)
        assert listed.status_code == 200, listed.text
        (mine,) = [w for w in listed.json()["webhooks"] if w["webhook_id"] == hook]
        assert (mine["url"], mine["enabled"], mine["circuit"], mine["consecutive_failures"]) == (
            "http://127.0.0.1:9/in", True, "CLOSED", 0)
        enabled = admin.post(f"/webhooks/{hook}/enable")
        assert enabled.status_code == 200 and enabled.json()["changed"] is False
        student = CommandClient(command_api)
        assert student.http.get("/webhooks", headers=student.headers).status_code == 403
        assert student.post(f"/webhooks/{hook}/enable").status_code == 403
        assert admin.post(f"/webhooks/{uuid4()}/enable").status_code == 404
    finally:
        webhooks.remove_registered_since(stack, command_api, start)
