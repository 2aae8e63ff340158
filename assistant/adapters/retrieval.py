"""Retrieval: Weaviate hybrid search (BM25 over the chunk text + our vectors) restricted to
one course's ready content version and the lessons the asker may see. The vectors come back
with the hits, so the relevance gate uses the cosine similarity of the best chunk: the
hybrid score is rank-relative and means nothing across questions."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import numpy as np
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery

from assistant.domain.context import Passage
from projections.content.weaviate_index import ChunkIndex


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator else 0.0


class Retriever:
    def __init__(self, index: ChunkIndex, alpha: float = 0.6) -> None:
        self.index = index
        self.alpha = alpha  # 1 = vector only, 0 = BM25 only

    async def retrieve(self, course_id: UUID, content_version: int, lesson_ids: Sequence[UUID],
                       question: str, vector: np.ndarray, k: int) -> list[Passage]:
        if not lesson_ids:
            return []
        filters = (Filter.by_property("course_id").equal(course_id)
                   & Filter.by_property("content_version").equal(content_version)
                   & Filter.by_property("lesson_id").contains_any(list(lesson_ids)))
        collection = self.index.client.collections.use(self.index.alias)
        result = await collection.query.hybrid(
            query=question, vector=[float(x) for x in vector], alpha=self.alpha, limit=k,
            fusion_type=HybridFusion.RELATIVE_SCORE, filters=filters,
            query_properties=["text", "lesson_title"], include_vector=True,
            return_metadata=MetadataQuery(score=True))
        passages = []
        for o in result.objects:
            p = o.properties
            stored = o.vector.get("default") if isinstance(o.vector, dict) else o.vector
            similarity = cosine(np.asarray(stored, dtype=np.float32), vector) if stored else 0.0
            passages.append(Passage(
                chunk_id=UUID(str(o.uuid)), lesson_id=UUID(str(p["lesson_id"])),
                module_id=UUID(str(p["module_id"])), lesson_title=str(p["lesson_title"]),
                chunk_index=int(p["chunk_index"]), text=str(p["text"]),
                similarity=round(similarity, 6),
                rank_score=float(o.metadata.score or 0.0)))
        return passages
