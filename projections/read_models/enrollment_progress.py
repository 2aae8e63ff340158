"""enrollment_progress: each lesson of an enrollment, NOT_STARTED until completed, and the
enrollment workflow's step (the status the query API shows while it runs).

The lessons are the ones the enrollment workflow initialised (the course's lessons when the
enrollment began); a lesson completed later that was added to the course since shows too.
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.enrollment_progress (
    enrollment_id uuid PRIMARY KEY,
    step          text NOT NULL,  -- RECORDED, PROGRESS_INITIALISED, ACTIVE, COMPLETED, CANCELLED
    total_lessons int NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_position bigint NOT NULL
);
CREATE TABLE {s}.enrollment_lessons (
    enrollment_id uuid NOT NULL,
    lesson_id     uuid NOT NULL,
    ordinal       int NOT NULL,
    status        text NOT NULL,  -- NOT_STARTED | COMPLETED
    completed_at  timestamptz,
    PRIMARY KEY (enrollment_id, lesson_id)
);
"""
RECORDED = Statement("progress.recorded", """
INSERT INTO {s}.enrollment_progress VALUES (%(id)s, 'RECORDED', 0, %(at)s, %(pos)s)
""")
STEP = Statement("progress.step", """
UPDATE {s}.enrollment_progress SET step = %(step)s, updated_at = %(at)s, last_position = %(pos)s
WHERE enrollment_id = %(id)s
""")
INITIALISED = Statement("progress.initialised", """
WITH head AS (
    UPDATE {s}.enrollment_progress SET step = 'PROGRESS_INITIALISED',
        total_lessons = %(total)s, updated_at = %(at)s, last_position = %(pos)s
    WHERE enrollment_id = %(id)s)
INSERT INTO {s}.enrollment_lessons (enrollment_id, lesson_id, ordinal, status)
SELECT %(id)s, lesson, ordinal - 1, 'NOT_STARTED'
FROM unnest(%(lessons)s::uuid[]) WITH ORDINALITY AS l(lesson, ordinal)
ON CONFLICT (enrollment_id, lesson_id) DO NOTHING
""")
LESSON_DONE = Statement("progress.lesson_done", """
WITH head AS (
    UPDATE {s}.enrollment_progress SET updated_at = %(at)s, last_position = %(pos)s
    WHERE enrollment_id = %(id)s)
INSERT INTO {s}.enrollment_lessons (enrollment_id, lesson_id, ordinal, status, completed_at)
VALUES (%(id)s, %(lesson_id)s, 1000000, 'COMPLETED', %(at)s)
ON CONFLICT (enrollment_id, lesson_id) DO UPDATE SET status = 'COMPLETED', completed_at = %(at)s
""")
STEPS = {"enrollment.activated": "ACTIVE", "enrollment.completed": "COMPLETED",
         "enrollment.cancelled": "CANCELLED"}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    if kind == "enrollment.created":
        return [Change(RECORDED, base)]
    if kind == "enrollment.progress_initialised":
        return [Change(INITIALISED, {**base, "total": p["total_lessons"],
                                     "lessons": [str(x) for x in p["lesson_ids"]]})]
    if kind == "enrollment.progressed":
        return [Change(LESSON_DONE, {**base, "lesson_id": uuid(p, "lesson_id")})]
    if kind in STEPS:
        return [Change(STEP, {**base, "step": STEPS[kind]})]
    return []


PROJECTION = Projection(name="enrollment_progress", aggregate_types=("enrollment",), ddl=DDL,
                        views=("enrollment_progress", "enrollment_lessons"), fold=fold)
