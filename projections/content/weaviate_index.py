"""The Weaviate index of course chunks: collection `CourseChunk`, our own vectors.

`CourseChunk` is an alias (Weaviate >= 1.32) over a versioned collection (`CourseChunk_v1`,
`_v2`, ...), so a rebuild fills a new collection beside the live one and switches the alias
in one step. Searches go through the alias; writes resolve it first. Objects are upserted
under the chunk's deterministic id (course, lesson, chunk index, content version), so
processing a version again overwrites instead of adding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.client import WeaviateAsyncClient
from weaviate.exceptions import UnexpectedStatusCodeError

from projections.content.chunking import Chunk
from smartcourse.settings import Settings

MAX_DELETE_ROUNDS = 1_000  # a delete_many removes up to the server's query limit per call


def _text(name: str) -> Property:
    return Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.FIELD,
                    index_searchable=False)


PROPERTIES = [
    Property(name="course_id", data_type=DataType.UUID),
    Property(name="lesson_id", data_type=DataType.UUID),
    Property(name="module_id", data_type=DataType.UUID),
    Property(name="lesson_title", data_type=DataType.TEXT),
    Property(name="chunk_index", data_type=DataType.INT),
    Property(name="text", data_type=DataType.TEXT),
    Property(name="content_version", data_type=DataType.INT),
    Property(name="workflow_id", data_type=DataType.UUID),
    _text("content_hash"),
]


class IndexFailed(RuntimeError):
    """Weaviate refused some objects of a batch."""


@dataclass(frozen=True)
class IndexHit:
    chunk_id: UUID
    properties: dict[str, Any]
    distance: float


class ChunkIndex:
    def __init__(self, client: WeaviateAsyncClient, alias: str, batch_size: int = 200) -> None:
        self.client = client
        self.alias = alias
        self.batch_size = batch_size

    @classmethod
    async def open(cls, settings: Settings) -> ChunkIndex:
        url = urlparse(settings.weaviate_url)
        host, secure = url.hostname or settings.host, url.scheme == "https"
        client = weaviate.use_async_with_custom(
            http_host=host, http_port=url.port or (443 if secure else 80), http_secure=secure,
            grpc_host=host, grpc_port=settings.weaviate_grpc_port, grpc_secure=secure)
        await client.connect()
        return cls(client, settings.weaviate_collection)

    async def close(self) -> None:
        await self.client.close()

    # -- collections and the alias -------------------------------------------------------------
    async def target(self) -> str:
        """The collection the alias points at; the first one is made on first use."""
        alias = await self.client.alias.get(alias_name=self.alias)
        if alias is not None:
            return alias.collection
        first = await self.create_version()
        try:
            await self.client.alias.create(alias_name=self.alias, target_collection=first)
        except UnexpectedStatusCodeError:  # another process made it first: use theirs
            await self.client.collections.delete(first)
        alias = await self.client.alias.get(alias_name=self.alias)
        if alias is None:
            raise IndexFailed(f"alias {self.alias} could not be created")
        return alias.collection

    async def versions(self) -> list[str]:
        """Every versioned collection of this alias, oldest first."""
        pattern = re.compile(rf"^{re.escape(self.alias)}_v(\d+)$")
        names = [n for n in await self.client.collections.list_all(simple=True)
                 if pattern.match(n)]
        return sorted(names, key=lambda n: int(pattern.match(n).group(1)))  # type: ignore[union-attr]

    async def create_version(self) -> str:
        """A new, empty collection after the newest one."""
        existing = await self.versions()
        number = int(existing[-1].rsplit("_v", 1)[1]) + 1 if existing else 1
        while True:
            name = f"{self.alias}_v{number}"
            try:
                await self.client.collections.create(
                    name, properties=PROPERTIES, vector_config=Configure.Vectors.self_provided())
                return name
            except UnexpectedStatusCodeError:  # taken meanwhile by another process
                number += 1

    async def switch(self, collection: str) -> str:
        """Point the alias at `collection`; returns the collection it pointed at before."""
        before = await self.target()
        await self.client.alias.update(alias_name=self.alias, new_target_collection=collection)
        return before

    async def drop(self, collection: str) -> None:
        await self.client.collections.delete(collection)

    # -- objects -------------------------------------------------------------------------------
    async def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]],
                     workflow_id: UUID, collection: str | None = None) -> int:
        target = self.client.collections.use(collection or await self.target())
        for start in range(0, len(chunks), self.batch_size):
            objects = [
                DataObject(uuid=c.chunk_id, vector=[float(x) for x in v], properties={
                    "course_id": c.course_id, "lesson_id": c.lesson_id,
                    "module_id": c.module_id, "lesson_title": c.lesson_title,
                    "chunk_index": c.chunk_index, "text": c.text,
                    "content_version": c.content_version, "workflow_id": workflow_id,
                    "content_hash": c.content_hash})
                for c, v in zip(chunks[start:start + self.batch_size],
                                vectors[start:start + self.batch_size], strict=True)]
            result = await target.data.insert_many(objects)
            if result.has_errors:
                first = next(iter(result.errors.values()))
                raise IndexFailed(f"{len(result.errors)} objects refused, e.g. {first.message}")
        return len(chunks)

    async def _delete(self, where: Any, collection: str | None) -> int:
        target = self.client.collections.use(collection or await self.target())
        removed = 0
        for _ in range(MAX_DELETE_ROUNDS):
            result = await target.data.delete_many(where=where)
            if result.failed:
                raise IndexFailed(f"{result.failed} objects could not be deleted")
            removed += result.successful
            if result.matches == 0:
                return removed
        raise IndexFailed("objects kept matching the delete filter")

    async def delete_version(self, course_id: UUID, content_version: int,
                             collection: str | None = None) -> int:
        return await self._delete(_course(course_id) & Filter.by_property(
            "content_version").equal(content_version), collection)

    async def delete_below(self, course_id: UUID, below: int,
                           collection: str | None = None) -> int:
        return await self._delete(_course(course_id) & Filter.by_property(
            "content_version").less_than(below), collection)

    async def search(self, course_id: UUID, content_version: int,
                     vector: Sequence[float], k: int) -> list[IndexHit]:
        """Nearest chunks of one version of one course (cosine distance, smaller is nearer)."""
        result = await self.client.collections.use(self.alias).query.near_vector(
            [float(x) for x in vector], limit=k, return_metadata=MetadataQuery(distance=True),
            filters=_course(course_id) & Filter.by_property("content_version").equal(
                content_version))
        return [IndexHit(UUID(str(o.uuid)), dict(o.properties), float(o.metadata.distance or 0))
                for o in result.objects]

    async def search_all(self, vector: Sequence[float], limit: int) -> list[IndexHit]:
        """Nearest chunks across every course (the caller keeps the ready versions)."""
        result = await self.client.collections.use(self.alias).query.near_vector(
            [float(x) for x in vector], limit=limit, return_metadata=MetadataQuery(distance=True))
        return [IndexHit(UUID(str(o.uuid)), dict(o.properties), float(o.metadata.distance or 0))
                for o in result.objects]


def _course(course_id: UUID) -> Any:
    return Filter.by_property("course_id").equal(course_id)

