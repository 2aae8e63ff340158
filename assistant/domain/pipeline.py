"""The Q&A pipeline: input → retrieval → context → generation (streamed) →
post-processing → telemetry, as plain async code (docs/adr/0020 says why not a graph).

Every dependency that does I/O comes in through `Ports`, so the pipeline is tested with
fakes in unit tests and runs against the real services in the assistant-api process.
The answer is streamed sentence by sentence: a sentence leaves only after the output
filters ran on it and a cited chunk supports it, so nothing unsupported reaches the student.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from assistant.domain import grounding
from assistant.domain.answers import (
    REFUSAL_NO_CONTENT,
    REFUSAL_PROVIDERS,
    REFUSAL_UNGROUNDED,
    REFUSAL_WEAK,
    Final,
    Suggestion,
    citation_dict,
    refusal_text,
)
from assistant.domain.context import Citation, Passage, build_context
from assistant.domain.guardrails import clean_input, filter_output
from assistant.domain.relevance import classify
from assistant.domain.text import sentences
from assistant.domain.thread import Outcome
from assistant.providers.base import Prompt, ProviderError
from assistant.providers.chain import Generation

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Question:
    thread_id: UUID
    question_id: UUID
    course_id: UUID
    module_id: UUID | None
    text: str


@dataclass(frozen=True)
class Scope:
    """Where retrieval may look, as the read models give it."""

    content_version: int | None
    lesson_ids: tuple[UUID, ...]
    lesson_titles: dict[UUID, str]
    history: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Policy:
    min_similarity: float
    top_k: int = 4
    retrieve_k: int = 8
    context_tokens: int = 1200
    max_answer_tokens: int = 200
    policy_words: tuple[str, ...] = ()
    suggestions: int = 3


class Generator(Protocol):
    def stream(self, prompt: Prompt, generation: Generation) -> AsyncIterator[str]: ...


@dataclass
class Ports:
    open_question: Callable[[Question, str], Awaitable[Scope]]  # checks access, ai.requested
    embed: Callable[[str], Awaitable[Any]]
    retrieve: Callable[[Question, Scope, str, Any, int], Awaitable[list[Passage]]]
    generator: Generator
    count_tokens: Callable[[str], int]
    record: Callable[[Question, Outcome], Awaitable[None]]  # ai.completed
    cache_get: Callable[[Question, Scope], Awaitable[dict[str, Any] | None]] | None = None
    cache_put: Callable[[Question, Scope, dict[str, Any]], Awaitable[None]] | None = None
    clock: Callable[[], float] = time.perf_counter


@dataclass
class _Run:
    started: float
    first_token: float | None = None
    stages: dict[str, float] = field(default_factory=dict)


def _suggest(passages: Sequence[Passage], titles: dict[UUID, str], n: int) -> list[Suggestion]:
    seen: dict[UUID, Suggestion] = {}
    for p in passages:
        if p.lesson_id not in seen and len(seen) < n:
            seen[p.lesson_id] = Suggestion(p.lesson_id, titles.get(p.lesson_id, p.lesson_title))
    return list(seen.values())


async def answer(question: Question, ports: Ports, policy: Policy) -> AsyncIterator[Event]:
    clock = ports.clock
    run = _Run(clock())
    checks: list[grounding.SentenceCheck] = []

    def lap(stage: str, since: float) -> float:
        now = clock()
        run.stages[stage] = round((now - since) * 1000, 3)
        return now

    # -- input ----------------------------------------------------------------------------
    cleaned = clean_input(question.text)
    scope = await ports.open_question(question, cleaned.text)
    mark = lap("input", run.started)
    yield "meta", {"thread_id": str(question.thread_id),
                   "question_id": str(question.question_id),
                   "input_reasons": list(cleaned.reasons)}

    def final(text: str, provider: str, citations: Sequence[Citation], *, refused: str = "",
              score: float = 0.0, removed: int = 0, filtered: Sequence[str] = (),
              best: float | None = None, suggestions: Sequence[Suggestion] = (),
              generation: Generation | None = None, cached: bool = False) -> Final:
        now = clock()
        usage = generation.usage if generation else None
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        if usage is not None and not usage.reported:
            completion_tokens = ports.count_tokens(text)
        return Final(
            thread_id=question.thread_id, question_id=question.question_id, answer=text,
            provider=provider, refused=bool(refused), refusal_reason=refused,
            grounding_score=round(score, 4), unsupported_removed=removed,
            checked_sentences=len(checks),
            filter_reason=",".join(filtered), input_reasons=list(cleaned.reasons),
            cached=cached, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            first_token_ms=round(((run.first_token or now) - run.started) * 1000, 3),
            latency_ms=round((now - run.started) * 1000, 3), best_similarity=best,
            suggestions=list(suggestions),
            attempts=[{"provider": a.provider, "outcome": a.outcome}
                      for a in (generation.attempts if generation else [])],
            stages_ms=dict(run.stages))

    async def finish(result: Final, citations: Sequence[Citation]) -> AsyncIterator[Event]:
        if run.first_token is None and result.answer:
            run.first_token = clock()
            yield "token", {"text": result.answer}
            result.first_token_ms = round((run.first_token - run.started) * 1000, 3)
        yield "citations", {"citations": [citation_dict(c) for c in citations]}
        await ports.record(question, Outcome(
            provider=result.provider, answer=result.answer,
            citations=tuple(c.passage.chunk_id for c in citations),
            latency_ms=result.latency_ms, first_token_ms=result.first_token_ms,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            grounding_score=result.grounding_score, refusal_reason=result.refusal_reason,
            filter_reason=result.filter_reason, cached=result.cached))
        yield "final", result.as_dict()

    if scope.content_version is None:
        result = final(refusal_text(REFUSAL_NO_CONTENT, []), "none", [],
                       refused=REFUSAL_NO_CONTENT)
        async for event in finish(result, []):
            yield event
        return

    # -- cache (first questions only: a follow-up depends on its thread) -------------------
    if ports.cache_get and not scope.history:
        hit = await ports.cache_get(question, scope)
        if hit is not None:
            citations = [Citation(c["number"], Passage(
                UUID(c["chunk_id"]), UUID(c["lesson_id"]), UUID(c["module_id"]),
                c["lesson_title"], c["chunk_index"], c["text"], c["similarity"]), c["text"],
                False) for c in hit["citations"]]
            result = final(hit["answer"], "cache", citations, score=hit["grounding_score"],
                           best=hit["best_similarity"], cached=True)
            async for event in finish(result, citations):
                yield event
            return

    # -- retrieval ------------------------------------------------------------------------
    # A follow-up is searched with the thread's last question, so "and how do I undo it?"
    # still finds the lesson the thread is about.
    search_text = cleaned.text
    if scope.history:
        search_text = f"{scope.history[-1][0]} {cleaned.text}"
    vector = await ports.embed(search_text)
    passages = await ports.retrieve(question, scope, search_text, vector, policy.retrieve_k)
    mark = lap("retrieval", mark)
    best = max((p.similarity for p in passages), default=None)
    if not classify(best, policy.min_similarity):
        ranked = sorted(passages, key=lambda p: -p.similarity)
        suggestions = _suggest(ranked, scope.lesson_titles, policy.suggestions)
        result = final(refusal_text(REFUSAL_WEAK, suggestions), "none", [],
                       refused=REFUSAL_WEAK, best=best, suggestions=suggestions)
        async for event in finish(result, []):
            yield event
        return

    # -- context --------------------------------------------------------------------------
    ordered = sorted(passages, key=lambda p: (-p.rank_score, -p.similarity))
    citations = build_context(ordered, ports.count_tokens, policy.context_tokens, policy.top_k)
    prompt = Prompt(cleaned.text, tuple((c.number, c.passage.lesson_title, c.text)
                                        for c in citations),
                    scope.history, policy.max_answer_tokens)
    mark = lap("context", mark)

    # -- generation and post-processing, sentence by sentence -----------------------------
    generation = Generation()
    cited = [(c.number, c.text) for c in citations]
    kept: list[str] = []
    filtered: list[str] = []
    buffer = ""

    def release(text: str) -> list[str]:
        out = []
        for sentence in sentences(text):
            clean = filter_output(sentence, policy.policy_words)
            filtered.extend(r for r in clean.reasons if r not in filtered)
            verdict = grounding.check(clean.text, cited)
            checks.extend(verdict.checks)
            if verdict.checks and not verdict.unsupported:
                out.append(clean.text)
        return out

    try:
        async for piece in ports.generator.stream(prompt, generation):
            buffer += piece
            parts = sentences(buffer)
            if len(parts) > 1:  # a sentence is complete once the next one starts
                buffer = buffer[buffer.rfind(parts[-1]):]  # keeps its trailing space
                for sentence in release(" ".join(parts[:-1])):
                    if run.first_token is None:
                        run.first_token = clock()
                    kept.append(sentence)
                    yield "token", {"text": (" " if len(kept) > 1 else "") + sentence}
        for sentence in release(buffer):
            if run.first_token is None:
                run.first_token = clock()
            kept.append(sentence)
            yield "token", {"text": (" " if len(kept) > 1 else "") + sentence}
    except ProviderError:
        lap("generation", mark)
        result = final(refusal_text(REFUSAL_PROVIDERS, []), "none", [],
                       refused=REFUSAL_PROVIDERS, best=best, generation=generation)
        async for event in finish(result, []):
            yield event
        return
    mark = lap("generation", mark)

    score = sum(1 for c in checks if c.supported_by is not None) / len(checks) if checks else 0
    removed = sum(1 for c in checks if c.supported_by is None)
    used = {c.supported_by for c in checks if c.supported_by is not None}
    shown = [c for c in citations if c.number in used] or list(citations)
    if not kept:
        suggestions = _suggest(ordered, scope.lesson_titles, policy.suggestions)
        result = final(refusal_text(REFUSAL_UNGROUNDED, suggestions), generation.provider,
                       [], refused=REFUSAL_UNGROUNDED, score=score, removed=removed,
                       filtered=filtered, best=best, suggestions=suggestions,
                       generation=generation)
        async for event in finish(result, []):
            yield event
        return
    result = final(" ".join(kept), generation.provider, shown, score=score, removed=removed,
                   filtered=filtered, best=best, generation=generation)
    lap("post", mark)
    result.stages_ms = dict(run.stages)
    if ports.cache_put and not scope.history and not filtered:
        await ports.cache_put(question, scope, {
            "answer": result.answer, "grounding_score": result.grounding_score,
            "best_similarity": best, "citations": [citation_dict(c) for c in shown]})
    async for event in finish(result, shown):
        yield event
