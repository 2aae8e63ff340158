"""course_catalog: one row per course, for browsing and search (`catalog_courses`).

Search: `search` is a weighted tsvector (title A, tags B, description C, English stemming)
and `search_text` the same words as plain text with a trigram index, for typos.

It reads the course topic only: seats move with the course's own seat_reserved and
seat_released events, so every row has a single writer and changes in its aggregate's order.
`seats_available` is a generated column, so it stays in step with capacity and seats taken.
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.catalog_courses (
    course_id       uuid PRIMARY KEY,
    instructor_id   uuid NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL,
    tags            text[] NOT NULL,
    status          text NOT NULL,
    capacity        int NOT NULL,
    seats_taken     int NOT NULL,
    seats_available int GENERATED ALWAYS AS (capacity - seats_taken) STORED,
    content_version int NOT NULL,
    published_at    timestamptz,
    updated_at      timestamptz NOT NULL,
    last_position   bigint NOT NULL,
    search          tsvector NOT NULL DEFAULT '',
    search_text     text NOT NULL DEFAULT ''
);
CREATE INDEX ON {s}.catalog_courses USING gin (title public.gin_trgm_ops);
CREATE INDEX ON {s}.catalog_courses USING gin (search);
CREATE INDEX ON {s}.catalog_courses USING gin (search_text public.gin_trgm_ops);
CREATE INDEX ON {s}.catalog_courses USING gin (tags);
CREATE INDEX ON {s}.catalog_courses (status, title, course_id);
CREATE INDEX ON {s}.catalog_courses (instructor_id);
"""


def _update(name: str, assignments: str) -> Statement:
    return Statement(f"catalog.{name}", "UPDATE {s}.catalog_courses SET " + assignments
                     + ", updated_at = %(at)s, last_position = %(pos)s WHERE course_id = %(id)s")


SEARCH = ("setweight(to_tsvector('english', %(title)s), 'A')"
          " || setweight(to_tsvector('english', %(tag_text)s), 'B')"
          " || setweight(to_tsvector('english', %(description)s), 'C')")
SEARCH_TEXT = "lower(%(title)s || ' ' || %(tag_text)s || ' ' || %(description)s)"
CREATED = Statement("catalog.created", """
INSERT INTO {s}.catalog_courses (course_id, instructor_id, title, description, tags, status,
    capacity, seats_taken, content_version, published_at, updated_at, last_position, search,
    search_text)
VALUES (%(id)s, %(instructor_id)s, %(title)s, %(description)s, %(tags)s, 'DRAFT',
    %(capacity)s, 0, 0, NULL, %(at)s, %(pos)s, """ + SEARCH + ", " + SEARCH_TEXT + """)
""")
DETAILS_REVISED = _update(
    "details_revised", "title = %(title)s, description = %(description)s, tags = %(tags)s,"
    " search = " + SEARCH + ", search_text = " + SEARCH_TEXT)
DELETED = Statement("catalog.deleted",
                    "DELETE FROM {s}.catalog_courses WHERE course_id = %(id)s")
CAPACITY_CHANGED = _update("capacity_changed", "capacity = %(capacity)s")
# Publishing changed content again keeps a READY course READY (as the aggregate does).
PUBLISHED = _update("published", "status = CASE status WHEN 'READY' THEN 'READY'"
                    " ELSE 'PUBLISHED' END, content_version = %(content_version)s,"
                    " published_at = coalesce(published_at, %(at)s)")
STATUS = _update("status", "status = %(status)s")
SEATS = _update("seats", "seats_taken = seats_taken + %(delta)s")

STATUS_OF = {"course.ready": "READY", "course.reverted_to_draft": "DRAFT",
             "course.archived": "ARCHIVED"}
SEAT_DELTA = {"course.seat_reserved": 1, "course.seat_released": -1}


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    if kind == "course.created":
        return [Change(CREATED, {
            **base, "instructor_id": uuid(p, "instructor_id"), "title": p["title"],
            "description": p["description"], "tags": list(p["tags"]),
            "tag_text": " ".join(p["tags"]), "capacity": p["capacity"]})]
    if kind == "course.details_revised":
        return [Change(DETAILS_REVISED, {**base, "title": p["title"],
                                         "description": p["description"],
                                         "tags": list(p["tags"]),
                                         "tag_text": " ".join(p["tags"])})]
    if kind == "course.restored":
        return [Change(STATUS, {**base, "status": p["status"]})]
    if kind == "course.deleted":
        return [Change(DELETED, base)]
    if kind == "course.capacity_changed":
        return [Change(CAPACITY_CHANGED, {**base, "capacity": p["capacity"]})]
    if kind == "course.published":
        return [Change(PUBLISHED, {**base, "content_version": p["content_version"]})]
    if kind in STATUS_OF:
        return [Change(STATUS, {**base, "status": STATUS_OF[kind]})]
    if kind in SEAT_DELTA:
        return [Change(SEATS, {**base, "delta": SEAT_DELTA[kind]})]
    return []  # modules, lessons, prerequisites: not shown in the catalog


PROJECTION = Projection(
    name="course_catalog", aggregate_types=("course",), ddl=DDL, views=("catalog_courses",),
    fold=fold,
)
