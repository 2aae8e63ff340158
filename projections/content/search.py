"""Semantic search over ready content: one course's (GET /courses/{id}/search) or the whole
catalog's (GET /search, across courses).

Only the course's ready version is searched (`content.ready_versions`), so a version being
processed, or the partial vectors of a failed run, never show. The query is embedded with the
same model as the chunks, on the embedder's worker thread.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from uuid import UUID

from psycopg.errors import UndefinedTable
from psycopg_pool import AsyncConnectionPool

from projections.content.embeddings import Embedder, Encoder, VectorCache, shared_encoder
from projections.content.store import ready_version, ready_versions
from projections.content.weaviate_index import ChunkIndex, IndexHit
from smartcourse.settings import Settings

MAX_K = 50


@dataclass(frozen=True)
class SearchHit:
    """A chunk and where it comes from (the lesson to cite)."""

    chunk_id: UUID
    course_id: UUID
    lesson_id: UUID
    module_id: UUID
    lesson_title: str
    chunk_index: int
    text: str
    content_version: int
    score: float  # cosine similarity, 1 = the same direction


class ContentSearch:
    def __init__(self, pool: AsyncConnectionPool, index: ChunkIndex, embedder: Embedder) -> None:
        self.pool = pool
        self.index = index
        self.embedder = embedder

    @classmethod
    async def open(cls, settings: Settings, encoder: Encoder | None = None) -> ContentSearch:
        pool = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=4, open=False,
                                   kwargs={"autocommit": True,
                                           "application_name": "smartcourse-search"})
        await pool.open(wait=True, timeout=30)
        index = await ChunkIndex.open(settings)
        embedder = Embedder(encoder or shared_encoder(settings.embedding_model),
                            VectorCache(pool), settings.embedding_batch_size)
        return cls(pool, index, embedder)

    async def close(self) -> None:
        self.embedder.close()
        await self.index.close()
        await self.pool.close()

    async def search(self, course_id: UUID, query: str, k: int = 5) -> list[SearchHit]:
        """The k chunks nearest the query; empty if the course has no ready content."""
        if not query.strip():
            raise ValueError("the query is empty")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must lie between 1 and {MAX_K}")
        try:
            async with self.pool.connection() as conn:
                ready = await ready_version(conn, course_id)
        except UndefinedTable:  # no workflow has run yet on this database
            return []
        if ready is None:
            return []
        vector = await self.embedder.embed_query(query)
        hits = await self.index.search(course_id, ready.content_version, vector, k)
        return [_hit(hit) for hit in hits]

    async def search_catalog(self, query: str, k: int = 5,
                             per_course: int = 3) -> list[SearchHit]:
        """Chunks nearest the query across every course, from each course's ready version
        only, at most `per_course` of one course, best first (up to `k` courses' worth)."""
        if not query.strip():
            raise ValueError("the query is empty")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must lie between 1 and {MAX_K}")
        vector = await self.embedder.embed_query(query)
        hits = [_hit(hit) for hit in await self.index.search_all(vector, k * per_course * 4)]
        try:
            async with self.pool.connection() as conn:
                ready = await ready_versions(conn, {h.course_id for h in hits})
        except UndefinedTable:
            return []
        kept: list[SearchHit] = []
        taken: dict[UUID, int] = {}
        for hit in hits:
            if ready.get(hit.course_id) != hit.content_version:
                continue  # a version being processed, or one replaced since
            if taken.get(hit.course_id, 0) >= per_course:
                continue
            if hit.course_id not in taken and len(taken) >= k:
                continue
            taken[hit.course_id] = taken.get(hit.course_id, 0) + 1
            kept.append(hit)
        return kept


def _hit(hit: IndexHit) -> SearchHit:
    p = hit.properties
    return SearchHit(
        chunk_id=hit.chunk_id, course_id=UUID(str(p["course_id"])),
        lesson_id=UUID(str(p["lesson_id"])), module_id=UUID(str(p["module_id"])),
        lesson_title=str(p["lesson_title"]), chunk_index=int(p["chunk_index"]),
        text=str(p["text"]), content_version=int(p["content_version"]),
        score=round(1.0 - hit.distance, 6))


# Per event loop (the clients are bound to the loop that opened them), then per endpoints.
_OPEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], ContentSearch]]
_OPEN = weakref.WeakKeyDictionary()


async def semantic_search(settings: Settings, course_id: UUID, query: str,
                          k: int = 5) -> list[SearchHit]:
    """Top-k chunks of the course's ready version, best first.

    The clients and the model are opened on first use and kept for the running event loop
    (loading the model takes seconds); `close_searches()` releases them at shutdown.
    """
    return await (await _searcher(settings)).search(course_id, query, k)


async def catalog_search(settings: Settings, query: str, k: int = 5) -> list[SearchHit]:
    """Across courses: see `ContentSearch.search_catalog`."""
    return await (await _searcher(settings)).search_catalog(query, k)


async def _searcher(settings: Settings) -> ContentSearch:
    key = (settings.pg_dsn, settings.weaviate_url, settings.weaviate_collection,
           settings.embedding_model)
    opened = _OPEN.setdefault(asyncio.get_running_loop(), {})
    if key not in opened:
        searcher = await ContentSearch.open(settings)
        if key in opened:  # a concurrent first request opened one meanwhile
            await searcher.close()
        else:
            opened[key] = searcher
    return opened[key]


async def close_searches() -> None:
    """Close what `semantic_search` opened in the running event loop."""
    for searcher in _OPEN.pop(asyncio.get_running_loop(), {}).values():
        await searcher.close()
