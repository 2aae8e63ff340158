"""certificates: issued certificates, public facts for the verification endpoint and the PDF."""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch, uuid

DDL = """
CREATE TABLE {s}.certificates (
    certificate_id uuid PRIMARY KEY,
    enrollment_id  uuid NOT NULL UNIQUE,
    course_id      uuid NOT NULL,
    student_id     uuid NOT NULL,
    student_name   text NOT NULL,
    course_title   text NOT NULL,
    completed_at   text NOT NULL,
    issued_at      timestamptz NOT NULL,
    last_position  bigint NOT NULL
);
CREATE INDEX ON {s}.certificates (student_id);
"""
ISSUED = Statement("certificates.issued", """
INSERT INTO {s}.certificates VALUES (%(id)s, %(enrollment_id)s, %(course_id)s, %(student_id)s,
    %(student_name)s, %(course_title)s, %(completed_at)s, %(at)s, %(pos)s)
""")


def fold(event: StoredEvent) -> list[Change]:
    p = event.payload
    if event.event_type != "certificate.issued":
        return []
    return [Change(ISSUED, {"id": event.aggregate_id, **touch(event),
                            "enrollment_id": uuid(p, "enrollment_id"),
                            "course_id": uuid(p, "course_id"),
                            "student_id": uuid(p, "student_id"),
                            "student_name": p["student_name"],
                            "course_title": p["course_title"],
                            "completed_at": p["completed_at"]})]


PROJECTION = Projection(name="certificates", aggregate_types=("certificate",), ddl=DDL,
                        views=("certificates",), fold=fold)
