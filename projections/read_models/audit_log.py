"""audit_log: who did what and when, append-only, for admins (privacy/audit.py says which
events and which details).

One row per audited event, keyed by its global position and never updated: the fold only
inserts, `ON CONFLICT DO NOTHING`. `user_id` is the user the action concerns: the aggregate for
user events, the student for an enrollment's events (its later events name no student, so the
helper `audit_enrollments` remembers it from `enrollment.created`; an aggregate's events come in
order, so it is always there). Actors are user ids (or `system`); no personal field is kept.
"""

from __future__ import annotations

import json
from uuid import UUID

from commands.adapters.event_store import StoredEvent
from privacy.audit import AGGREGATE_TYPES, AUDITED
from projections.base import Change, Projection, Statement

DDL = """
CREATE TABLE {s}.audit_log (
    position        bigint PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    occurred_at     timestamptz NOT NULL,
    actor           text,           -- as recorded: a user id, or system
    actor_id        uuid,           -- the actor as a user id, when it is one
    action          text NOT NULL,  -- the event type
    subject_type    text NOT NULL,
    subject_id      uuid NOT NULL,  -- the aggregate acted on
    user_id         uuid,           -- the user the action concerns, if any
    correlation_id  uuid NOT NULL,
    details         jsonb NOT NULL
);
CREATE INDEX ON {s}.audit_log (occurred_at, position);
CREATE INDEX ON {s}.audit_log (actor_id, position);
CREATE INDEX ON {s}.audit_log (subject_id, position);
CREATE INDEX ON {s}.audit_log (user_id, position);
CREATE INDEX ON {s}.audit_log (action, position);
CREATE TABLE {s}.audit_enrollments (
    enrollment_id uuid PRIMARY KEY,
    student_id    uuid NOT NULL
);
"""

COLUMNS = ("position, event_id, occurred_at, actor, actor_id, action, subject_type, subject_id,"
           " user_id, correlation_id, details")
VALUES = ("%(pos)s, %(event_id)s, %(at)s, %(actor)s, %(actor_id)s, %(action)s,"
          " %(subject_type)s, %(subject_id)s, {user}, %(correlation_id)s, %(details)s")

RECORDED = Statement("audit.recorded", f"""
INSERT INTO {{s}}.audit_log ({COLUMNS}) VALUES ({VALUES.format(user="%(user_id)s")})
ON CONFLICT (position) DO NOTHING
""")
# An enrollment's later events: the student remembered from its creation.
RECORDED_FOR_ENROLLMENT = Statement("audit.recorded_for_enrollment", f"""
INSERT INTO {{s}}.audit_log ({COLUMNS})
SELECT {VALUES.format(user="(SELECT student_id FROM {s}.audit_enrollments"
                      " WHERE enrollment_id = %(subject_id)s)")}
ON CONFLICT (position) DO NOTHING
""")
ENROLLMENT_SEEN = Statement("audit.enrollment_seen", """
INSERT INTO {s}.audit_enrollments (enrollment_id, student_id) VALUES (%(id)s, %(student_id)s)
ON CONFLICT (enrollment_id) DO NOTHING
""")


def _canonical(details: dict[str, object]) -> str:
    """Integral floats as integers: the store keeps `7` where Avro's doubles give `7.0`, and
    both must give one text (a replay equals the live path)."""
    return json.dumps({k: int(v) if type(v) is float and v.is_integer() else v
                       for k, v in details.items()}, sort_keys=True, default=str)


def _uuid_or_none(value: object) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def fold(event: StoredEvent) -> list[Change]:
    audited = AUDITED.get(event.event_type)
    if audited is None:
        return []
    payload = event.payload
    if audited.concerns_aggregate:
        user_id = event.aggregate_id
    elif audited.concerns is not None:
        user_id = _uuid_or_none(payload.get(audited.concerns))
    else:
        user_id = None
    params = {
        "pos": event.position, "event_id": event.event_id, "at": event.occurred_at,
        "actor": event.actor, "actor_id": _uuid_or_none(event.actor),
        "action": event.event_type, "subject_type": event.aggregate_type,
        "subject_id": event.aggregate_id, "user_id": user_id,
        "correlation_id": event.correlation_id,
        "details": _canonical(audited.details(payload)),
    }
    changes = []
    if event.event_type == "enrollment.created" and user_id is not None:
        changes.append(Change(ENROLLMENT_SEEN, {"id": event.aggregate_id,
                                                "student_id": user_id}))
    statement = (RECORDED_FOR_ENROLLMENT
                 if event.aggregate_type == "enrollment" and user_id is None else RECORDED)
    changes.append(Change(statement, params))
    return changes


PROJECTION = Projection(
    name="audit_log", aggregate_types=AGGREGATE_TYPES, ddl=DDL, views=("audit_log",),
    fold=fold,
)
