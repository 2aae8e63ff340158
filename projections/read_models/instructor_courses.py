"""instructor_courses: an instructor's dashboard, one row per course with enrollment counts.

Two aggregate types write each row (the course its details, its enrollments the counts) and
their topics interleave in any order live, but in global order on a replay. So each column
has one owner, every statement is an upsert that touches only its own columns, and
`updated_at`/`last_position` take the greatest value seen: the row ends the same whichever
topic runs ahead. The helper `instructor_enrollments` remembers each enrollment's course and
state, so a transition moves one count to another; `completion_rate` is a generated column.
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.instructor_courses (
    course_id        uuid PRIMARY KEY,
    instructor_id    uuid,  -- these four are null while only enrollment events have arrived
    title            text,
    status           text,
    capacity         int,
    enrollment_count int NOT NULL DEFAULT 0,  -- created and not cancelled
    active_count     int NOT NULL DEFAULT 0,
    completed_count  int NOT NULL DEFAULT 0,
    cancelled_count  int NOT NULL DEFAULT 0,
    completion_rate  numeric GENERATED ALWAYS AS (
        CASE WHEN enrollment_count + cancelled_count = 0 THEN 0
             ELSE round(completed_count::numeric / (enrollment_count + cancelled_count), 4)
        END) STORED,
    updated_at       timestamptz NOT NULL,
    last_position    bigint NOT NULL
);
CREATE INDEX ON {s}.instructor_courses (instructor_id, course_id);
CREATE TABLE {s}.instructor_enrollments (
    enrollment_id uuid PRIMARY KEY,
    course_id     uuid NOT NULL,
    state         text NOT NULL
);
"""

LATEST = ("updated_at = greatest(c.updated_at, %(at)s),"
          " last_position = greatest(c.last_position, %(pos)s)")

COURSE_CREATED = Statement("instructor.course_created", """
INSERT INTO {s}.instructor_courses AS c (course_id, instructor_id, title, status, capacity,
    updated_at, last_position)
VALUES (%(id)s, %(instructor_id)s, %(title)s, 'DRAFT', %(capacity)s, %(at)s, %(pos)s)
ON CONFLICT (course_id) DO UPDATE SET instructor_id = excluded.instructor_id,
    title = excluded.title, status = excluded.status, capacity = excluded.capacity, """ + LATEST)


def _course(name: str, assignments: str) -> Statement:
    return Statement(f"instructor.{name}", "UPDATE {s}.instructor_courses c SET "
                     + assignments + ", " + LATEST + " WHERE c.course_id = %(id)s")


TITLE = _course("title", "title = %(title)s")
CAPACITY = _course("capacity", "capacity = %(capacity)s")
PUBLISHED = _course("published", "status = CASE c.status WHEN 'READY' THEN 'READY'"
                    " ELSE 'PUBLISHED' END")
STATUS = _course("status", "status = %(status)s")
# Only a never-published draft is deleted: it has no enrollments to count.
DELETED = Statement("instructor.deleted",
                    "DELETE FROM {s}.instructor_courses WHERE course_id = %(id)s")
ENROLLED = Statement("instructor.enrolled", """
WITH helper AS (
    INSERT INTO {s}.instructor_enrollments (enrollment_id, course_id, state)
    VALUES (%(id)s, %(course_id)s, 'PENDING'))
INSERT INTO {s}.instructor_courses AS c (course_id, enrollment_count, updated_at, last_position)
VALUES (%(course_id)s, 1, %(at)s, %(pos)s)
ON CONFLICT (course_id) DO UPDATE SET enrollment_count = c.enrollment_count + 1, """ + LATEST)
MOVED = Statement("instructor.moved", """
WITH prev AS (
    SELECT course_id, state FROM {s}.instructor_enrollments WHERE enrollment_id = %(id)s
), helper AS (
    UPDATE {s}.instructor_enrollments SET state = %(state)s::text WHERE enrollment_id = %(id)s)
UPDATE {s}.instructor_courses c SET
    enrollment_count = c.enrollment_count
        - (%(state)s::text = 'CANCELLED' AND prev.state <> 'CANCELLED')::int,
    active_count = c.active_count + (%(state)s::text = 'ACTIVE')::int
        - (prev.state = 'ACTIVE')::int,
    completed_count = c.completed_count + (%(state)s::text = 'COMPLETED')::int
        - (prev.state = 'COMPLETED')::int,
    cancelled_count = c.cancelled_count + (%(state)s::text = 'CANCELLED')::int
        - (prev.state = 'CANCELLED')::int,
    """ + LATEST + """
FROM prev WHERE c.course_id = prev.course_id
""")

COURSE_STATUS = {"course.ready": "READY", "course.reverted_to_draft": "DRAFT",
                 "course.archived": "ARCHIVED"}
ENROLLMENT_STATE = {"enrollment.activated": "ACTIVE", "enrollment.completed": "COMPLETED",
                    "enrollment.cancelled": "CANCELLED"}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    if kind == "course.created":
        return [Change(COURSE_CREATED, {**base, "instructor_id": uuid(p, "instructor_id"),
                                        "title": p["title"], "capacity": p["capacity"]})]
    if kind == "course.details_revised":
        return [Change(TITLE, {**base, "title": p["title"]})]
    if kind == "course.capacity_changed":
        return [Change(CAPACITY, {**base, "capacity": p["capacity"]})]
    if kind == "course.published":
        return [Change(PUBLISHED, base)]
    if kind in COURSE_STATUS:
        return [Change(STATUS, {**base, "status": COURSE_STATUS[kind]})]
    if kind == "course.restored":
        return [Change(STATUS, {**base, "status": p["status"]})]
    if kind == "course.deleted":
        return [Change(DELETED, base)]
    if kind == "enrollment.created":
        return [Change(ENROLLED, {**base, "course_id": uuid(p, "course_id")})]
    if kind in ENROLLMENT_STATE:
        return [Change(MOVED, {**base, "state": ENROLLMENT_STATE[kind]})]
    return []  # content, seats, progress and quizzes: not counted here


PROJECTION = Projection(
    name="instructor_courses", aggregate_types=("course", "enrollment"), ddl=DDL,
    views=("instructor_courses",), fold=fold,
)
