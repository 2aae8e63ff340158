"""Erasure by crypto-shredding, through the running platform: after a user is erased, no
readable email or name of theirs remains in the event store, the Kafka topics, the read models,
ClickHouse or Weaviate, and a full replay (read models and analytics) still succeeds.

Before erasure, the personal fields are already sealed everywhere but in the export (which
opens them with the user's key): that is checked first, so the test cannot pass by only
searching for text that was never there in the form searched for.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg_pool import AsyncConnectionPool

from commands.adapters.event_store import EventStore
from commands.bus import CommandBus
from commands.domain.errors import Conflict
from commands.messages import Actor, GiveConsent
from privacy.keys import PostgresKeys
from privacy.sealing import PersonalData
from projections.analytics.clients import writer_client
from smartcourse.local_servers import (
    store_head,
    wait_until_analytics_caught_up,
    wait_until_caught_up,
)
from smartcourse.settings import PROJECT_ROOT, Settings
from tests.support.command_client import CommandClient

FIGURES: dict[str, Any] = {}


def occurrences(text: str, needles: tuple[str, ...]) -> int:
    lowered = text.lower()
    return sum(lowered.count(n.lower()) for n in needles)


def event_store(settings: Settings, needles: tuple[str, ...]) -> tuple[int, int]:
    """(rows scanned, rows holding a needle in the payload or the published bytes)."""
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute("SELECT payload::text, encoded FROM event_store.events").fetchall()
    found = sum(1 for payload, encoded in rows
                if occurrences(payload, needles)
                or (encoded is not None and occurrences(bytes(encoded).decode(
                    errors="replace"), needles)))
    return len(rows), found


def read_models(settings: Settings, needles: tuple[str, ...]) -> tuple[int, int, int]:
    """(tables, rows scanned, rows holding a needle) over every read-side schema."""
    tables = rows = found = 0
    with psycopg.connect(settings.pg_dsn) as conn:
        names = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND (table_schema LIKE 'rm\\_%%'"
            " OR table_schema = 'read_models')").fetchall()
        for schema, table in names:
            tables += 1
            for (text,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t'):
                rows += 1
                found += bool(occurrences(text, needles))
    return tables, rows, found


def kafka(settings: Settings, needles: tuple[str, ...]) -> tuple[int, int]:
    """(messages read from the beginning of every smartcourse topic, holding a needle)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"erasure-check-{uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        topics = [t for t in consumer.list_topics(timeout=10).topics
                  if t.startswith(settings.worker_topic_prefix)]
        parts = []
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > low:
                    parts.append(TopicPartition(topic, p, low))
                    ends[(topic, p)] = high
        consumer.assign(parts)
        messages = found = 0
        while ends:
            for msg in consumer.consume(1000, timeout=5):
                if msg.error():
                    continue
                key = (msg.topic(), msg.partition())
                messages += 1
                found += bool(occurrences((msg.value() or b"").decode(errors="replace"),
                                          needles))
                if key in ends and msg.offset() + 1 >= ends[key]:
                    del ends[key]
        return messages, found
    finally:
        consumer.close()


def clickhouse(settings: Settings, needles: tuple[str, ...]) -> tuple[int, int, int]:
    """(tables, rows scanned, rows holding a needle) over every analytics database."""
    client = writer_client(settings)
    try:
        tables = client.query(
            "SELECT database, name FROM system.tables WHERE startsWith(database, {p:String})"
            " AND engine LIKE '%MergeTree'", parameters={"p": settings.analytics_database}
        ).result_rows
        rows = found = 0
        for database, table in tables:
            text = client.raw_query(f"SELECT * FROM `{database}`.`{table}` FORMAT TSV").decode(
                errors="replace")
            lines = [line for line in text.splitlines() if line]
            rows += len(lines)
            found += sum(1 for line in lines if occurrences(line, needles))
        return len(tables), rows, found
    finally:
        client.close()


def weaviate(settings: Settings, needles: tuple[str, ...]) -> tuple[int, int]:
    """(objects listed in every collection, holding a needle)."""
    http = httpx.Client(base_url=settings.weaviate_url, timeout=30)
    classes = [c["class"] for c in http.get("/v1/schema").json().get("classes", [])]
    objects = found = 0
    for name in classes:
        after = None
        while True:
            params: dict[str, Any] = {"class": name, "limit": 500}
            if after:
                params["after"] = after
            page = http.get("/v1/objects", params=params).json().get("objects", [])
            if not page:
                break
            objects += len(page)
            found += sum(1 for o in page if occurrences(json.dumps(o), needles))
            after = page[-1]["id"]
    return objects, found


def read_after(reads: httpx.Client, path: str, headers: dict[str, str],
               position: int) -> httpx.Response:
    """A read carrying the write's token; a 503 `not_caught_up` is retried as its
    Retry-After says, up to a deadline (the worker may be working off a backlog)."""
    deadline = time.monotonic() + 120
    while True:
        reply = reads.get(path, headers={**headers, "X-Consistency-Token": str(position)})
        if reply.status_code != 503 or time.monotonic() > deadline:
            return reply
        time.sleep(float(reply.headers.get("Retry-After", "1")))


def smartcourse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartcourse", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900)


