"""Builds the publishing workflow's adapters from settings (its piece of the composition root).

Tests and benchmarks pass their own encoder (failing, counting) or retry policy here: the
workflow is built from parameters, never patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from assets.texts import AssetTexts
from projections.content.embeddings import Embedder, Encoder, VectorCache, shared_encoder
from projections.content.published import PublishedContent
from projections.content.store import ensure_content_schema
from projections.content.weaviate_index import ChunkIndex
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings
from streams.workflows.publishing import RetryPolicy
from streams.workflows.runner import PublishingWorkflow
from streams.workflows.state import WorkflowStore


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(attempts=settings.workflow_step_attempts,
                       base_delay=settings.workflow_retry_base_delay,
                       max_delay=settings.workflow_retry_max_delay)


@asynccontextmanager
async def open_publishing(
    settings: Settings, encoder: Encoder | None = None, policy: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> AsyncIterator[PublishingWorkflow]:
    side = await open_write_side(settings)
    index: ChunkIndex | None = None
    embedder: Embedder | None = None
    try:
        async with side.pool.connection() as conn:
            await ensure_content_schema(conn)
        index = await ChunkIndex.open(settings)
        embedder = Embedder(encoder or shared_encoder(settings.embedding_model),
                            VectorCache(side.pool), settings.embedding_batch_size)
        yield PublishingWorkflow(side.bus, WorkflowStore(side.pool), embedder, index,
                                 policy or retry_policy(settings), sleep=sleep,
                                 content=PublishedContent(side.store.load,
                                                          AssetTexts.from_settings(settings)))
    finally:
        if embedder is not None:
            embedder.close()
        if index is not None:
            await index.close()
        await side.close()
