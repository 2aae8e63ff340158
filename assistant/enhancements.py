"""Study material from a lesson, through the provider chain (docs/adr/0042): generated on an
instructor's request (streamed), and again by the regenerator when the lesson changes.

Both run `generate`: the lesson as the write side knows it now, the prompt, the provider's
JSON lines checked item by item as they stream, and the draft recorded by command with the
hash of the lesson text it was made from. Who may do it is checked before any lesson text is
read (the course's instructor and admins; the platform's own actor when regenerating).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4, uuid5

from assistant.domain.draft import LESSON_CHANGED, REQUESTED, Draft, draft_id
from assistant.domain.enhancement import Collector, EnhancementPrompt, Material, lesson_hash
from assistant.domain.study_material import course_terms
from assistant.handlers import authored_course, material_of
from assistant.messages import DiscardDraft, MarkDraftStale, RecordDraft
from assistant.providers.base import ProviderError
from assistant.providers.chain import Generation, ProviderChain
from commands.adapters.event_store import Metadata, StoredEvent
from commands.bus import CommandBus
from commands.domain.errors import Conflict, NotFound, RuleViolated, SmartCourseError
from commands.domain.ids import NAMESPACE
from commands.messages import Actor
from commands.unit_of_work import UnitOfWork

log = logging.getLogger("smartcourse.assistant.enhancement")

Event = tuple[str, dict[str, Any]]
SYSTEM = Actor(user_id=uuid5(NAMESPACE, "actor:enhancement-regenerator"), role="system")


class UnusableOutput(SmartCourseError):
    """The providers answered, but with nothing that passes the checks (a 502)."""

    code = "enhancement.unusable_output"


class LessonTooShort(RuleViolated):
    """Too little text to make study material from: the instructor's to fix (a 422), not
    the provider's failure."""

    code = "enhancement.lesson_too_short"


MIN_WORDS = 20  # below this no provider can summarise or ask about a lesson


class GenerationFailed(SmartCourseError):
    """No provider could answer (a 503)."""

    code = "enhancement.providers_failed"


@dataclass(frozen=True)
class Request:
    course_id: UUID
    lesson_id: UUID
    objectives: int = 4
    questions: int = 5


async def lesson_material(bus: CommandBus, actor: Actor, course_id: UUID,
                          lesson_id: UUID, fresh: bool = False) -> Material:
    """The lesson now, once the actor is known to be its instructor or an admin (`fresh`:
    caught up with the store, not as this process last cached it)."""
    uow = UnitOfWork(bus.store, bus.cache, Metadata(None, uuid4()), refresh=fresh,
                     personal=bus.personal)
    course = await authored_course(uow, actor, course_id)
    return material_of(course, lesson_id)


