"""course_detail: a course's page: its details, modules and lessons in course order.

Lesson indexes stay dense within a module (a removal closes the gap), which is exactly the
index the aggregate gives the next lesson it adds, so (module_index, lesson_index) is the
course's own order. Every content event touches `course_details.updated_at`; seat events do
not (they change nothing shown here).
"""

from __future__ import annotations

import json

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, index, touch, uuid, uuids

DDL = """
CREATE TABLE {s}.course_details (
    course_id       uuid PRIMARY KEY,
    instructor_id   uuid NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL,
    tags            text[] NOT NULL,
    status          text NOT NULL,
    content_version int NOT NULL,
    ready_version   int NOT NULL,
    capacity        int NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint NOT NULL,
    prerequisites   uuid[] NOT NULL,
    score_policy    text NOT NULL DEFAULT 'best',
    require_passing_quizzes boolean NOT NULL DEFAULT false,
    starts_at       timestamptz  -- null: no start date
);
CREATE INDEX ON {s}.course_details (instructor_id);
CREATE TABLE {s}.course_modules (
    course_id    uuid NOT NULL,
    module_id    uuid NOT NULL,
    title        text NOT NULL,
    module_index int NOT NULL,
    PRIMARY KEY (course_id, module_id)
);
CREATE TABLE {s}.course_lessons (
    course_id      uuid NOT NULL,
    lesson_id      uuid NOT NULL,
    module_id      uuid NOT NULL,
    title          text NOT NULL,
    module_index   int NOT NULL,
    lesson_index   int NOT NULL,
    content_length int NOT NULL,
    assets         jsonb NOT NULL,
    updated_at     timestamptz NOT NULL,
    content        text NOT NULL DEFAULT '',
    files          jsonb NOT NULL DEFAULT '[]',  -- stored assets (bytes in the object store)
    PRIMARY KEY (course_id, lesson_id)
);
CREATE INDEX ON {s}.course_lessons (course_id, module_index, lesson_index);
-- Each published content version's lessons, as they were when published: students read
-- the published version while the next one is drafted, and versions can be compared.
CREATE TABLE {s}.course_version_lessons (
    course_id       uuid NOT NULL,
    content_version int NOT NULL,
    lesson_id       uuid NOT NULL,
    module_id       uuid NOT NULL,
    module_title    text NOT NULL,
    title           text NOT NULL,
    module_index    int NOT NULL,
    lesson_index    int NOT NULL,
    content         text NOT NULL,
    assets          jsonb NOT NULL,
    published_at    timestamptz NOT NULL,
    files           jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (course_id, content_version, lesson_id)
);
CREATE TABLE {s}.course_quizzes (
    course_id    uuid NOT NULL,
    quiz_id      uuid NOT NULL,
    title        text NOT NULL,
    lesson_id    uuid,
    module_id    uuid,
    pass_mark    double precision NOT NULL,
    max_attempts int NOT NULL,
    questions    jsonb NOT NULL,  -- with the answers: the query API hides them from students
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (course_id, quiz_id)
);
"""

TOUCHED = ("WITH touched AS (UPDATE {s}.course_details SET updated_at = %(at)s,"
           " last_position = %(pos)s WHERE course_id = %(id)s) ")


def _update(name: str, assignments: str) -> Statement:
    return Statement(f"detail.{name}", "UPDATE {s}.course_details SET " + assignments
                     + ", updated_at = %(at)s, last_position = %(pos)s WHERE course_id = %(id)s")


CREATED = Statement("detail.created", """
INSERT INTO {s}.course_details (course_id, instructor_id, title, description, tags, status,
    content_version, ready_version, capacity, updated_at, last_position, prerequisites,
    starts_at)
VALUES (%(id)s, %(instructor_id)s, %(title)s, %(description)s, %(tags)s, 'DRAFT', 0, 0,
    %(capacity)s, %(at)s, %(pos)s, %(prerequisites)s, %(starts_at)s)
""")
DETAILS_REVISED = _update(
    "details_revised", "title = %(title)s, description = %(description)s, tags = %(tags)s")
CAPACITY_CHANGED = _update("capacity_changed", "capacity = %(capacity)s")
START_CHANGED = _update("start_date_changed", "starts_at = %(starts_at)s")
PREREQUISITES_SET = _update("prerequisites_set", "prerequisites = %(prerequisites)s")
PUBLISHED = _update("published", "status = CASE status WHEN 'READY' THEN 'READY'"
                    " ELSE 'PUBLISHED' END, content_version = %(content_version)s")
