"""The assistant wired to the real services: read models and the event store (PostgreSQL),
Weaviate, the embedding model, Redis and the providers. One per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from assistant.adapters.access import course_view
from assistant.adapters.limits import DailyBudget, ResponseCache, cache_key
from assistant.adapters.retrieval import Retriever
from assistant.adapters.tokens import TokenCounter
from assistant.domain.pipeline import Event, Policy, Ports, Question, Scope, answer
from assistant.domain.thread import Outcome, Thread
from assistant.messages import AskQuestion, RecordAnswer
from assistant.providers.chain import ProviderChain
from assistant.providers.factory import build_chain
from commands.adapters.event_store import Metadata
from commands.messages import Actor
from commands.unit_of_work import UnitOfWork
from projections.content.embeddings import Embedder, VectorCache, shared_encoder
from projections.content.weaviate_index import ChunkIndex
from smartcourse.bootstrap import WriteSide, open_write_side
from smartcourse.settings import Settings


@dataclass
class Assistant:
    settings: Settings
    write: WriteSide
    reads: AsyncConnectionPool
    index: ChunkIndex
    embedder: Embedder
    chain: ProviderChain
    counter: TokenCounter
    cache: ResponseCache
    budget: DailyBudget

    @classmethod
    async def open(cls, settings: Settings, chain: ProviderChain | None = None) -> Assistant:
        write = await open_write_side(settings)
        reads = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=4, open=False,
                                    kwargs={"autocommit": True,
                                            "application_name": "smartcourse-assistant"})
        await reads.open(wait=True, timeout=30)
        index = await ChunkIndex.open(settings)
        embedder = Embedder(shared_encoder(settings.embedding_model), VectorCache(reads),
                            settings.embedding_batch_size)
        return cls(settings, write, reads, index, embedder, chain or build_chain(settings),
                   TokenCounter(), ResponseCache(write.redis, settings.assistant_cache_seconds),
                   DailyBudget(write.redis, settings.assistant_daily_questions))

    async def close(self) -> None:
        self.embedder.close()
        await self.index.close()
        await self.reads.close()
        await self.write.close()

    def policy(self) -> Policy:
        s = self.settings
        return Policy(min_similarity=s.assistant_min_similarity, top_k=s.assistant_top_k,
                      context_tokens=s.assistant_context_tokens,
                      max_answer_tokens=s.assistant_max_answer_tokens,
                      policy_words=tuple(w.strip() for w in s.assistant_policy_words.split(",")
                                         if w.strip()))

    async def thread(self, thread_id: UUID) -> Thread | None:
        uow = UnitOfWork(self.write.store, self.write.bus.cache, Metadata(None, thread_id))
        return await uow.find(Thread, thread_id)

    def ask(self, actor: Actor, question: Question, correlation_id: UUID,
            chain: ProviderChain | None = None) -> AsyncIterator[Event]:
        """The pipeline's events for one question (access is checked before the first)."""
        scopes: dict[UUID, Scope] = {}

        async def open_question(q: Question, cleaned: str) -> Scope:
            async with self.reads.connection() as conn:
                view = await course_view(conn, actor, q.course_id)
            await self.budget.spend(actor.user_id)
            await self.write.bus.execute(AskQuestion(
                q.thread_id, q.question_id, q.course_id, str(q.module_id or ""), cleaned),
                actor, correlation_id=correlation_id)
            thread = await self.thread(q.thread_id)
            history = tuple((t.question, t.answer or "") for t in thread.history()
                            if t.question_id != q.question_id) if thread else ()
            lessons = [lesson for lesson in view.lessons
                       if q.module_id is None or lesson.module_id == q.module_id]
            scope = Scope(view.ready_version, tuple(lesson.lesson_id for lesson in lessons),
                          {lesson.lesson_id: lesson.title for lesson in view.lessons}, history)
            scopes[q.question_id] = scope
            return scope

        async def retrieve(q: Question, scope: Scope, text: str, vector: Any, k: int) -> list:
            assert scope.content_version is not None
            return await Retriever(self.index).retrieve(
                q.course_id, scope.content_version, scope.lesson_ids, text, vector, k)

        async def record(q: Question, outcome: Outcome) -> None:
            await self.write.bus.execute(RecordAnswer(q.thread_id, q.question_id, q.course_id,
                                                      outcome), actor,
                                         correlation_id=correlation_id)

        def key(q: Question, scope: Scope) -> str:
            return cache_key(q.course_id, scope.content_version or 0, str(q.module_id or ""),
                             q.text)

        async def cache_get(q: Question, scope: Scope) -> dict[str, Any] | None:
            return await self.cache.get(key(q, scope))

        async def cache_put(q: Question, scope: Scope, value: dict[str, Any]) -> None:
            await self.cache.put(key(q, scope), value)

        ports = Ports(open_question=open_question, embed=self.embedder.embed_query,
                      retrieve=retrieve, generator=chain or self.chain,
                      count_tokens=self.counter, record=record,
                      cache_get=cache_get if self.settings.assistant_cache_seconds else None,
                      cache_put=cache_put if self.settings.assistant_cache_seconds else None)
        return answer(question, ports, self.policy())
