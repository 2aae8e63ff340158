"""The enrollment workflow and the notification sender against real PostgreSQL and Mailpit,
fed with the enrollments' events from the event store (as Kafka would deliver them), in a
database of the module's own (the timers table and the clock are then the test's alone).

Covers: auto-activation with every lesson NOT_STARTED, the welcome mail over SMTP, a
redelivered request never sending twice, reminders firing once with an injected clock and
cancelled by completion, re-enrollment after a cancel, SMTP down then back (retries), and
reconciliation finding and repairing a drift introduced on purpose.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from commands import messages as m
from commands.adapters.event_store import COLUMNS, StoredEvent
from infra import stack as local_stack
from notifications.sender import Retry
from notifications.wiring import open_processes
from projections import progress_snapshot
from smartcourse.bootstrap import link_secret, open_write_side
from smartcourse.settings import Settings
from tests.support.mailpit import Mailbox

pytestmark = pytest.mark.integration
SYSTEM = m.Actor(uuid4(), "system")


@pytest.fixture(scope="module")
def own(stack: Settings) -> Iterator[Settings]:
    database = f"test_enrollment_{uuid4().hex[:10]}"
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        yield Settings(pg_dsn=stack.pg_dsn.rsplit("/", 1)[0] + "/" + database,
                       reminder_inactive_days=7)
    finally:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def events_after(settings: Settings, position: int) -> list[StoredEvent]:
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM event_store.events WHERE position > %s"
                            " ORDER BY position", [position]).fetchall()
    return [StoredEvent(*row) for row in rows]


async def drive(processes: Any, settings: Settings, after: int = 0) -> list[StoredEvent]:
    """Feed every new event to the workflow and the sender, and deliver what is due as the
    worker's timers do, until nothing new is caused and the outbox is empty."""
    seen: list[StoredEvent] = []
    while True:
        if batch := events_after(settings, after):
            await processes.workflow.handle_all(batch)
            await processes.sender.handle_all(batch)
            await processes.sender.deliver_due()
            seen += batch
            after = batch[-1].position
        elif await processes.sender.pending():
            await asyncio.sleep(0.1)
            await processes.sender.deliver_due()
        else:
            return seen


async def published_course(bus: Any, lessons: int = 2) -> tuple[UUID, list[UUID]]:
    teacher = m.Actor(uuid4(), "instructor")
    course, module, ids = uuid4(), uuid4(), [uuid4() for _ in range(lessons)]
    await bus.execute(m.CreateCourse(course, "Streams in practice", capacity=10), teacher)
    await bus.execute(m.AddModule(course, module, "Basics"), teacher)
    for n, lesson in enumerate(ids):
        await bus.execute(m.AddLesson(course, module, lesson, f"Lesson {n}", "text"), teacher)
    await bus.execute(m.PublishCourse(course, uuid4()), teacher)
    return course, ids


async def student(bus: Any, name: str = "Ada") -> tuple[m.Actor, str]:
    person = m.Actor(uuid4(), "student")
    email = f"{uuid4().hex[:12]}@students.example"
    await bus.execute(m.RegisterUser(person.user_id, name, email, "student"), person)
    return person, email


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartcourse", *args], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "SMARTCOURSE_PG_DSN": settings.pg_dsn})


def types_of(events: list[StoredEvent], aggregate: UUID) -> list[str]:
    return [e.event_type for e in events if e.aggregate_id == aggregate]


