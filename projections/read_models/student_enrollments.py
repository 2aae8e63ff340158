"""student_enrollments: a student's courses, with progress and the next lesson to take.

The enrollment writes its own columns (state, completed lessons, dates); the course supplies
the title and the lesson order, kept in the helpers `student_courses` and
`student_course_lessons`. Live, the two topics interleave in any order; on a replay they come
in global order. So the derived columns (course title, counts, next lesson) are recomputed
from both sides whenever either changes, and end the same in every order. For the same reason
`updated_at`/`last_position` record the enrollment's own events only: which rows a course
event reaches depends on which enrollments exist at that moment.
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, index, touch, uuid, uuids

DDL = """
CREATE TABLE {s}.student_enrollments (
    enrollment_id     uuid PRIMARY KEY,
    student_id        uuid NOT NULL,
    course_id         uuid NOT NULL,
    course_title      text,  -- null while the course's own events have not arrived
    state             text NOT NULL,
    completed_lessons uuid[] NOT NULL,
    completed_count   int NOT NULL,  -- of the course's current lessons
    total_lessons     int NOT NULL,
    progress_percent  numeric(5, 2) GENERATED ALWAYS AS (
        CASE WHEN total_lessons = 0 THEN 0
             ELSE round(100.0 * completed_count / total_lessons, 2) END) STORED,
    next_lesson_id    uuid,
    next_lesson_title text,
    enrolled_at       timestamptz NOT NULL,
    completed_at      timestamptz,
    updated_at        timestamptz NOT NULL,
    last_position     bigint NOT NULL
);
CREATE INDEX ON {s}.student_enrollments (student_id, enrolled_at, enrollment_id);
CREATE INDEX ON {s}.student_enrollments (course_id);
ALTER TABLE {s}.student_enrollments SET (fillfactor = 80);  -- room for HOT updates
CREATE TABLE {s}.student_courses (
    course_id uuid PRIMARY KEY,
    title     text NOT NULL,
    modules   uuid[] NOT NULL  -- in course order
);
CREATE TABLE {s}.student_course_lessons (
    course_id    uuid NOT NULL,
    lesson_id    uuid NOT NULL,
    module_id    uuid NOT NULL,
    title        text NOT NULL,
    module_index int NOT NULL,
    lesson_index int NOT NULL,
    PRIMARY KEY (course_id, lesson_id)
);
CREATE INDEX ON {s}.student_course_lessons (course_id, module_index, lesson_index, lesson_id);
"""

ORDER = "ORDER BY l.module_index, l.lesson_index, l.lesson_id"


def _derived(done: str) -> str:
    """Counts and next lesson of enrollment `e`, given the expression of its done lessons."""
    return f"""(completed_count, total_lessons) = (
        SELECT count(*) FILTER (WHERE l.lesson_id = ANY({done})), count(*)
        FROM {{s}}.student_course_lessons l WHERE l.course_id = e.course_id),
    (next_lesson_id, next_lesson_title) = (
        SELECT l.lesson_id, l.title FROM {{s}}.student_course_lessons l
        WHERE l.course_id = e.course_id AND NOT l.lesson_id = ANY({done}) {ORDER} LIMIT 1)"""


OWN = "updated_at = %(at)s, last_position = %(pos)s"

LESSONS_OF = """(
    SELECT count(*) AS total, (array_agg(l.lesson_id """ + ORDER + """))[1] AS next_id,
           (array_agg(l.title """ + ORDER + """))[1] AS next_title
    FROM {s}.student_course_lessons l WHERE l.course_id = %(course_id)s)"""
ENROLLED = Statement("student.enrolled", """
INSERT INTO {s}.student_enrollments (enrollment_id, student_id, course_id, course_title, state,
    completed_lessons, completed_count, total_lessons, next_lesson_id, next_lesson_title,
    enrolled_at, updated_at, last_position)
SELECT %(id)s, %(student_id)s, %(course_id)s,
    (SELECT title FROM {s}.student_courses WHERE course_id = %(course_id)s),
    'PENDING', '{}', 0, d.total, d.next_id, d.next_title, %(at)s, %(at)s, %(pos)s
FROM """ + LESSONS_OF + """ AS d
""")
STATE = Statement("student.state", "UPDATE {s}.student_enrollments SET state = %(state)s, "
                  + OWN + " WHERE enrollment_id = %(id)s")
COMPLETED = Statement("student.completed", "UPDATE {s}.student_enrollments SET"
                      " state = 'COMPLETED', completed_at = %(at)s, " + OWN
                      + " WHERE enrollment_id = %(id)s")
PROGRESSED = Statement("student.progressed", """
UPDATE {s}.student_enrollments e SET
    completed_lessons = e.completed_lessons || %(lesson_id)s::uuid, """
                       + _derived("e.completed_lessons || %(lesson_id)s::uuid") + ", " + OWN
                       + " WHERE e.enrollment_id = %(id)s")

# -- course side: helpers, then the enrollments of the course ------------------------------
COURSE_CREATED = Statement("student.course_created", """
WITH helper AS (
    INSERT INTO {s}.student_courses (course_id, title, modules) VALUES (%(id)s, %(title)s, '{}'))
UPDATE {s}.student_enrollments SET course_title = %(title)s WHERE course_id = %(id)s
""")
COURSE_RENAMED = Statement("student.course_renamed", """
WITH helper AS (UPDATE {s}.student_courses SET title = %(title)s WHERE course_id = %(id)s)
UPDATE {s}.student_enrollments SET course_title = %(title)s WHERE course_id = %(id)s
""")
MODULE_ADDED = Statement("student.module_added", """
UPDATE {s}.student_courses SET modules = modules || %(module_id)s::uuid WHERE course_id = %(id)s
""")
LESSON_ADDED = Statement("student.lesson_added", """
INSERT INTO {s}.student_course_lessons (course_id, lesson_id, module_id, title, module_index,
    lesson_index)
