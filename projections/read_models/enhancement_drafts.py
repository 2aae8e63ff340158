"""enhancement_drafts: each lesson's study-material draft as its instructor reviews it
(docs/adr/0042): the content (summary, objectives, questions with their answers and
citations), its status (DRAFT, STALE, ACCEPTED, DISCARDED), the lesson text's hash it was
made from and, once accepted, the quiz it became. Reads the enhancement topic only; the
query API shows it to the course's instructor and admins (course_details says whose).
"""

from __future__ import annotations

import json
from typing import Any

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.enhancement_drafts (
    draft_id         uuid PRIMARY KEY,
    course_id        uuid NOT NULL,
    lesson_id        uuid NOT NULL,
    lesson_title     text NOT NULL,
    status           text NOT NULL,
    source_hash      text NOT NULL,
    provider         text NOT NULL,
    summary          text NOT NULL,
    summary_passages jsonb NOT NULL,
    objectives       jsonb NOT NULL,
    questions        jsonb NOT NULL,  -- with the answers: for the instructor only
    generations      int NOT NULL,
    last_reason      text NOT NULL,   -- requested, lesson_changed, edited, or why discarded
    stale_hash       text,            -- the lesson text's hash that outdated the draft
    quiz_id          uuid,            -- the quiz an acceptance made
    accepted_hash    text,            -- the lesson text the accepted quiz was made from
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_position    bigint NOT NULL
);
CREATE INDEX ON {s}.enhancement_drafts (course_id, lesson_id);
"""

CONTENT = ("summary = %(summary)s, summary_passages = %(summary_passages)s::jsonb,"
           " objectives = %(objectives)s::jsonb, questions = %(questions)s::jsonb")


def _update(name: str, assignments: str) -> Statement:
    return Statement(f"enhancement.{name}", "UPDATE {s}.enhancement_drafts SET " + assignments
                     + ", updated_at = %(at)s, last_position = %(pos)s WHERE draft_id = %(id)s")


DRAFTED = Statement("enhancement.drafted", """
INSERT INTO {s}.enhancement_drafts (draft_id, course_id, lesson_id, lesson_title, status,
    source_hash, provider, summary, summary_passages, objectives, questions, generations,
    last_reason, created_at, updated_at, last_position)
VALUES (%(id)s, %(course_id)s, %(lesson_id)s, %(lesson_title)s, 'DRAFT', %(source_hash)s,
    %(provider)s, %(summary)s, %(summary_passages)s::jsonb, %(objectives)s::jsonb,
    %(questions)s::jsonb, 1, 'requested', %(at)s, %(at)s, %(pos)s)
""")
REGENERATED = _update("regenerated", "status = 'DRAFT', source_hash = %(source_hash)s,"
                      " lesson_title = %(lesson_title)s, provider = %(provider)s,"
                      " stale_hash = NULL, generations = generations + 1,"
                      " last_reason = %(reason)s, " + CONTENT)
WENT_STALE = _update("went_stale", "status = 'STALE', stale_hash = %(lesson_hash)s")
EDITED = _update("edited", "status = 'DRAFT', last_reason = 'edited', " + CONTENT)
ACCEPTED = _update("accepted", "status = 'ACCEPTED', quiz_id = %(quiz_id)s,"
                   " accepted_hash = %(source_hash)s")
DISCARDED = _update("discarded", "status = 'DISCARDED', last_reason = %(reason)s")


def _content(p: dict[str, Any]) -> dict[str, Any]:
    return {"summary": p["summary"],
            "summary_passages": json.dumps(list(p["summary_passages"])),
            "objectives": json.dumps(p["objectives"], sort_keys=True),
            "questions": json.dumps(p["questions"], sort_keys=True)}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    match kind:
        case "enhancement.drafted":
            return [Change(DRAFTED, {
                **base, "course_id": uuid(p, "course_id"), "lesson_id": uuid(p, "lesson_id"),
                "lesson_title": p["lesson_title"], "source_hash": p["source_hash"],
                "provider": p["provider"], **_content(p)})]
        case "enhancement.regenerated":
            return [Change(REGENERATED, {
                **base, "source_hash": p["source_hash"], "lesson_title": p["lesson_title"],
                "provider": p["provider"], "reason": p["reason"], **_content(p)})]
        case "enhancement.went_stale":
            return [Change(WENT_STALE, {**base, "lesson_hash": p["lesson_hash"]})]
        case "enhancement.edited":
            return [Change(EDITED, {**base, **_content(p)})]
        case "enhancement.accepted":
            return [Change(ACCEPTED, {**base, "quiz_id": uuid(p, "quiz_id"),
                                      "source_hash": p["source_hash"]})]
        case "enhancement.discarded":
            return [Change(DISCARDED, {**base, "reason": p["reason"]})]
    return []


PROJECTION = Projection(
    name="enhancement_drafts", aggregate_types=("enhancement",), ddl=DDL,
    views=("enhancement_drafts",), fold=fold,
)
