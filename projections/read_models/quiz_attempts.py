"""quiz_attempts: each student's graded quiz attempts, and per quiz the score that counts.

It reads the enrollment topic only. The helper `quiz_enrollments` remembers whose enrollment
an attempt belongs to (from `enrollment.created`, earlier in the same partition), so the
query API shows a student their own attempts only. `quiz_results` keeps, per (enrollment,
quiz), the score the course's policy counts (`enrollment.quiz_scored`), the attempts made
and whether any passed.
"""

from __future__ import annotations

import json

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.quiz_enrollments (
    enrollment_id uuid PRIMARY KEY,
    course_id     uuid NOT NULL,
    student_id    uuid NOT NULL
);
CREATE TABLE {s}.quiz_attempts (
    enrollment_id uuid NOT NULL,
    quiz_id       uuid NOT NULL,
    attempt       int NOT NULL,
    course_id     uuid NOT NULL,
    student_id    uuid NOT NULL,
    score         double precision NOT NULL,
    max_score     double precision NOT NULL,
    passed        boolean NOT NULL,
    answers       jsonb NOT NULL,
    attempted_at  timestamptz NOT NULL,
    last_position bigint NOT NULL,
    PRIMARY KEY (enrollment_id, quiz_id, attempt)
);
CREATE TABLE {s}.quiz_results (
    enrollment_id uuid NOT NULL,
    quiz_id       uuid NOT NULL,
    course_id     uuid NOT NULL,
    student_id    uuid NOT NULL,
    score         double precision,  -- the score that counts (best or last), null before any
    max_score     double precision,
    attempts      int NOT NULL,
    passed        boolean NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (enrollment_id, quiz_id)
);
CREATE INDEX ON {s}.quiz_results (course_id, quiz_id);
"""

ENROLLED = Statement("quiz.enrolled", """
INSERT INTO {s}.quiz_enrollments (enrollment_id, course_id, student_id)
VALUES (%(id)s, %(course_id)s, %(student_id)s)
""")
ATTEMPTED = Statement("quiz.attempted", """
WITH attempt AS (
    INSERT INTO {s}.quiz_attempts (enrollment_id, quiz_id, attempt, course_id, student_id,
        score, max_score, passed, answers, attempted_at, last_position)
    SELECT e.enrollment_id, %(quiz_id)s, %(attempt)s, e.course_id, e.student_id, %(score)s,
        %(max_score)s, %(passed)s, %(answers)s::jsonb, %(at)s, %(pos)s
    FROM {s}.quiz_enrollments e WHERE e.enrollment_id = %(id)s)
INSERT INTO {s}.quiz_results AS r (enrollment_id, quiz_id, course_id, student_id, attempts,
    passed, updated_at)
SELECT e.enrollment_id, %(quiz_id)s, e.course_id, e.student_id, %(attempt)s, %(passed)s, %(at)s
FROM {s}.quiz_enrollments e WHERE e.enrollment_id = %(id)s
ON CONFLICT (enrollment_id, quiz_id) DO UPDATE SET attempts = EXCLUDED.attempts,
    passed = r.passed OR EXCLUDED.passed, updated_at = EXCLUDED.updated_at
""")
SCORED = Statement("quiz.scored", """
UPDATE {s}.quiz_results SET score = %(score)s, max_score = %(max_score)s, updated_at = %(at)s
WHERE enrollment_id = %(id)s AND quiz_id = %(quiz_id)s
""")


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    match kind:
        case "enrollment.created":
            return [Change(ENROLLED, {**base, "course_id": uuid(p, "course_id"),
                                      "student_id": uuid(p, "student_id")})]
        case "enrollment.quiz_attempted":
            return [Change(ATTEMPTED, {
                **base, "quiz_id": uuid(p, "quiz_id"), "attempt": p["attempt"],
                "score": float(p["score"]), "max_score": float(p["max_score"]),
                "passed": bool(p["passed"]),
                "answers": json.dumps(p["answers"], sort_keys=True)})]
        case "enrollment.quiz_scored":
            return [Change(SCORED, {**base, "quiz_id": uuid(p, "quiz_id"),
                                    "score": float(p["score"]),
                                    "max_score": float(p["max_score"])})]
    return []


PROJECTION = Projection(
    name="quiz_attempts", aggregate_types=("enrollment",), ddl=DDL,
    views=("quiz_attempts", "quiz_results", "quiz_enrollments"), fold=fold,
)