SELECT %(id)s, %(lesson_id)s, %(module_id)s, %(title)s,
    array_position(c.modules, %(module_id)s::uuid) - 1, %(index)s
FROM {s}.student_courses c WHERE c.course_id = %(id)s
""")
LESSON_REMOVED = Statement("student.lesson_removed", """
WITH gone AS (
    DELETE FROM {s}.student_course_lessons WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
    RETURNING module_id, lesson_index)
UPDATE {s}.student_course_lessons l SET lesson_index = l.lesson_index - 1
FROM gone WHERE l.course_id = %(id)s AND l.module_id = gone.module_id
    AND l.lesson_index > gone.lesson_index
""")
# Most revisions change a lesson's content, not its title: rows whose title is already right
# are left alone (rewriting every enrollment waiting on that lesson made a course's revisions
# cost as many row versions as it has students).
LESSON_RENAMED = Statement("student.lesson_renamed", """
WITH helper AS (
    UPDATE {s}.student_course_lessons SET title = %(title)s
    WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
      AND title IS DISTINCT FROM %(title)s)
UPDATE {s}.student_enrollments SET next_lesson_title = %(title)s
WHERE course_id = %(id)s AND next_lesson_id = %(lesson_id)s
  AND next_lesson_title IS DISTINCT FROM %(title)s
""")
MODULE_ORDER = Statement("student.module_order", """
WITH helper AS (UPDATE {s}.student_courses SET modules = %(module_ids)s::uuid[]
                WHERE course_id = %(id)s)
UPDATE {s}.student_course_lessons
SET module_index = array_position(%(module_ids)s::uuid[], module_id) - 1
WHERE course_id = %(id)s AND module_id = ANY(%(module_ids)s::uuid[])
""")
MODULE_LESSONS_REMOVED = Statement("student.module_lessons_removed", """
DELETE FROM {s}.student_course_lessons WHERE course_id = %(id)s AND module_id = %(module_id)s
""")
LESSON_ORDER = Statement("student.lesson_order", """
UPDATE {s}.student_course_lessons l SET module_id = %(module_id)s,
    module_index = array_position(c.modules, %(module_id)s::uuid) - 1,
    lesson_index = array_position(%(lesson_ids)s::uuid[], l.lesson_id) - 1
FROM {s}.student_courses c
WHERE l.course_id = %(id)s AND l.lesson_id = ANY(%(lesson_ids)s::uuid[])
  AND c.course_id = %(id)s
""")
RECOMPUTE_COURSE = Statement("student.recompute_course", "UPDATE {s}.student_enrollments e SET "
                             + _derived("e.completed_lessons") + " WHERE e.course_id = %(id)s")

STATE_OF = {"enrollment.activated": "ACTIVE", "enrollment.cancelled": "CANCELLED"}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    course = {"id": event.aggregate_id}  # course events leave the enrollments' own times
    match kind:
        case "enrollment.created":
            return [Change(ENROLLED, {**base, "course_id": uuid(p, "course_id"),
                                      "student_id": uuid(p, "student_id")})]
        case "enrollment.completed":
            return [Change(COMPLETED, base)]
        case "enrollment.progressed":
            return [Change(PROGRESSED, {**base, "lesson_id": uuid(p, "lesson_id")})]
        case "course.created":
            return [Change(COURSE_CREATED, {**course, "title": p["title"]})]
        case "course.details_revised":
            return [Change(COURSE_RENAMED, {**course, "title": p["title"]})]
        case "course.module_added":
            return [Change(MODULE_ADDED, {**course, "module_id": uuid(p, "module_id")})]
        case "course.lesson_added":
            return [Change(LESSON_ADDED, {**course, "lesson_id": uuid(p, "lesson_id"),
                                          "module_id": uuid(p, "module_id"),
                                          "title": p["title"], "index": index(p)}),
                    Change(RECOMPUTE_COURSE, course)]
        case "course.lesson_removed":
            return [Change(LESSON_REMOVED, {**course, "lesson_id": uuid(p, "lesson_id")}),
                    Change(RECOMPUTE_COURSE, course)]
        case "course.module_removed":
            return [Change(MODULE_LESSONS_REMOVED, {**course, "module_id": uuid(p, "module_id")}),
                    Change(MODULE_ORDER, {**course, "module_ids": uuids(p["module_ids"])}),
                    Change(RECOMPUTE_COURSE, course)]
        case "course.modules_reordered":
            return [Change(MODULE_ORDER, {**course, "module_ids": uuids(p["module_ids"])}),
                    Change(RECOMPUTE_COURSE, course)]
        case "course.lesson_moved":
            return [Change(LESSON_ORDER, {**course, "module_id": uuid(p, "from_module_id"),
                                          "lesson_ids": uuids(p["from_lesson_ids"])}),
                    Change(LESSON_ORDER, {**course, "module_id": uuid(p, "module_id"),
                                          "lesson_ids": uuids(p["lesson_ids"])}),
                    Change(RECOMPUTE_COURSE, course)]
        case "course.lesson_revised":
            return [Change(LESSON_RENAMED, {**course, "lesson_id": uuid(p, "lesson_id"),
                                            "title": p["title"]})]
    if kind in STATE_OF:
        return [Change(STATE, {**base, "state": STATE_OF[kind]})]
    return []  # quizzes, seats, publishing and the like do not show here


PROJECTION = Projection(
    name="student_enrollments", aggregate_types=("course", "enrollment"), ddl=DDL,
    views=("student_enrollments",), fold=fold,
)