def test_enroll_activates_welcomes_once_and_reminds_once(own: Settings) -> None:
    async def scenario() -> None:
        async with open_processes(own) as p:
            course, lessons = await published_course(p.side.bus)
            ada, email = await student(p.side.bus)
            start = events_after(own, 0)[-1].position
            enrolled = await p.side.bus.execute(m.EnrollStudent(course, ada.user_id), ada)

            seen = await drive(p, own, start)

            eid = enrolled.aggregate_id
            assert types_of(seen, eid) == [
                "enrollment.created", "enrollment.progress_initialised",
                "enrollment.activated", "enrollment.reminder_scheduled"]
            initialised = next(e for e in seen if e.event_type.endswith("progress_initialised"))
            assert initialised.payload["lesson_ids"] == [str(lesson) for lesson in lessons]
            (welcome,) = Mailbox(own.mailpit_url).wait_for(email)
            assert welcome["Subject"] == "Welcome to Streams in practice"
            snapshot = progress_snapshot.read(
                await p.side.redis.hgetall(progress_snapshot.key(eid)))
            assert snapshot == {"step": "ACTIVE", "total_lessons": 2, "lessons": [
                {"lesson_id": str(lesson), "status": "NOT_STARTED"} for lesson in lessons]}

            # A redelivery of everything sends nothing again.
            await p.workflow.handle_all(seen)
            await p.sender.handle_all(seen)
            assert await p.sender.deliver_due() == 0
            assert len(Mailbox(own.mailpit_url).to(email)) == 1

            # The clock, injected: nothing is due now, the nudge is due a week on, once.
            activated = next(e for e in seen if e.event_type == "enrollment.activated")
            assert await p.workflow.fire_due(activated.occurred_at + timedelta(days=6)) == 0
            later = activated.occurred_at + timedelta(days=8)
            assert await p.workflow.fire_due(later) == 1
            assert await p.workflow.fire_due(later) == 0
            fired = await drive(p, own, seen[-1].position)
            assert types_of(fired, eid).count("enrollment.reminder_fired") == 1
            reminders = [msg for msg in Mailbox(own.mailpit_url).wait_for(email, 2)
                         if msg["Subject"].startswith("Keep going")]
            assert len(reminders) == 1

            # Completion cancels the timer progress had rescheduled.
            for lesson in lessons:
                await p.side.bus.execute(m.CompleteLesson(eid, lesson), ada)
            done = await drive(p, own, fired[-1].position)
            assert "certificate.issued" in [e.event_type for e in done]
            assert await p.workflow.fire_due(later + timedelta(days=30)) == 0

    run(scenario())


def test_a_cancelled_student_re_enrolls_with_history_kept(own: Settings) -> None:
    async def scenario() -> None:
        async with open_processes(own) as p:
            course, _ = await published_course(p.side.bus)
            grace, _ = await student(p.side.bus, "Grace")
            start = events_after(own, 0)[-1].position
            first = await p.side.bus.execute(m.EnrollStudent(course, grace.user_id), grace)
            await drive(p, own, start)
            await p.side.bus.execute(m.CancelEnrollment(first.aggregate_id, "moving"), grace)

            again = await p.side.bus.execute(m.EnrollStudent(course, grace.user_id), grace)
            seen = await drive(p, own, start)

            assert again.aggregate_id != first.aggregate_id
            assert types_of(seen, first.aggregate_id)[-1] == "enrollment.cancelled"
            assert "enrollment.activated" in types_of(seen, again.aggregate_id)

    run(scenario())


def test_smtp_down_is_retried_until_mailpit_is_back(own: Settings, stack: Settings) -> None:
    async def scenario() -> None:
        async with open_processes(own, Retry(attempts=30, base_delay=0.5, max_delay=2)) as p:
            course, _ = await published_course(p.side.bus)
            cy, email = await student(p.side.bus, "Cy")
            start = events_after(own, 0)[-1].position
            await p.side.bus.execute(m.EnrollStudent(course, cy.user_id), cy)
            assert local_stack.down(stack, ["mailpit"]) == ["mailpit"]
            try:
                sending = asyncio.ensure_future(drive(p, own, start))
                # Until the sender has met the closed port (its first retry is logged as a
                # failed try; the request is then still unsettled).
                await asyncio.sleep(3)
                assert not sending.done()
            finally:
                await asyncio.to_thread(local_stack.up, stack, ["mailpit"])
            await sending
            sent = next(e for e in events_after(own, start) if e.event_type == "notification.sent")
            assert sent.payload["attempts"] > 1
            assert len(Mailbox(own.mailpit_url).wait_for(email)) == 1

    run(scenario())


