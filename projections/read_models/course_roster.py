"""course_roster: an instructor's view of a course's students and their progress.

It reads the enrollment topic only, so each row has one writer. Progress counts are the ones
the enrollment recorded (`enrollment.progressed`); `quiz_average` is the mean of each quiz's
latest score as a percentage of its maximum (0-100, two decimals), kept per quiz in the helper
`roster_quiz_scores`.
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.course_roster (
    enrollment_id    uuid PRIMARY KEY,
    course_id        uuid NOT NULL,
    student_id       uuid NOT NULL,
    state            text NOT NULL,
    completed_count  int NOT NULL,
    total_lessons    int NOT NULL,
    progress_percent numeric(5, 2) GENERATED ALWAYS AS (
        CASE WHEN total_lessons = 0 THEN 0
             ELSE round(100.0 * completed_count / total_lessons, 2) END) STORED,
    quiz_average     numeric(5, 2),
    enrolled_at      timestamptz NOT NULL,
    completed_at     timestamptz,
    updated_at       timestamptz NOT NULL,
    last_position    bigint NOT NULL
);
CREATE INDEX ON {s}.course_roster (course_id, enrolled_at, enrollment_id);
CREATE TABLE {s}.roster_quiz_scores (
    enrollment_id uuid NOT NULL,
    quiz_id       uuid NOT NULL,
    percent       numeric NOT NULL,
    PRIMARY KEY (enrollment_id, quiz_id)
);
"""


def _update(name: str, assignments: str) -> Statement:
    return Statement(f"roster.{name}", "UPDATE {s}.course_roster SET " + assignments
                     + ", updated_at = %(at)s, last_position = %(pos)s"
                       " WHERE enrollment_id = %(id)s")


CREATED = Statement("roster.created", """
INSERT INTO {s}.course_roster (enrollment_id, course_id, student_id, state, completed_count,
    total_lessons, enrolled_at, updated_at, last_position)
VALUES (%(id)s, %(course_id)s, %(student_id)s, 'PENDING', 0, 0, %(at)s, %(at)s, %(pos)s)
""")
STATE = _update("state", "state = %(state)s")
COMPLETED = _update("completed", "state = 'COMPLETED', completed_at = %(at)s")
PROGRESSED = _update("progressed", "completed_count = %(completed_count)s,"
                     " total_lessons = %(total_lessons)s")
# The new score is folded into the average in the same statement that stores it (a statement
# does not see its own CTE's writes, hence the UNION with the new value).
QUIZ_SCORED = Statement("roster.quiz_scored", """
WITH score AS (
    SELECT round(%(score)s::numeric / %(max_score)s::numeric * 100, 4) AS percent
), saved AS (
    INSERT INTO {s}.roster_quiz_scores (enrollment_id, quiz_id, percent)
    SELECT %(id)s, %(quiz_id)s, percent FROM score
    ON CONFLICT (enrollment_id, quiz_id) DO UPDATE SET percent = excluded.percent)
UPDATE {s}.course_roster SET quiz_average = (
        SELECT round(avg(percent), 2) FROM (
            SELECT percent FROM {s}.roster_quiz_scores
            WHERE enrollment_id = %(id)s AND quiz_id <> %(quiz_id)s
            UNION ALL SELECT percent FROM score) AS scores),
    updated_at = %(at)s, last_position = %(pos)s
WHERE enrollment_id = %(id)s
""")

STATE_OF = {"enrollment.activated": "ACTIVE", "enrollment.cancelled": "CANCELLED"}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    if kind == "enrollment.created":
        return [Change(CREATED, {**base, "course_id": uuid(p, "course_id"),
                                 "student_id": uuid(p, "student_id")})]
    if kind in STATE_OF:
        return [Change(STATE, {**base, "state": STATE_OF[kind]})]
    if kind == "enrollment.completed":
        return [Change(COMPLETED, base)]
    if kind == "enrollment.progressed":
        return [Change(PROGRESSED, {**base, "completed_count": p["completed_count"],
                                    "total_lessons": p["total_lessons"]})]
    if kind == "enrollment.quiz_scored":
        return [Change(QUIZ_SCORED, {**base, "quiz_id": uuid(p, "quiz_id"),
                                     "score": float(p["score"]),
                                     "max_score": float(p["max_score"])})]
    return []


PROJECTION = Projection(
    name="course_roster", aggregate_types=("enrollment",), ddl=DDL, views=("course_roster",),
    fold=fold,
)