# The version rule applies each event once, in the course's own order, so the snapshot is
# the lessons as they stood at this publish, live and on a replay alike.
SNAPSHOT = Statement("detail.snapshot", """
INSERT INTO {s}.course_version_lessons (course_id, content_version, lesson_id, module_id,
    module_title, title, module_index, lesson_index, content, assets, published_at, files)
SELECT l.course_id, %(content_version)s, l.lesson_id, l.module_id, m.title, l.title,
    l.module_index, l.lesson_index, l.content, l.assets, %(at)s, l.files
FROM {s}.course_lessons l
JOIN {s}.course_modules m ON m.course_id = l.course_id AND m.module_id = l.module_id
WHERE l.course_id = %(id)s
ON CONFLICT DO NOTHING
""")
READY = _update("ready", "status = 'READY', ready_version = %(content_version)s")
STATUS = _update("status", "status = %(status)s")
MODULE_ADDED = Statement("detail.module_added", TOUCHED + """
INSERT INTO {s}.course_modules (course_id, module_id, title, module_index)
VALUES (%(id)s, %(module_id)s, %(title)s, %(index)s)
""")
LESSON_ADDED = Statement("detail.lesson_added", TOUCHED + """
INSERT INTO {s}.course_lessons (course_id, lesson_id, module_id, title, module_index,
    lesson_index, content_length, assets, updated_at, content)
SELECT %(id)s, %(lesson_id)s, %(module_id)s, %(title)s, m.module_index, %(index)s,
    %(content_length)s, %(assets)s::jsonb, %(at)s, %(content)s
FROM {s}.course_modules m WHERE m.course_id = %(id)s AND m.module_id = %(module_id)s
""")
LESSON_REVISED = Statement("detail.lesson_revised", TOUCHED + """
UPDATE {s}.course_lessons SET title = %(title)s, content_length = %(content_length)s,
    content = %(content)s, updated_at = %(at)s
WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
""")
LESSON_REMOVED = Statement("detail.lesson_removed", TOUCHED + """
, gone AS (DELETE FROM {s}.course_lessons WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
           RETURNING module_id, lesson_index)
UPDATE {s}.course_lessons l SET lesson_index = l.lesson_index - 1
FROM gone WHERE l.course_id = %(id)s AND l.module_id = gone.module_id
    AND l.lesson_index > gone.lesson_index
""")