async def load_user_as_a_fresh_process(settings: Settings, user_id: UUID) -> str:
    """A write side with an empty cache rebuilds the user from the store."""
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=2, open=False)
    await pool.open()
    try:
        bus = CommandBus(EventStore(pool), personal=PersonalData(PostgresKeys(pool)))
        try:
            await bus.execute(GiveConsent(user_id, "marketing"), Actor(user_id, "student"))
        except Conflict as refused:
            return refused.code
        return "accepted"
    finally:
        await pool.close()


def test_after_erasure_no_readable_personal_data_remains(app_processes: Settings) -> None:
    s = app_processes
    writes = f"http://{s.host}:{s.command_api_port}"
    reads = httpx.Client(base_url=f"http://{s.host}:{s.query_api_port}", timeout=60)
    tag = uuid4().hex[:12]
    email, name = f"ada.{tag}@example.org", f"Ada Erasable {tag}"
    needles = (email, name, tag)
    wait_until_caught_up(s)

    instructor = CommandClient(writes, role="instructor")
    course_id, lessons = instructor.published_course(lessons=2)
    ada = CommandClient(writes, display_name=name, email=email)  # registers and logs in
    admin = CommandClient(writes, role="admin")
    assert ada.post(f"/users/{ada.user_id}/consents", {"purpose": "analytics"}).status_code == 200
    enrolled = ada.post(f"/courses/{course_id}/enroll")
    assert enrolled.status_code == 202, enrolled.text
    enrollment = enrolled.json()["enrollment_id"]
    # The enrollment workflow's step (students never activate their own).
    assert admin.post(f"/enrollments/{enrollment}/activate").status_code in (200, 409)
    done = ada.post(f"/enrollments/{enrollment}/lessons/{lessons[0]}/complete")
    assert done.status_code == 200, done.text

    # Before: the export opens the sealed fields; no store holds them readable.
    before = read_after(reads, f"/users/{ada.user_id}/export", ada.headers,
                        done.json()["position"])
    assert before.status_code == 200, before.text
    held = before.json()
    assert (held["profile"]["email"], held["profile"]["display_name"]) == (email, name)
    assert held["profile"]["consents"] == ["analytics"] and held["enrollments"]
    assert event_store(s, needles)[1] == 0
    assert kafka(s, needles)[1] == 0

    erased = ada.post(f"/users/{ada.user_id}/erasure", {"reason": "asked by the user"})
    assert erased.status_code == 200, erased.text
    wait_until_caught_up(s)
    wait_until_analytics_caught_up(s)

    # An erased account is deactivated too: an admin checks what is left.
    after = read_after(reads, f"/users/{ada.user_id}/export", admin.headers,
                       erased.json()["position"])
    assert after.status_code == 200, after.text
    profile = after.json()["profile"]
    assert profile["email"] is None and profile["display_name"] is None
    assert profile["erased_at"] is not None and profile["consents"] == []
    assert occurrences(after.text, needles) == 0
    assert any(a["action"] == "user.erased" for a in after.json()["audit_log"])
    assert after.json()["analytics_events"], "the analytics keep the facts, by id"
    with psycopg.connect(s.pg_dsn) as conn:
        keys = conn.execute("SELECT count(*) FROM privacy.data_keys WHERE subject_id = %s",
                            [ada.user_id]).fetchone()[0]
    assert keys == 0

    checks = {
        "event store (rows, with personal data)": event_store(s, needles),
        "kafka (messages, with personal data)": kafka(s, needles),
        "read models (tables, rows, with personal data)": read_models(s, needles),
        "clickhouse (tables, rows, with personal data)": clickhouse(s, needles),
        "weaviate (objects, with personal data)": weaviate(s, needles),
    }
    FIGURES.update(checks)
    for store, figures in checks.items():
        assert figures[-1] == 0, f"{store}: {figures}"
    assert checks["event store (rows, with personal data)"][0] > 0
    assert checks["kafka (messages, with personal data)"][0] > 0

    # A full replay still succeeds, and shows the user as erased.
    replay = smartcourse("replay", "all")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    rebuild = smartcourse("analytics", "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    assert asyncio.run(load_user_as_a_fresh_process(s, ada.user_id)) == "user.erased"
    replayed = reads.get(f"/users/{ada.user_id}/export", headers=admin.headers)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["profile"]["erased_at"] is not None
    assert occurrences(replayed.text, needles) == 0
    again = {"read models after replay": read_models(s, needles),
             "clickhouse after rebuild": clickhouse(s, needles)}
    FIGURES.update(again)
    for store, figures in again.items():
        assert figures[-1] == 0, f"{store}: {figures}"
    print("\nerasure figures:", json.dumps(FIGURES, indent=1))


@pytest.mark.parametrize("who", ["stranger", "admin"])
def test_who_may_erase_and_export(app_processes: Settings, who: str) -> None:
    s = app_processes
    writes = f"http://{s.host}:{s.command_api_port}"
    reads = httpx.Client(base_url=f"http://{s.host}:{s.query_api_port}", timeout=30)
    bob = CommandClient(writes, display_name="Bob")  # registered with a password
    registered = store_head(s)
    other = CommandClient(writes, role="student" if who == "stranger" else "admin")
    exported = read_after(reads, f"/users/{bob.user_id}/export", other.headers, registered)
    erased = other.post(f"/users/{bob.user_id}/erasure")
    if who == "stranger":
        assert exported.status_code == 403 and exported.json()["error"]["code"]
        assert erased.status_code == 403 and erased.json()["error"]["code"]
    else:
        assert exported.status_code == 200 and exported.json()["profile"]["email"]
        assert erased.status_code == 200
