"""Draft: the study material generated from one lesson, until its instructor accepts or
discards it (docs/adr/0042). One draft per lesson (its id derives from course and lesson), so
generating again, a lesson edit and its regeneration all land on the same stream.

`enhancement.drafted` opens it; `regenerated` replaces its content (asked for, or because the
lesson changed); `went_stale` says the lesson moved on from the text it was made from;
`edited` is the instructor's change; `accepted` made its questions a quiz of the course;
`discarded` ends it. Each generation records the hash of the lesson text it was made from.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from assistant.domain.enhancement import ENHANCEMENT_NAMESPACE, Content
from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict

DRAFT, STALE, ACCEPTED, DISCARDED = "DRAFT", "STALE", "ACCEPTED", "DISCARDED"
REQUESTED, LESSON_CHANGED = "requested", "lesson_changed"


def draft_id(course_id: UUID, lesson_id: UUID) -> UUID:
    return uuid5(ENHANCEMENT_NAMESPACE, f"draft:{course_id}:{lesson_id}")


def quiz_id(draft: UUID) -> UUID:
    """The quiz an accepted draft becomes: accepting again revises the same quiz."""
    return uuid5(ENHANCEMENT_NAMESPACE, f"quiz:{draft}")


class Draft(AggregateRoot):
    type_name = "enhancement"

    @event("Drafted")
    def __init__(self, id: UUID, course_id: UUID, lesson_id: UUID,  # noqa: A002
                 source_hash: str, lesson_title: str, provider: str, summary: str,
                 summary_passages: list[int], objectives: list[dict[str, Any]],
                 questions: list[dict[str, Any]]) -> None:
        self.course_id = course_id
        self.lesson_id = lesson_id
        self.status = DRAFT
        self.source_hash = source_hash
        self.provider = provider
        self.content = Content(summary, list(summary_passages), list(objectives),
                               list(questions))
        self.cause_position = 0  # the last lesson event this draft reacted to
        self.accepted_hash: str | None = None
        self.generations = 1

    @property
    def state(self) -> str:
        return self.status

    def regenerate(self, content: Content, source_hash: str, lesson_title: str, provider: str,
                   reason: str, cause_position: int = 0) -> None:
        if reason == LESSON_CHANGED and self.status == DISCARDED:
            return  # the instructor discarded it: a lesson edit does not bring it back
        if self.status != STALE and source_hash == self.source_hash and (
                reason == LESSON_CHANGED or content.as_dict() == self.content.as_dict()):
            return  # made from this very text already (a redelivered change, a retry)
        self._regenerate(source_hash=source_hash, lesson_title=lesson_title,
                         provider=provider, summary=content.summary,
                         summary_passages=list(content.summary_passages),
                         objectives=list(content.objectives), questions=list(content.questions),
                         reason=reason, cause_position=max(cause_position, self.cause_position))

    @event("Regenerated")
    def _regenerate(self, source_hash: str, lesson_title: str, provider: str, summary: str,
                    summary_passages: list[int], objectives: list[dict[str, Any]],
                    questions: list[dict[str, Any]], reason: str, cause_position: int) -> None:
        self.status = DRAFT
        self.source_hash, self.provider = source_hash, provider
        self.content = Content(summary, list(summary_passages), list(objectives),
                               list(questions))
        self.cause_position = cause_position
        self.generations += 1

    def outdated_by(self, lesson_hash: str, cause_position: int) -> bool:
        """Does the lesson event at `cause_position` outdate the draft? Not when discarded,
        already seen (a redelivery: the position is the consumer's checkpoint, recorded with
        its writes), or when the lesson's text is the one the draft was made from."""
        return (self.status != DISCARDED and cause_position > self.cause_position
                and lesson_hash != self.source_hash)

    def resumes(self, cause_position: int) -> bool:
        """Stale by this very event, and not yet regenerated (a run cut short)."""
        return self.status == STALE and cause_position == self.cause_position

    def go_stale(self, lesson_hash: str, cause_position: int) -> None:
        if self.outdated_by(lesson_hash, cause_position):
            self._go_stale(lesson_hash=lesson_hash, cause_position=cause_position)

    @event("WentStale")
    def _go_stale(self, lesson_hash: str, cause_position: int) -> None:
        self.status = STALE
        self.cause_position = cause_position

    def _check_open(self, doing: str) -> None:
        if self.status == STALE:
            raise Conflict(f"the lesson changed since this draft was made: cannot {doing} "
                           "it until it is regenerated", "enhancement.stale")
        if self.status == DISCARDED:
            raise Conflict(f"the draft was discarded: cannot {doing} it; generate again",
                           "enhancement.discarded")

    def edit(self, content: Content) -> None:
        self._check_open("edit")
        if content.as_dict() != self.content.as_dict():
            self._edit(summary=content.summary, summary_passages=list(content.summary_passages),
                       objectives=list(content.objectives), questions=list(content.questions))

    @event("Edited")
    def _edit(self, summary: str, summary_passages: list[int], objectives: list[dict[str, Any]],
              questions: list[dict[str, Any]]) -> None:
        self.status = DRAFT  # an accepted draft edited is to be accepted again
        self.content = Content(summary, list(summary_passages), list(objectives),
                               list(questions))

    def accept(self, lesson_hash: str, pass_mark: float, max_attempts: int) -> bool:
        """Accept the draft made from `lesson_hash` (the lesson's text now); False when it is
        accepted already as it is."""
        self._check_open("accept")
        if lesson_hash != self.source_hash:
            raise Conflict("the lesson changed since this draft was made: it is regenerated "
                           "shortly; accept that one", "enhancement.stale")
        if self.status == ACCEPTED:
            return False
        self._accept(quiz_id=quiz_id(self.id), source_hash=self.source_hash,
                     pass_mark=pass_mark, max_attempts=max_attempts)
        return True

    @event("Accepted")
    def _accept(self, quiz_id: UUID, source_hash: str, pass_mark: float,
                max_attempts: int) -> None:
        self.status = ACCEPTED
        self.accepted_hash = source_hash

    def discard(self, reason: str) -> None:
        if self.status != DISCARDED:
            self._discard(reason=reason)

    @event("Discarded")
    def _discard(self, reason: str) -> None:
        self.status = DISCARDED