async def generate(bus: CommandBus, chain: ProviderChain, actor: Actor, request: Request,
                   correlation_id: UUID, reason: str = REQUESTED, cause: StoredEvent | None = None,
                   ) -> AsyncIterator[Event]:
    """`meta`, then `item` / `rejected` as the provider's lines are checked, then `final`
    with the recorded draft (or an error raised: NotFound, Forbidden, UnusableOutput,
    GenerationFailed, Conflict when the lesson changed meanwhile)."""
    started = time.perf_counter()
    material = await lesson_material(bus, actor, request.course_id, request.lesson_id,
                                     fresh=cause is not None)
    words = len(material.content.split())
    if words < MIN_WORDS:
        raise LessonTooShort(f"the lesson has {words} words; study material needs at least "
                             f"{MIN_WORDS}")
    the_id = draft_id(request.course_id, request.lesson_id)
    yield "meta", {"draft_id": str(the_id), "course_id": str(request.course_id),
                   "lesson_id": str(request.lesson_id), "lesson_title": material.title,
                   "source_hash": material.source_hash, "passages": len(material.passages)}
    prompt = EnhancementPrompt(material, course_terms(material), request.objectives,
                               request.questions)
    collector = Collector(material, request.objectives, request.questions)
    generation = Generation()
    seen = 0
    try:
        async for piece in chain.stream(prompt, generation):
            for kind, item in collector.feed(piece):
                yield "item", {"type": kind, **item}
            for rejected in collector.rejected[seen:]:
                yield "rejected", {"line": rejected.line, "reason": rejected.reason}
            seen = len(collector.rejected)
    except ProviderError as error:
        raise GenerationFailed(f"no provider could generate study material: {error}") from None
    for kind, item in collector.close():
        yield "item", {"type": kind, **item}
    for rejected in collector.rejected[seen:]:
        yield "rejected", {"line": rejected.line, "reason": rejected.reason}
    if not collector.usable():
        raise UnusableOutput(f"{generation.provider or 'the provider'}: {collector.refusal()}")
    result = await bus.execute(RecordDraft(
        request.course_id, request.lesson_id, material.source_hash, material.title,
        generation.provider, collector.content, reason,
        cause.position if cause is not None else 0), actor,
        correlation_id=correlation_id, causation_id=cause.event_id if cause else None)
    content = collector.content
    yield "final", {
        "draft_id": str(the_id), "position": result.position, "changed": result.changed,
        "status": result.state, "provider": generation.provider,
        "source_hash": material.source_hash, "summary": content.summary,
        "summary_passages": content.summary_passages, "objectives": content.objectives,
        "questions": content.questions,
        "rejected": [{"line": r.line, "reason": r.reason} for r in collector.rejected],
        "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


class Regenerator:
    """The consumer of lesson changes: a draft whose lesson's text changed goes stale and is
    generated again from the new text. Idempotent and checkpointed with its writes: the
    draft records the position of the lesson event it reacted to (in the same append), so a
    redelivered event finds it handled; a generation already made from the lesson's text
    is not made again."""

    KINDS = ("course.lesson_revised", "course.lesson_removed", "course.module_removed")

    def __init__(self, bus: CommandBus, chain: ProviderChain, actor: Actor = SYSTEM) -> None:
        self.bus = bus
        self.chain = chain
        self.actor = actor

    async def handle(self, event: StoredEvent) -> str:
        """What became of the event: ignored, removed, unchanged, stale or regenerated."""
        if event.event_type not in self.KINDS:
            return "ignored"
        course_id, p = event.aggregate_id, event.payload
        if event.event_type == "course.module_removed":
            lessons = [UUID(str(lesson)) for lesson in p.get("lesson_ids", [])]
            outcomes = [await self._removed(course_id, lesson, event) for lesson in lessons]
            return "removed" if "removed" in outcomes else "ignored"
        lesson_id = UUID(str(p["lesson_id"]))
        if event.event_type == "course.lesson_removed":
            return await self._removed(course_id, lesson_id, event)
        draft = await self._draft(draft_id(course_id, lesson_id))
        if draft is None:
            return "ignored"
        changed = lesson_hash(p["title"], p["content"])
        if not draft.resumes(event.position):
            if not draft.outdated_by(changed, event.position):
                return "unchanged"
            await self.bus.execute(MarkDraftStale(course_id, lesson_id, changed,
                                                  event.position),
                                   self.actor, correlation_id=event.correlation_id,
                                   causation_id=event.event_id)
        request = Request(course_id, lesson_id, len(draft.content.objectives) or 4,
                          len(draft.content.questions) or 5)
        try:
            async for _ in generate(self.bus, self.chain, self.actor, request,
                                    event.correlation_id, LESSON_CHANGED, event):
                pass
        except (Conflict, NotFound) as error:  # the lesson moved on again, or went away:
            log.info("regeneration superseded", extra={  # its own event handles that
                "draft_id": str(draft.id), "reason": error.code})
            return "stale"
        except (UnusableOutput, GenerationFailed, LessonTooShort) as error:  # stays stale
            log.warning("regeneration failed; the draft stays stale", extra={
                "draft_id": str(draft.id), "reason": error.message})
            return "stale"
        return "regenerated"

    async def _draft(self, the_id: UUID) -> Draft | None:
        """The draft as the store has it now: this process's cache may not have heard yet
        of the assistant-api's latest write to it."""
        uow = UnitOfWork(self.bus.store, self.bus.cache, Metadata(None, uuid4()), refresh=True,
                         personal=self.bus.personal)
        return await uow.find(Draft, the_id)

    async def _removed(self, course_id: UUID, lesson_id: UUID, event: StoredEvent) -> str:
        the_id = draft_id(course_id, lesson_id)
        if await self._draft(the_id) is None:
            return "ignored"
        try:
            await self.bus.execute(DiscardDraft(the_id, "lesson_removed"), self.actor,
                                   correlation_id=event.correlation_id,
                                   causation_id=event.event_id)
        except NotFound:  # the course itself is gone
            return "ignored"
        return "removed"
