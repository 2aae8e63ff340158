"""Rebuild the Weaviate index from the event store, beside the live one, then switch to it.

The searchable state of a course is its last `course.ready` version, whose lessons are in the
`course.published` of that version: the rebuild folds those two event types in global order,
chunks with the same pure chunker as the live workflow and takes the vectors from the cache
(only chunks never embedded are computed), so it gives what live processing gave.

Blue/green as in ADR 0004: a new collection `<alias>_v<N+1>` is filled up to the store's
head; then, holding the index lock alone (every live run holds it shared, so none is midway),
the events that came meanwhile are applied, the alias is switched and the ready versions are
restored in PostgreSQL. The old collection is dropped afterwards unless asked to keep it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from assets.texts import AssetTexts
from projections.content.chunking import Lesson, chunk_course
from projections.content.embeddings import Embedder, Encoder, VectorCache, shared_encoder
from projections.content.published import PublishedContent, stream_loader
from projections.content.store import (
    ReadyVersion,
    ensure_content_schema,
    index_lock,
    record_ready,
)
from projections.content.weaviate_index import ChunkIndex
from smartcourse.settings import Settings

REBUILD_LOCK = "content:rebuild:"  # + alias: one rebuild at a time
EVENT_TYPES = ["course.published", "course.ready"]


class RebuildBusy(RuntimeError):
    """Another rebuild of the same alias is running."""


@dataclass
class ReadyContent:
    """Fold of course.published / course.ready: each course's ready version and its lessons."""

    published: dict[UUID, dict[int, tuple[Lesson, ...]]] = field(default_factory=dict)
    ready: dict[UUID, ReadyVersion] = field(default_factory=dict)

    def apply(self, course: UUID, event_type: str, payload: dict[str, Any]) -> UUID | None:
        """The course whose ready version this event changed, if any."""
        version = int(payload["content_version"])
        if event_type == "course.published":
            lessons = tuple(Lesson.from_payload(item) for item in payload["lessons"])
            self.published.setdefault(course, {})[version] = lessons
            return None
        if event_type != "course.ready":
            return None
        current = self.ready.get(course)
        if current is not None and current.content_version >= version:
            return None
        self.ready[course] = ReadyVersion(course, version, UUID(str(payload["workflow_id"])),
                                          int(payload["chunk_count"]))
        versions = self.published.get(course, {})
        for older in [v for v in versions if v < version]:
            del versions[older]  # never searchable again: free the memory
        return course

    def lessons(self, course_id: UUID) -> tuple[Lesson, ...]:
        return self.published[course_id][self.ready[course_id].content_version]


@dataclass(frozen=True)
class RebuildOutcome:
    collection: str
    previous: str
    dropped: bool
    courses: int
    chunks: int
    computed: int  # vectors the model had to compute (not in the cache)
    position: int  # the event store position the index reflects
    seconds: float


async def _fold(pool: AsyncConnectionPool, content: ReadyContent, after: int,
                upto: int) -> set[UUID]:
    changed: set[UUID] = set()
    async with pool.connection() as conn, conn.transaction(), conn.cursor(
            name="content_rebuild") as cur:  # server side: the store may be large
        await cur.execute(
            "SELECT aggregate_id, event_type, payload FROM event_store.events"
            " WHERE position > %s AND position <= %s AND aggregate_type = 'course'"
            " AND event_type = ANY(%s) ORDER BY position", [after, upto, EVENT_TYPES])
        async for aggregate_id, event_type, payload in cur:
            course = content.apply(aggregate_id, event_type, payload)
            if course is not None:
                changed.add(course)
    return changed


async def _head(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT coalesce(max(position), 0) FROM event_store.events")).fetchone()
        return int(row[0]) if row else 0


async def _index(content: ReadyContent, courses: set[UUID], index: ChunkIndex,
                 embedder: Embedder, collection: str,
                 texts: PublishedContent) -> tuple[int, int]:
    chunks_total = computed_total = 0
    for course in sorted(courses):
        ready = content.ready[course]
        lessons = await texts.lessons(course, ready.content_version, content.lessons(course))
        chunks = chunk_course(course, ready.content_version, lessons)
        vectors, computed = await embedder.embed(chunks)
        await index.upsert(chunks, vectors, ready.workflow_id, collection)
        await index.delete_below(course, ready.content_version, collection)
        chunks_total, computed_total = chunks_total + len(chunks), computed_total + computed
    return chunks_total, computed_total


async def rebuild_weaviate(settings: Settings, encoder: Encoder | None = None,
                           keep_previous: bool = False) -> RebuildOutcome:
    started = time.perf_counter()
    pool = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    index = await ChunkIndex.open(settings)
    embedder = Embedder(encoder or shared_encoder(settings.embedding_model), VectorCache(pool),
                        settings.embedding_batch_size)
    try:
        async with pool.connection() as guard:
            row = await (await guard.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                             [REBUILD_LOCK + index.alias])).fetchone()
            if not row or not row[0]:
                raise RebuildBusy(f"a rebuild of {index.alias} is already running")
            try:
                await ensure_content_schema(guard)
                return await _rebuild(pool, index, embedder, keep_previous, started,
                                      AssetTexts.from_settings(settings))
            finally:
                await guard.execute("SELECT pg_advisory_unlock(hashtext(%s))",
                                    [REBUILD_LOCK + index.alias])
    finally:
        embedder.close()
        await index.close()
        await pool.close()


async def _rebuild(pool: AsyncConnectionPool, index: ChunkIndex, embedder: Embedder,
                   keep_previous: bool, started: float, files: AssetTexts) -> RebuildOutcome:
    await index.target()  # the alias exists from here on
    collection = await index.create_version()
    content = ReadyContent()
    head = await _head(pool)
    courses = await _fold(pool, content, 0, head)
    texts = PublishedContent(stream_loader(pool), files)
    chunks, computed = await _index(content, courses, index, embedder, collection, texts)
    async with index_lock(pool, index.alias, shared=False):
        latest = await _head(pool)
        late = await _fold(pool, content, head, latest)
        more, more_computed = await _index(content, late, index, embedder, collection,
                                           texts)
        previous = await index.switch(collection)
        async with pool.connection() as conn, conn.transaction():
            for ready in content.ready.values():
                await record_ready(conn, ready)
    if not keep_previous and previous != collection:
        await index.drop(previous)
    return RebuildOutcome(collection, previous, not keep_previous, len(content.ready),
                          chunks + more, computed + more_computed, latest,
                          round(time.perf_counter() - started, 3))