def test_reconcile_finds_a_drift_and_repairs_it(own: Settings) -> None:
    from projections.positions import save_positions
    from projections.reconcile import reconcile
    from projections.registry import PROJECTIONS
    from projections.replay import replay_projection

    async def scenario() -> UUID:
        side = await open_write_side(own)
        try:
            course, lessons = await published_course(side.bus)
            dan = m.Actor(uuid4(), "student")
            enrolled = await side.bus.execute(m.EnrollStudent(course, dan.user_id), dan)
            await side.bus.execute(m.InitialiseProgress(enrolled.aggregate_id), SYSTEM)
            await side.bus.execute(m.ActivateEnrollment(enrolled.aggregate_id), SYSTEM)
            await side.bus.execute(m.CompleteLesson(enrolled.aggregate_id, lessons[0]), dan)
        finally:
            await side.close()
        head = events_after(own, 0)[-1].position
        async with await psycopg.AsyncConnection.connect(own.pg_dsn, autocommit=True) as conn:
            for name in ("student_enrollments", "course_roster", "enrollment_progress"):
                projection = PROJECTIONS[name]
                await replay_projection(own.pg_dsn, projection)
                # As a worker that consumed every partition up to the head would record it.
                await save_positions(conn, name, {
                    (topic, partition): head for topic in projection.topics(
                        own.worker_topic_prefix)
                    for partition in range(own.worker_topic_partitions)})
        return enrolled.aggregate_id

    eid = run(scenario())
    clean = run(reconcile(own, clickhouse=False))
    assert clean.total == 0 and clean.checked["student_enrollments"] >= 1
    with psycopg.connect(own.pg_dsn, autocommit=True) as conn:  # the drift, on purpose
        conn.execute("UPDATE read_models.student_enrollments SET state = 'CANCELLED'"
                     " WHERE enrollment_id = %s", [eid])
        conn.execute("DELETE FROM read_models.enrollment_lessons WHERE enrollment_id = %s"
                     " AND status = 'COMPLETED'", [eid])

    found = run(reconcile(own, clickhouse=False))
    assert {(d.store, d.kind, tuple(d.ids)) for d in found.drifts} == {
        ("student_enrollments", "state", (eid,)), ("enrollment_progress", "progress", (eid,))}
    repaired = run(reconcile(own, repair=True, clickhouse=False))
    assert repaired.repaired == {"student_enrollments": 1, "enrollment_progress": 1}
    assert run(reconcile(own, clickhouse=False)).total == 0


def test_a_send_interrupted_before_its_receipt_is_confirmed_not_repeated(own: Settings) -> None:
    """As after a kill -9 between the SMTP transaction and the receipt: the claim exists,
    the mail is in the mailbox, no receipt. The next run confirms and records it."""
    from notifications.channels import Outgoing
    from notifications.rendering import render

    async def scenario() -> None:
        async with open_processes(own) as p:
            course, _ = await published_course(p.side.bus)
            eve, email = await student(p.side.bus, "Eve")
            start = events_after(own, 0)[-1].position
            await p.side.bus.execute(m.EnrollStudent(course, eve.user_id), eve)
            while True:  # the workflow alone, up to the request
                batch = events_after(own, start)
                requested = [e for e in batch if e.event_type == "notification.requested"]
                if requested:
                    break
                await p.workflow.handle_all(batch)
            (request,) = requested
            channel = p.sender.channels["email"]
            variables = p.sender.links.variables(eve.user_id, "welcome",
                                                 dict(request.payload["variables"]))
            outgoing = Outgoing(str(request.aggregate_id), email,
                                render("welcome", "en", variables), "http://x", {})
            assert await p.sender._claim(request.aggregate_id)  # the run that died
            await channel.send(outgoing)
            assert len(Mailbox(own.mailpit_url).wait_for(email)) == 1

            await p.sender.handle_all([request])
            assert await p.sender.deliver_due() == 1

            sent = [e for e in events_after(own, start) if e.event_type == "notification.sent"]
            assert [e.aggregate_id for e in sent] == [request.aggregate_id]
            assert len(Mailbox(own.mailpit_url).to(email)) == 1

    run(scenario())