MODULE_RENAMED = Statement("detail.module_renamed", TOUCHED + """
UPDATE {s}.course_modules SET title = %(title)s
WHERE course_id = %(id)s AND module_id = %(module_id)s
""")
MODULE_REMOVED = Statement("detail.module_removed", TOUCHED + """
, lessons AS (DELETE FROM {s}.course_lessons WHERE course_id = %(id)s
              AND module_id = %(module_id)s)
, quizzes AS (DELETE FROM {s}.course_quizzes WHERE course_id = %(id)s
              AND (module_id = %(module_id)s OR lesson_id = ANY(%(lesson_ids)s::uuid[])))
DELETE FROM {s}.course_modules WHERE course_id = %(id)s AND module_id = %(module_id)s
""")
# The events carry the resulting order, so indexes are set from it (dense by construction).
MODULE_ORDER = Statement("detail.module_order", TOUCHED + """
, modules AS (UPDATE {s}.course_modules
              SET module_index = array_position(%(module_ids)s::uuid[], module_id) - 1
              WHERE course_id = %(id)s AND module_id = ANY(%(module_ids)s::uuid[]))
UPDATE {s}.course_lessons SET module_index = array_position(%(module_ids)s::uuid[], module_id) - 1
WHERE course_id = %(id)s AND module_id = ANY(%(module_ids)s::uuid[])
""")
LESSON_ORDER = Statement("detail.lesson_order", TOUCHED + """
UPDATE {s}.course_lessons l SET module_id = %(module_id)s, module_index = m.module_index,
    lesson_index = array_position(%(lesson_ids)s::uuid[], l.lesson_id) - 1, updated_at = %(at)s
FROM {s}.course_modules m
WHERE l.course_id = %(id)s AND l.lesson_id = ANY(%(lesson_ids)s::uuid[])
  AND m.course_id = %(id)s AND m.module_id = %(module_id)s
""")
ASSETS_REVISED = Statement("detail.assets_revised", TOUCHED + """
UPDATE {s}.course_lessons SET assets = %(assets)s::jsonb, updated_at = %(at)s
WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
""")
# A stored asset replaces the lesson's file of the same asset id in place, else is appended.
FILE_STORED = Statement("detail.file_stored", TOUCHED + """
UPDATE {s}.course_lessons SET updated_at = %(at)s, files = CASE
    WHEN files @> %(match)s::jsonb THEN (
        SELECT jsonb_agg(CASE WHEN f->>'asset_id' = %(asset_id)s THEN %(file)s::jsonb ELSE f END
                         ORDER BY n)
        FROM jsonb_array_elements(files) WITH ORDINALITY AS e(f, n))
    ELSE files || jsonb_build_array(%(file)s::jsonb) END
WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
""")
FILE_REMOVED = Statement("detail.file_removed", TOUCHED + """
UPDATE {s}.course_lessons SET updated_at = %(at)s, files = coalesce((
    SELECT jsonb_agg(f ORDER BY n) FROM jsonb_array_elements(files) WITH ORDINALITY AS e(f, n)
    WHERE f->>'asset_id' <> %(asset_id)s), '[]'::jsonb)
WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
""")
LESSON_QUIZZES_REMOVED = Statement("detail.lesson_quizzes_removed", """
DELETE FROM {s}.course_quizzes WHERE course_id = %(id)s AND lesson_id = %(lesson_id)s
""")
QUIZ_SET = Statement("detail.quiz_set", TOUCHED + """
INSERT INTO {s}.course_quizzes (course_id, quiz_id, title, lesson_id, module_id, pass_mark,
    max_attempts, questions, updated_at)
VALUES (%(id)s, %(quiz_id)s, %(title)s, %(lesson_id)s, %(module_id)s, %(pass_mark)s,
    %(max_attempts)s, %(questions)s::jsonb, %(at)s)
ON CONFLICT (course_id, quiz_id) DO UPDATE SET title = EXCLUDED.title,
    lesson_id = EXCLUDED.lesson_id, module_id = EXCLUDED.module_id,
    pass_mark = EXCLUDED.pass_mark, max_attempts = EXCLUDED.max_attempts,
    questions = EXCLUDED.questions, updated_at = EXCLUDED.updated_at
""")
QUIZ_REMOVED = Statement("detail.quiz_removed", TOUCHED + """
DELETE FROM {s}.course_quizzes WHERE course_id = %(id)s AND quiz_id = %(quiz_id)s
""")
QUIZ_RULES = _update("quiz_rules", "score_policy = %(score_policy)s,"
                     " require_passing_quizzes = %(require_passing_quizzes)s")
DELETED = Statement("detail.deleted", """
WITH lessons AS (DELETE FROM {s}.course_lessons WHERE course_id = %(id)s),
     modules AS (DELETE FROM {s}.course_modules WHERE course_id = %(id)s),
     quizzes AS (DELETE FROM {s}.course_quizzes WHERE course_id = %(id)s),
     versions AS (DELETE FROM {s}.course_version_lessons WHERE course_id = %(id)s)
DELETE FROM {s}.course_details WHERE course_id = %(id)s
""")

