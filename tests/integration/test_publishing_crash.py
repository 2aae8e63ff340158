"""A publishing worker killed (SIGKILL) while embedding, then restarted, ends exactly where an
uninterrupted run of the same content ends: same state, events, chunks and ids."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from projections.content.chunking import chunk_course
from projections.content.embeddings import PACKAGED_MODEL
from projections.content.published import published_lessons
from projections.content.store import ensure_content_schema
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import PROJECT_ROOT, Settings
from tests.support.lessons import course_lessons
from tests.support.publishing import (
    AuthoredCourse,
    author,
    course_state,
    drop_index,
    events_of,
    objects,
    publish,
)

pytestmark = pytest.mark.integration

DEADLINE = 300.0


@pytest.fixture(scope="module")
def content(stack: Settings) -> Iterator[Settings]:
    own = Settings(weaviate_collection=f"CourseChunkCrash{uuid4().hex[:8]}")
    asyncio.run(_content_schema(own))  # what the worker creates on start: polled before that
    yield own
    drop_index(own)


async def _content_schema(settings: Settings) -> None:
    async with await psycopg.AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
        await ensure_content_schema(conn)


def start_worker(settings: Settings, course_id: UUID, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "SMARTCOURSE_WEAVIATE_COLLECTION": settings.weaviate_collection,
           "SMARTCOURSE_EMBEDDING_BATCH_SIZE": "1"}  # one text a batch: a kill lands mid-way
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.support.publishing_worker",
                                 str(course_id)], cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def progress(settings: Settings, workflow_id: str, hashes: list[str]) -> tuple[str | None, int]:
    """The run's state and how many of its vectors are cached so far."""
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT state FROM content.workflows WHERE workflow_id = %s",
                           [workflow_id]).fetchone()
        cached = conn.execute(
            "SELECT count(*) FROM content.embedding_cache WHERE model = %s"
            " AND text_hash = ANY(%s)", [f"packaged:{PACKAGED_MODEL}", hashes]).fetchone()
    return (row[0] if row else None), int(cached[0] if cached else 0)


async def _author_twins(settings: Settings) -> list[tuple[AuthoredCourse, Any]]:
    side = await open_write_side(settings)
    try:
        # Text of this run's own: the vector cache must not already hold it (a rerun on the
        # same database would otherwise finish before it could be killed).
        salt = uuid4().hex
        lessons = [(title, f"{text} Edition {salt}.") for title, text in course_lessons(60)]
        twins = []
        for _ in range(2):
            course = await author(side.bus, lessons)
            twins.append((course, await publish(side.bus, side.store, course)))
        return twins
    finally:
        await side.close()


async def outcome(settings: Settings, course: AuthoredCourse, published: Any) -> dict[str, Any]:
    """Everything the run leaves behind, with the course's own ids made relative."""
    side = await open_write_side(settings)
    try:
        workflow_id = published.payload["workflow_id"]
        async with side.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT state, steps FROM content.workflows WHERE workflow_id = %s",
                [workflow_id])).fetchone()
        assert row is not None
        steps = {k: v for k, v in row[1].items() if k not in ("restarts", "computed")}
        lesson_index = {lesson: n for n, lesson in enumerate(course.lesson_ids)}
        stored = objects(settings, course.course_id)
        lessons = list(published_lessons(Settings().pg_dsn, published))
        expected = {c.chunk_id for c in chunk_course(course.course_id, 1, lessons)}
        return {
            "restarts": row[1]["restarts"], "computed": row[1]["computed"],
            "state": row[0], "steps": steps,
            "course": (await course_state(side.store, course.course_id)).status,
            "course_events": [e.event_type for e in await events_of(side.store,
                                                                     course.course_id)],
            "workflow_events": [(e.event_type, e.payload.get("chunk_count"))
                                for e in await events_of(side.store, UUID(workflow_id))],
            # Counts, not a bool: a failure then says which way the ids differ.
            "ids_missing": len(expected - {o["id"] for o in stored}),
            "ids_unexpected": len({o["id"] for o in stored} - expected),
            "chunks": sorted((lesson_index[UUID(str(o["lesson_id"]))], o["chunk_index"],
                              o["text"], o["content_hash"], o["content_version"])
                             for o in stored),
        }
    finally:
        await side.close()


def test_a_worker_killed_while_embedding_ends_as_an_uninterrupted_run(
        content: Settings, tmp_path: Path) -> None:
    (killed, published), (twin, twin_published) = asyncio.run(_author_twins(content))
    workflow_id = published.payload["workflow_id"]
    lessons = list(published_lessons(Settings().pg_dsn, published))
    hashes = sorted({c.content_hash for c in chunk_course(killed.course_id, 1, lessons)})
    log = tmp_path / "worker.log"

    worker = start_worker(content, killed.course_id, log)
    deadline = time.monotonic() + DEADLINE
    while True:  # bounded poll: until some, not all, of its vectors are computed
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        assert worker.poll() is None, f"the worker ended first:\n{log.read_text()[-3000:]}"
        state, cached = progress(content, workflow_id, hashes)
        if state == "EMBEDDING" and 0 < cached < len(hashes):
            break
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    assert worker.wait(timeout=60) == -signal.SIGKILL

    midway = asyncio.run(outcome(content, killed, published))
    assert midway["state"] == "EMBEDDING" and midway["course"] == "PUBLISHED"
    assert "course.ready" not in midway["course_events"]

    restarted = start_worker(content, killed.course_id, log)
    assert restarted.wait(timeout=DEADLINE) == 0, log.read_text()[-3000:]
    uninterrupted = start_worker(content, twin.course_id, log)
    assert uninterrupted.wait(timeout=DEADLINE) == 0, log.read_text()[-3000:]

    after_crash = asyncio.run(outcome(content, killed, published))
    reference = asyncio.run(outcome(content, twin, twin_published))
    # The restart resumed the same run and kept the vectors computed before the kill.
    assert (after_crash.pop("restarts"), reference.pop("restarts")) == (1, 0)
    assert 0 < after_crash.pop("computed") < len(hashes) and reference.pop("computed") == 0
    assert after_crash == reference
    assert after_crash["state"] == "READY" and after_crash["course"] == "READY"
    assert (after_crash["ids_missing"], after_crash["ids_unexpected"]) == (0, 0), after_crash
    assert [t for t, _ in after_crash["workflow_events"]] == [
        "workflow.started", "content.chunked", "workflow.completed"]  # each once
    assert after_crash["course_events"].count("course.ready") == 1
