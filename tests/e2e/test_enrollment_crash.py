"""kill -9 the workflow worker in the middle of a burst of enrollments: once it is started
again, every enrollment is ACTIVE and every student got exactly one welcome email."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import psutil
import psycopg
import pytest

from bench.burst import enroll_all, prepare
from infra import stack as local_stack
from smartcourse.settings import Settings
from tests.support.mailpit import Mailbox

pytestmark = pytest.mark.e2e
STUDENTS = 300
DEADLINE = 300.0


def activated(settings: Settings, ids: list[str]) -> int:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM event_store.events WHERE event_type ="
                           " 'enrollment.activated' AND aggregate_id = ANY(%s::uuid[])",
                           [ids]).fetchone()
    return int(row[0]) if row else 0


def sent_receipts(settings: Settings, ids: list[str]) -> Counter[str]:
    """Welcome mails sent, per enrollment. The request's variables are sealed (personal
    data), so the enrollment is found through the event that caused the request."""
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT c.aggregate_id::text FROM event_store.events r"
            " JOIN event_store.events c ON c.event_id = r.causation_id"
            " JOIN event_store.events s ON s.aggregate_id = r.aggregate_id"
            " AND s.event_type = 'notification.sent'"
            " WHERE r.event_type = 'notification.requested' AND r.payload->>'template' ="
            " 'welcome' AND c.aggregate_id = ANY(%s::uuid[])", [ids]).fetchall()
    return Counter(r[0] for r in rows)


def mails_to(mailbox: Mailbox, domain_query: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    start = 0
    while True:
        page = mailbox.http.get("/api/v1/search", params={
            "query": domain_query, "start": start, "limit": 500}).json()
        for message in page["messages"]:
            if message["Subject"].startswith("Welcome to Burst course"):
                counts[message["To"][0]["Address"]] += 1
        start += len(page["messages"])
        if not page["messages"] or start >= page["messages_count"]:
            return counts


def test_every_enrollment_activates_and_is_welcomed_once_across_a_kill(
        app_processes: Settings) -> None:
    s = app_processes
    mailbox = Mailbox(s.mailpit_url)
    course, people = asyncio.run(prepare(s, STUDENTS))
    burst = asyncio.run(enroll_all(s, course, people))
    ids = list(burst.emails)
    addresses = set(burst.emails.values())

    deadline = time.monotonic() + DEADLINE
    while activated(s, ids) < STUDENTS // 5:  # mid-burst: some done, most not
        assert time.monotonic() < deadline
        time.sleep(0.1)  # a bounded poll of the asynchronous workflow
    (worker,) = local_stack.status(s, ["workflow-worker"], group=local_stack.APP_CLASSES)
    assert worker.pid
    os.kill(worker.pid, signal.SIGKILL)
    before_restart = activated(s, ids)
    gone = time.monotonic() + 30
    while psutil.pid_exists(worker.pid) and \
            psutil.Process(worker.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < gone  # its ports are free only once it is gone
        time.sleep(0.05)
    local_stack.up(s, ["workflow-worker"], group=local_stack.APP_CLASSES)

    while activated(s, ids) < len(ids) or len(sent_receipts(s, ids)) < len(ids):
        assert time.monotonic() < deadline, (activated(s, ids), len(sent_receipts(s, ids)))
        time.sleep(0.5)  # a bounded poll of the restarted workflow

    assert before_restart < len(ids)  # the kill really fell in the middle
    assert activated(s, ids) == len(ids)  # and once each: activation is idempotent
    assert set(sent_receipts(s, ids).values()) == {1}
    counts = mails_to(mailbox, "to:burst.example")
    ours = {a: n for a, n in counts.items() if a in addresses}
    assert len(ours) == len(addresses) and set(ours.values()) == {1}
