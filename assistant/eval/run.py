"""`smartcourse eval assistant`: the shipped evaluation set through the real assistant.

The course is authored and published through the command bus; the running platform
(`smartcourse app up`: relay, worker with the publishing workflow) makes it READY; then
every question goes through the same pipeline the API serves, once per provider, as the
course's instructor (who may ask), without the response cache.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from assistant.adapters.retrieval import Retriever
from assistant.domain.pipeline import Question
from assistant.eval.dataset import EvalSet, load
from assistant.providers.factory import build_chain
from assistant.service import Assistant
from commands import messages as m
from smartcourse.settings import Settings


@dataclass
class ProviderResult:
    provider: str
    answered_correctly: int = 0
    answerable: int = 0
    refused_correctly: int = 0
    unanswerable: int = 0
    sentences: int = 0
    supported: int = 0
    first_token_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    answered_by: dict[str, int] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        grounded = self.supported / self.sentences if self.sentences else 0.0
        return {
            "provider": self.provider,
            "answered_rate": round(self.answered_correctly / max(1, self.answerable), 3),
            "correct_refusal_rate": round(self.refused_correctly / max(1, self.unanswerable), 3),
            "grounded_sentence_rate": round(grounded, 3),
            "hallucination_rate": round(1 - grounded, 3) if self.sentences else 0.0,
            "first_token_p50_ms": percentile(self.first_token_ms, 50),
            "first_token_p95_ms": percentile(self.first_token_ms, 95),
            "total_p50_ms": percentile(self.total_ms, 50),
            "total_p95_ms": percentile(self.total_ms, 95),
            "answered_by": self.answered_by,
            "stage_p50_ms": {k: percentile(v, 50) for k, v in self.stages.items()},
        }


def percentile(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


async def publish_eval_course(assistant: Assistant, data: EvalSet,
                              timeout: float = 600) -> tuple[UUID, m.Actor, dict[UUID, str]]:
    """The course through the bus; waits until the read model shows it READY."""
    bus = assistant.write.bus
    teacher = m.Actor(uuid4(), "instructor")
    course_id = uuid4()
    await bus.execute(m.CreateCourse(course_id, data.title, data.description), teacher)
    modules = {title: uuid4() for title in data.module_titles()}
    for title, module_id in modules.items():
        await bus.execute(m.AddModule(course_id, module_id, title), teacher)
    keys = {}
    for lesson in data.lessons:
        lesson_id = data.lesson_id(course_id, lesson.key)
        keys[lesson_id] = lesson.key
        await bus.execute(m.AddLesson(course_id, modules[lesson.module], lesson_id,
                                      lesson.title, lesson.content), teacher)
    await bus.execute(m.PublishCourse(course_id, uuid4()), teacher)
    deadline = time.monotonic() + timeout
    while True:
        async with assistant.reads.connection() as conn:
            row = await (await conn.execute(
                "SELECT status FROM read_models.course_details WHERE course_id = %s",
                [course_id])).fetchone()
        if row and row[0] == "READY":
            return course_id, teacher, keys
        if time.monotonic() > deadline:
            raise TimeoutError("the evaluation course did not become READY: is "
                               "`smartcourse app up` running (relay, worker)?")
        await asyncio.sleep(0.5)  # a bounded poll of the publishing workflow


async def retrieval_hits(assistant: Assistant, data: EvalSet, course_id: UUID,
                         keys: dict[UUID, str]) -> dict[str, float]:
    async with assistant.reads.connection() as conn:
        version = (await (await conn.execute(
            "SELECT content_version FROM content.ready_versions WHERE course_id = %s",
            [course_id])).fetchone())[0]
    retriever = Retriever(assistant.index)
    hit1 = hit5 = total = 0
    for q in data.questions:
        if not q.answerable:
            continue
        vector = await assistant.embedder.embed_query(q.question)
        passages = await retriever.retrieve(course_id, version, list(keys), q.question,
                                            vector, 5)
        ranked = [keys[p.lesson_id] for p in passages]
        total += 1
        hit1 += bool(ranked) and ranked[0] == q.lesson
        hit5 += q.lesson in ranked[:5]
    return {"hit@1": round(hit1 / total, 3), "hit@5": round(hit5 / total, 3),
            "questions": total}


async def evaluate(settings: Settings, providers: list[str]) -> dict[str, Any]:
    settings = settings.model_copy(update={"assistant_cache_seconds": 0,
                                           "assistant_daily_questions": 0})
    data = load()
    assistant = await Assistant.open(settings, build_chain(settings, ["extractive"]))
    try:
        course_id, teacher, keys = await publish_eval_course(assistant, data)
        report: dict[str, Any] = {"course_id": str(course_id),
                                  "retrieval": await retrieval_hits(assistant, data, course_id,
                                                                    keys),
                                  "threshold": settings.assistant_min_similarity,
                                  "providers": []}
        for name in providers:
            chain = build_chain(settings, [name])
            result = ProviderResult(name)
            await _warm(assistant, teacher, course_id, chain)
            for q in data.questions:
                final = await _ask(assistant, teacher, course_id, q.question, chain)
                result.sentences += final["checked_sentences"]
                result.supported += final["checked_sentences"] - final["unsupported_removed"]
                result.first_token_ms.append(final["first_token_ms"])
                result.total_ms.append(final["latency_ms"])
                if q.answerable:
                    result.answerable += 1
                    result.answered_correctly += not final["refused"]
                else:
                    result.unanswerable += 1
                    result.refused_correctly += final["refused"]
                for stage, ms in final["stages_ms"].items():
                    result.stages.setdefault(stage, []).append(ms)
                by = final["provider"]
                result.answered_by[by] = result.answered_by.get(by, 0) + 1
            report["providers"].append(result.summary())
        return report
    finally:
        await assistant.close()


async def _ask(assistant: Assistant, actor: m.Actor, course_id: UUID, text: str,
               chain: Any) -> dict[str, Any]:
    question = Question(uuid4(), uuid4(), course_id, None, text)
    final: dict[str, Any] = {}
    async for name, data in assistant.ask(actor, question, uuid4(), chain):
        if name == "final":
            final = data
    return final


async def _warm(assistant: Assistant, actor: m.Actor, course_id: UUID, chain: Any) -> None:
    await _ask(assistant, actor, course_id, "What is a commit?", chain)

