"""The publishing workflow against the real PostgreSQL, Weaviate and embedding model.

Each test authors and publishes a course through the CommandBus, then runs the workflow on
the course.published event the store recorded, as the worker's agent does. Encoders are
injected through the workflow's parameters (counting or failing), never patched in.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands import messages as m
from projections.content.chunking import chunk_course
from projections.content.embeddings import shared_encoder
from projections.content.published import published_lessons
from projections.content.rebuild import rebuild_weaviate
from projections.content.search import close_searches, semantic_search
from projections.content.store import workflow_status
from projections.deliveries import EventDelivery
from smartcourse.bootstrap import WriteSide, open_write_side
from smartcourse.settings import Settings
from streams.agents.publishing import run_publishing
from streams.workflows.publishing import RetryPolicy
from streams.workflows.wiring import open_publishing
from tests.support.lessons import course_lessons, lesson_text
from tests.support.publishing import (
    CountingEncoder,
    FailingEncoder,
    author,
    course_state,
    drop_index,
    events_of,
    objects,
    publish,
)

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


@pytest.fixture(scope="module")
def content(stack: Settings) -> Iterator[Settings]:
    """The stack's settings with an alias of this module's own (dropped afterwards)."""
    own = Settings(weaviate_collection=f"CourseChunkTest{uuid4().hex[:8]}")
    yield own
    drop_index(own)


@pytest.fixture(scope="module")
def model() -> Any:
    return shared_encoder("")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _published(side: WriteSide, lessons: list[tuple[str, str]]) -> Any:
    course = await author(side.bus, lessons)
    return course, await publish(side.bus, side.store, course)


def expected_ids(event: Any) -> set[Any]:
    lessons = list(published_lessons(Settings().pg_dsn, event))
    return {c.chunk_id for c in chunk_course(event.aggregate_id,
                                             event.payload["content_version"], lessons)}


def test_a_published_course_is_chunked_embedded_indexed_and_ready(
        content: Settings, model: Any) -> None:
    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            course, published = await _published(side, course_lessons())
            encoder = CountingEncoder(model)
            async with open_publishing(content, encoder=encoder, policy=FAST) as workflow:
                handled = await run_publishing(_deliver(published), workflow)
            async with side.pool.connection() as conn:
                status = await workflow_status(conn, published.payload["workflow_id"])
            plants = await semantic_search(content, course.course_id,
                                           "How do green plants turn sunlight into sugar?", 3)
            offsets = await semantic_search(content, course.course_id,
                                            "Which number gives a record's place in the log?", 3)
            await close_searches()
            return {"course": course, "published": published, "handled": handled,
                    "status": status, "encoder": encoder, "plants": plants, "offsets": offsets,
                    "state": (await course_state(side.store, course.course_id)).status,
                    "events": [e.event_type for e in await events_of(side.store,
                                                                     course.course_id)],
                    "workflow": await events_of(side.store, published.payload["workflow_id"])}
        finally:
            await side.close()

    r = run(scenario())
    published, course = r["published"], r["course"]
    ids = expected_ids(published)

    assert r["handled"] == 1
    assert r["state"] == "READY" and r["events"][-1] == "course.ready"
    assert r["status"].state == "READY"
    assert r["status"].steps["done"] == ["start", "chunk", "embed", "index", "ready"]
    assert r["status"].steps["chunk_count"] == len(ids) == r["status"].steps["computed"]
    assert len(r["encoder"].texts) == len(ids)  # fresh text: every chunk was embedded once
    stored = objects(content, course.course_id)
    assert {o["id"] for o in stored} == ids  # deterministic ids, nothing more
    assert {o["content_version"] for o in stored} == {1}
    assert [e.event_type for e in r["workflow"]] == [
        "workflow.started", "content.chunked", "workflow.completed"]
    assert {(e.causation_id, e.correlation_id) for e in r["workflow"]} == {
        (published.event_id, published.correlation_id)}
    assert r["workflow"][1].payload["chunk_count"] == len(ids)
    assert r["plants"][0].lesson_id == course.lesson_ids[0]  # Photosynthesis
    assert r["offsets"][0].lesson_id == course.lesson_ids[1]  # Kafka partitions
    assert r["plants"][0].score > r["plants"][-1].score or len(r["plants"]) == 1
    assert r["plants"][0].lesson_title == "Photosynthesis" and "note" in r["plants"][0].text


async def _deliver(*events: Any) -> Any:
    for event in events:
        yield EventDelivery(event)


def test_republishing_one_changed_lesson_embeds_only_its_new_chunks(
        content: Settings, model: Any) -> None:
    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            course, first = await _published(side, course_lessons())
            async with open_publishing(content, encoder=model, policy=FAST) as workflow:
                await workflow.handle(first)
            # Text of this run's own: the vector cache must not already hold it.
            revised = f"{lesson_text('The French Revolution', 24, 9)} Edition {uuid4().hex}."
            await side.bus.execute(m.ReviseLesson(course.course_id, course.lesson_ids[2],
                                                  "The French Revolution", revised),
                                   course.teacher)
            second = await publish(side.bus, side.store, course)
            encoder = CountingEncoder(model)
            async with open_publishing(content, encoder=encoder, policy=FAST) as workflow:
                state = await workflow.handle(second)
            hits = await semantic_search(content, course.course_id, "storming the Bastille", 1)
            await close_searches()
            return {"course": course, "first": first, "second": second, "state": state,
                    "encoder": encoder, "hits": hits}
        finally:
            await side.close()

    r = run(scenario())
    course, second = r["course"], r["second"]
    lessons = list(published_lessons(Settings().pg_dsn, second))
    changed = chunk_course(course.course_id, 2, lessons[2:])

    assert r["state"].state == "READY" and r["state"].content_version == 2
    assert sorted(r["encoder"].texts) == sorted({c.embedding_text for c in changed})
    assert r["state"].computed == len({c.content_hash for c in changed})
    stored = objects(content, course.course_id)
    assert {o["id"] for o in stored} == expected_ids(second)  # version 1 is gone
    assert {o["content_version"] for o in stored} == {2}
    assert r["hits"][0].lesson_id == course.lesson_ids[2] and r["hits"][0].content_version == 2


def test_a_failing_embedding_step_fails_the_workflow_and_reverts_the_course(
        content: Settings, model: Any) -> None:
    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            course, published = await _published(side, course_lessons())
            waits: list[float] = []

            async def record_wait(seconds: float) -> None:
                waits.append(seconds)

            failing = FailingEncoder(model.name)
            async with open_publishing(content, encoder=failing, policy=FAST,
                                       sleep=record_wait) as workflow:
                # What an earlier, interrupted attempt of this run left in the index.
                chunks = chunk_course(course.course_id, 1, list(
                    published_lessons(Settings().pg_dsn, published)))[:4]
                await workflow.index.upsert(chunks, [[0.1] * 384] * 4,
                                            published.payload["workflow_id"])
                partial = len(objects(content, course.course_id))
                state = await workflow.handle(published)
            return {"course": course, "state": state, "failing": failing, "waits": waits,
                    "partial": partial, "published": published,
                    "status": (await course_state(side.store, course.course_id)).status,
                    "workflow": await events_of(side.store, published.payload["workflow_id"]),
                    "course_events": await events_of(side.store, course.course_id)}
        finally:
            await side.close()

    r = run(scenario())

    assert r["partial"] == 4
    assert r["failing"].calls == FAST.attempts
    assert r["waits"] == [FAST.delay(1), FAST.delay(2)]
    assert r["state"].state == "FAILED" and r["state"].failed_step == "embed"
    assert "unreachable" in r["state"].error
    assert r["status"] == "DRAFT"
    assert r["course_events"][-1].event_type == "course.reverted_to_draft"
    assert r["course_events"][-1].causation_id == r["published"].event_id
    failed = r["workflow"][-1]
    assert failed.event_type == "workflow.failed"
    assert (failed.payload["step"], failed.payload["attempts"]) == ("embed", FAST.attempts)
    assert objects(content, r["course"].course_id) == []  # no partial vectors left


def test_a_run_an_operator_cancels_while_it_embeds_stops_at_its_next_step(
        content: Settings, model: Any) -> None:
    """The admin's CancelWorkflow lands while the worker computes vectors (from inside the
    encoder, on a connection of its own): the worker indexes nothing, the run stays failed
    as the operator said, the course is a draft once, and no vector of the run is left."""
    admin = m.Actor(uuid4(), "admin")
    running: dict[str, Any] = {}

    async def cancel() -> None:
        side = await open_write_side(content)
        try:
            await side.bus.execute(m.CancelWorkflow(running["workflow_id"], "embedding stuck"),
                                   admin)
        finally:
            await side.close()

    class CancellingEncoder(CountingEncoder):
        def encode(self, texts: Any) -> Any:
            if self.calls == 0:  # the operator acts while the run is in this step
                operator = threading.Thread(target=asyncio.run, args=(cancel(),))
                operator.start()
                operator.join()
            return super().encode(texts)

    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            salt = uuid4().hex  # text of this run's own: the vector cache must miss
            course, published = await _published(
                side, [(title, f"{text} Edition {salt}.") for title, text in course_lessons()])
            running["workflow_id"] = UUID(published.payload["workflow_id"])
            async with open_publishing(content, encoder=CancellingEncoder(model),
                                       policy=FAST) as workflow:
                state = await workflow.handle(published)
            return {"course": course, "state": state,
                    "status": (await course_state(side.store, course.course_id)).status,
                    "workflow": await events_of(side.store, running["workflow_id"]),
                    "course_events": await events_of(side.store, course.course_id)}
        finally:
            await side.close()

    r = run(scenario())

    assert (r["state"].state, r["state"].failed_step) == ("FAILED", "cancelled")
    assert r["state"].error == "cancelled by an operator: embedding stuck"
    assert r["status"] == "DRAFT"
    assert [e.event_type for e in r["workflow"]] == [
        "workflow.started", "content.chunked", "workflow.failed"]
    assert [e.event_type for e in r["course_events"]].count("course.reverted_to_draft") == 1
    assert objects(content, r["course"].course_id) == []


def test_processing_the_same_event_twice_changes_nothing_more(
        content: Settings, model: Any) -> None:
    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            course, published = await _published(side, course_lessons(12))
            async with open_publishing(content, encoder=model, policy=FAST) as workflow:
                first = await workflow.handle(published)
                events = await events_of(side.store, course.course_id)
                chunks = objects(content, course.course_id)
                encoder = CountingEncoder(model)
                workflow.embedder.encoder = encoder
                second = await workflow.handle(published)
            return {"course": course, "first": first, "second": second, "events": events,
                    "chunks": chunks, "encoder": encoder,
                    "after": await events_of(side.store, course.course_id),
                    "workflow": await events_of(side.store, published.payload["workflow_id"])}
        finally:
            await side.close()

    r = run(scenario())

    assert r["first"] == r["second"] and r["second"].state == "READY"
    assert r["after"] == r["events"]  # no second course.ready
    assert [e.event_type for e in r["workflow"]] == [
        "workflow.started", "content.chunked", "workflow.completed"]
    assert r["encoder"].calls == 0
    key = sorted(map(str, (o["id"] for o in r["chunks"])))
    assert sorted(map(str, (o["id"] for o in objects(content, r["course"].course_id)))) == key


def test_a_rebuild_fills_a_new_collection_from_the_store_and_the_cache(
        content: Settings, model: Any) -> None:
    async def scenario() -> dict[str, Any]:
        side = await open_write_side(content)
        try:
            course, published = await _published(side, course_lessons(12))
            async with open_publishing(content, encoder=model, policy=FAST) as workflow:
                await workflow.handle(published)
                before = await workflow.index.target()
            encoder = CountingEncoder(model)
            outcome = await rebuild_weaviate(content, encoder=encoder)
            hits = await semantic_search(content, course.course_id, "Calvin cycle sugar", 1)
            await close_searches()
            return {"course": course, "published": published, "before": before,
                    "outcome": outcome, "encoder": encoder, "hits": hits}
        finally:
            await side.close()

    r = run(scenario())
    outcome = r["outcome"]

    ours = {c.embedding_text for c in chunk_course(r["course"].course_id, 1, list(
        published_lessons(Settings().pg_dsn, r["published"])))}
    assert outcome.previous == r["before"] and outcome.collection != r["before"]
    assert outcome.courses >= 1 and outcome.chunks >= len(ours)
    assert not ours & set(r["encoder"].texts)  # its vectors came from the cache
    assert {o["id"] for o in objects(content, r["course"].course_id)} == expected_ids(
        r["published"])
    assert r["hits"][0].lesson_id == r["course"].lesson_ids[0]
