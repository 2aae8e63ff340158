"""Enrollment burst: N enrollments at once through the command API, then the enrollment
workflow (progress, welcome email over SMTP, activation) works them off at its own pace.

Figures: time from the first enroll to every enrollment ACTIVE, welcome emails per second
(first enroll to last `notification.sent`), and the command API's p99 while the burst is
accepted. Anchor, in the same run: a bare smtplib loop sending the same number of messages
to the same Mailpit (one connection, as fast as it takes them).

    .venv/bin/python -m bench.enrollment_burst --students 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import psycopg

from bench.burst import enroll_all, prepare
from bench.figures import Figure, Scale
from infra import stack
from smartcourse.settings import Settings

DEADLINE = 1800.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _count(settings: Settings, event_type: str, ids: list[str]) -> tuple[int, float | None]:
    """How many of the enrollments have the event, and when the last one was appended."""
    if event_type == "notification.sent":
        # Welcome emails, found through their cause: an enrollment's event (the variables
        # are sealed with the student's data key, privacy/sealing.py).
        query = ("SELECT count(*), extract(epoch FROM max(s.occurred_at))"
                 " FROM event_store.events r"
                 " JOIN event_store.events c ON c.event_id = r.causation_id"
                 " JOIN event_store.events s"
                 " ON s.aggregate_id = r.aggregate_id AND s.event_type = 'notification.sent'"
                 " WHERE r.event_type = 'notification.requested'"
                 " AND r.payload->>'template' = 'welcome' AND r.payload->>'channel' = 'email'"
                 " AND c.aggregate_id = ANY(%s::uuid[])")
    else:
        query = ("SELECT count(*), extract(epoch FROM max(occurred_at)) FROM event_store.events"
                 " WHERE event_type = %s AND aggregate_id = ANY(%s::uuid[])")
    params = [ids] if event_type == "notification.sent" else [event_type, ids]
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]) if row[1] is not None else None


def smtp_anchor(settings: Settings, count: int) -> float:
    """Messages/s of a bare smtplib loop into the same Mailpit."""
    started = time.perf_counter()
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        for n in range(count):
            mail = EmailMessage()
            mail["From"] = settings.mail_sender
            mail["To"] = f"anchor-{n}@anchor.example"
            mail["Subject"] = "Anchor"
            mail.set_content("A bare SMTP send, for comparison.")
            mail.add_alternative("<p>A bare SMTP send, for comparison.</p>", subtype="html")
            smtp.send_message(mail)
    return count / (time.perf_counter() - started)


@contextmanager
def workflow_running(settings: Settings) -> Iterator[None]:
    """The stack and the app processes (those it had to start are stopped afterwards). It
    does not wait for the projections to work off a backlog: the figures are the workflow's,
    and on a shared machine a backlog competes for the CPU either way (reported: `load`)."""
    stack.up(settings)
    already = {s.name for s in stack.status(settings, group=stack.APP_CLASSES) if s.pid}
    stack.up(settings, group=stack.APP_CLASSES)
    try:
        yield
    finally:
        started = [n for n in stack.APP_CLASSES if n not in already]
        if started:
            stack.down(settings, started, group=stack.APP_CLASSES)


def run(settings: Settings, students: int) -> dict[str, Any]:
    with workflow_running(settings):
        course, people = asyncio.run(prepare(settings, students))
        wall_start = time.time()
        burst = asyncio.run(enroll_all(settings, course, people))
        ids = list(burst.emails)
        deadline = time.monotonic() + DEADLINE
        while True:
            active, last_active = _count(settings, "enrollment.activated", ids)
            sent, last_sent = _count(settings, "notification.sent", ids)
            if active == len(ids) and sent == len(ids):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"after {DEADLINE:.0f}s: {active} active, {sent} sent "
                                   f"of {len(ids)}")
            time.sleep(0.5)  # a bounded poll of the asynchronous workflow
        assert last_active is not None and last_sent is not None
        anchor = smtp_anchor(settings, min(students, 2000))
    return {
        "students": students,
        "enroll_seconds": round(burst.finished - burst.started, 2),
        "enrolls_per_s": round(students / (burst.finished - burst.started), 1),
        "command_p50_ms": round(percentile(burst.latencies, 0.50) * 1000, 1),
        "command_p99_ms": round(percentile(burst.latencies, 0.99) * 1000, 1),
        "conflicts_retried": burst.conflicts, "connections_dropped": burst.dropped,
        "all_active_seconds": round(last_active - wall_start, 1),
        "emails_per_s": round(students / (last_sent - wall_start), 1),
        "anchor_smtp_per_s": round(anchor, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def measure(settings: Settings, scale: Scale) -> list[Figure]:
    result = run(settings, 100 if scale == Scale.SMALL else 5000)
    return [
        Figure(benchmark="enrollment_burst",
               metric=f"welcome emails/s, {result['students']} enrollments in a burst "
               f"(all ACTIVE after {result['all_active_seconds']} s)",
               ours=result["emails_per_s"], anchor_name="bare smtplib loop to the same Mailpit",
               anchor=result["anchor_smtp_per_s"], details=result),
        Figure(benchmark="enrollment_burst", metric="ms p99 of the command API during the burst",
               ours=result["command_p99_ms"], details=result),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    args = parser.parse_args()
    print(run(Settings(), args.students))


if __name__ == "__main__":
    main()