STATUS_OF = {"course.reverted_to_draft": "DRAFT", "course.archived": "ARCHIVED"}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    match kind:
        case "course.created":
            return [Change(CREATED, {
                **base, "instructor_id": uuid(p, "instructor_id"), "title": p["title"],
                "description": p["description"], "tags": list(p["tags"]),
                "capacity": p["capacity"], "prerequisites": uuids(p["prerequisites"]),
                "starts_at": p.get("starts_at")})]  # absent from events written before it
        case "course.start_date_changed":
            return [Change(START_CHANGED, {**base, "starts_at": p.get("starts_at")})]
        case "course.details_revised":
            return [Change(DETAILS_REVISED, {**base, "title": p["title"],
                                             "description": p["description"],
                                             "tags": list(p["tags"])})]
        case "course.capacity_changed":
            return [Change(CAPACITY_CHANGED, {**base, "capacity": p["capacity"]})]
        case "course.prerequisites_set":
            return [Change(PREREQUISITES_SET,
                           {**base, "prerequisites": uuids(p["prerequisites"])})]
        case "course.published":
            published = {**base, "content_version": p["content_version"]}
            return [Change(PUBLISHED, published), Change(SNAPSHOT, published)]
        case "course.ready":
            return [Change(READY, {**base, "content_version": p["content_version"]})]
        case "course.module_added":
            return [Change(MODULE_ADDED, {**base, "module_id": uuid(p, "module_id"),
                                          "title": p["title"], "index": index(p)})]
        case "course.lesson_added":
            return [Change(LESSON_ADDED, {
                **base, "lesson_id": uuid(p, "lesson_id"), "module_id": uuid(p, "module_id"),
                "title": p["title"], "index": index(p), "content_length": len(p["content"]),
                "content": p["content"], "assets": _assets(p["assets"])})]
        case "course.lesson_revised":
            return [Change(LESSON_REVISED, {**base, "lesson_id": uuid(p, "lesson_id"),
                                            "title": p["title"], "content": p["content"],
                                            "content_length": len(p["content"])})]
        case "course.lesson_removed":
            lesson = {**base, "lesson_id": uuid(p, "lesson_id")}
            return [Change(LESSON_REMOVED, lesson), Change(LESSON_QUIZZES_REMOVED, lesson)]
        case "course.module_renamed":
            return [Change(MODULE_RENAMED, {**base, "module_id": uuid(p, "module_id"),
                                            "title": p["title"]})]
        case "course.module_removed":
            return [Change(MODULE_REMOVED, {**base, "module_id": uuid(p, "module_id"),
                                            "lesson_ids": uuids(p["lesson_ids"])}),
                    Change(MODULE_ORDER, {**base, "module_ids": uuids(p["module_ids"])})]
        case "course.modules_reordered":
            return [Change(MODULE_ORDER, {**base, "module_ids": uuids(p["module_ids"])})]
        case "course.lesson_moved":
            return [Change(LESSON_ORDER, {**base, "module_id": uuid(p, "from_module_id"),
                                          "lesson_ids": uuids(p["from_lesson_ids"])}),
                    Change(LESSON_ORDER, {**base, "module_id": uuid(p, "module_id"),
                                          "lesson_ids": uuids(p["lesson_ids"])})]
        case "course.lesson_assets_revised":
            return [Change(ASSETS_REVISED, {**base, "lesson_id": uuid(p, "lesson_id"),
                                            "assets": _assets(p["assets"])})]
        case "course.asset_stored":
            stored = {k: p[k] for k in ("name", "mime_type", "size_bytes", "sha256", "key")}
            file = {"asset_id": str(p["asset_id"]), **stored}
            return [Change(FILE_STORED, {
                **base, "lesson_id": uuid(p, "lesson_id"), "asset_id": file["asset_id"],
                "file": json.dumps(file, sort_keys=True),
                "match": json.dumps([{"asset_id": file["asset_id"]}])})]
        case "course.asset_removed":
            return [Change(FILE_REMOVED, {**base, "lesson_id": uuid(p, "lesson_id"),
                                          "asset_id": str(p["asset_id"])})]
        case "course.quiz_added" | "course.quiz_revised":
            return [Change(QUIZ_SET, {
                **base, "quiz_id": uuid(p, "quiz_id"), "title": p["title"],
                "lesson_id": _maybe_uuid(p.get("lesson_id")),
                "module_id": _maybe_uuid(p.get("module_id")),
                "pass_mark": float(p["pass_mark"]), "max_attempts": p["max_attempts"],
                "questions": _questions(p["questions"])})]
        case "course.quiz_removed":
            return [Change(QUIZ_REMOVED, {**base, "quiz_id": uuid(p, "quiz_id")})]
        case "course.quiz_rules_set":
            return [Change(QUIZ_RULES, {
                **base, "score_policy": p["score_policy"],
                "require_passing_quizzes": bool(p["require_passing_quizzes"])})]
        case "course.restored":
            return [Change(STATUS, {**base, "status": p["status"]})]
        case "course.deleted":
            return [Change(DELETED, base)]
    if kind in STATUS_OF:
        return [Change(STATUS, {**base, "status": STATUS_OF[kind]})]
    return []  # seats: not shown on the course page


# The Avro contract's defaults: a consumer's decoder fills them in, the store keeps what the
# command gave; filling them here makes both paths store the same JSON.
ASSET_DEFAULTS = {"mime_type": "application/octet-stream", "size_bytes": 0}


def _assets(assets: list[dict[str, object]]) -> str:
    return json.dumps([{**ASSET_DEFAULTS, **asset} for asset in assets], sort_keys=True)


def _questions(questions: list[dict[str, object]]) -> str:
    return json.dumps([{"points": 1.0, **q} for q in questions], sort_keys=True)


def _maybe_uuid(value: object) -> object:
    return None if value is None else uuid({"v": value}, "v")


PROJECTION = Projection(
    name="course_detail", aggregate_types=("course",), ddl=DDL,
    views=("course_details", "course_modules", "course_lessons", "course_quizzes",
           "course_version_lessons"), fold=fold,
)