def test_a_registered_webhook_gets_the_welcome_signed_and_retried(own: Settings) -> None:
    """A real HTTP receiver on loopback: it answers 503 once (retried), then 200; the body's
    signature verifies with the secret derived for the webhook."""
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from notifications.links import webhook_secret

    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((dict(self.headers), body))
            self.send_response(503 if len(received) == 1 else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = uuid4()

    async def scenario() -> None:
        async with open_processes(own, Retry(attempts=5, base_delay=0.1, max_delay=0.5)) as p:
            await p.side.bus.execute(m.RegisterWebhook(
                hook, f"http://127.0.0.1:{server.server_port}/in", ["welcome"]), SYSTEM)
            course, _ = await published_course(p.side.bus)
            fay, _ = await student(p.side.bus, "Fay")
            start = events_after(own, 0)[-1].position
            await p.side.bus.execute(m.EnrollStudent(course, fay.user_id), fay)
            await drive(p, own, start)
            await p.side.bus.execute(m.RemoveWebhook(hook), SYSTEM)

    try:
        run(scenario())
    finally:
        server.shutdown()
    assert len(received) == 2  # the 503, then the delivery
    headers, body = received[-1]
    stamp, signature = headers["X-SmartCourse-Signature"].split(",")
    timestamp = stamp.removeprefix("t=")
    secret = webhook_secret(link_secret(own), hook).encode()
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    assert b"Welcome to Streams in practice" in body


def test_a_failing_webhook_never_holds_up_the_batch_and_is_redriven(own: Settings) -> None:
    """The webhook's receiver refuses connections: the batch goes on at once (the enrollment
    activates; the batch only fills the outbox), the email is delivered, the webhook's
    delivery waits as a scheduled retry (an hour off here), fails after its last try into the
    dead letters, and `redrive` schedules it again."""
    never = Retry(attempts=3, base_delay=3600, max_delay=3600)  # a wait would be an hour
    hook = uuid4()

    async def first_pass(p: Any, start: int) -> list[StoredEvent]:
        seen: list[StoredEvent] = []
        while batch := events_after(own, start):  # the stream, no retry timer
            await p.workflow.handle_all(batch)
            await p.sender.handle_all(batch)
            seen, start = seen + batch, batch[-1].position
        return seen

    async def scenario() -> None:
        async with open_processes(own, never) as p:
            await p.side.bus.execute(m.RegisterWebhook(hook, "http://127.0.0.1:9/in",
                                                       ["welcome"]), SYSTEM)
            try:
                course, _ = await published_course(p.side.bus)
                gus, email = await student(p.side.bus, "Gus")
                start = events_after(own, 0)[-1].position
                enrolled = await p.side.bus.execute(m.EnrollStudent(course, gus.user_id), gus)
                # A hang guard, not a timing: before, the batch slept out the retries.
                seen = await asyncio.wait_for(first_pass(p, start), timeout=300)
                assert "enrollment.activated" in types_of(seen, enrolled.aggregate_id)
                assert await p.sender.deliver_due() == 1  # the email; the webhook failed
                assert len(Mailbox(own.mailpit_url).wait_for(email)) == 1
                requests = [e for e in seen if e.event_type == "notification.requested"]
                (webhook,) = [e.aggregate_id for e in requests
                              if e.payload.get("channel") == "webhook"]
                assert types_of(seen, webhook) == ["notification.requested"]
                assert await p.sender.pending() == 1

                # Nothing is due now; an hour on, twice, the last try fails it for good.
                assert await p.sender.deliver_due() == 0
                for hours in (2, 4):
                    await p.sender.deliver_due(p.sender.clock() + timedelta(hours=hours))
                tried = [e for e in events_after(own, seen[-1].position)
                         if e.aggregate_id == webhook]
                assert [e.event_type for e in tried] == ["notification.failed"]
                assert tried[-1].payload["attempts"] == 3
                assert await p.sender.pending() == 0
                listed = await asyncio.to_thread(cli, own, "notifications", "dead-letters")
                assert str(webhook) in listed.stdout and "Connect" in listed.stdout
                redriven = await asyncio.to_thread(cli, own, "notifications", "redrive",
                                                   str(webhook))
                assert redriven.returncode == 0, redriven.stderr
                assert await p.sender.redrive([webhook]) == 0  # no longer a dead letter
                assert await p.sender.pending() == 1
            finally:
                await p.side.bus.execute(m.RemoveWebhook(hook), SYSTEM)
                async with p.side.pool.connection() as conn:
                    await conn.execute("DELETE FROM notifications.outbox")

    run(scenario())
