"""The audit log's fold and CSV: who did what to what, about whom, without personal data."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from uuid import uuid4

from commands.adapters.event_store import StoredEvent
from projections.read_models.audit_log import (
    ENROLLMENT_SEEN,
    RECORDED,
    RECORDED_FOR_ENROLLMENT,
    fold,
)
from query_api.reads.audit import CSV_COLUMNS, AuditFilter, to_csv

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def stored(event_type: str, payload: dict[str, object], aggregate=None, actor="system"):  # noqa: ANN001, ANN201
    return StoredEvent(7, uuid4(), event_type.split(".")[0], aggregate or uuid4(), 1,
                       event_type, 1, payload, AT, actor, uuid4(), None)


def test_a_registration_is_audited_without_its_personal_fields() -> None:
    e = stored("user.registered", {"display_name": "sc1:x", "email": "sc1:y", "role": "admin"})
    (change,) = fold(e)
    assert change.statement is RECORDED
    assert change.params["user_id"] == e.aggregate_id
    assert json.loads(change.params["details"]) == {"role": "admin"}


def test_an_enrollment_remembers_its_student_for_its_later_events() -> None:
    student = uuid4()
    created = stored("enrollment.created", {"course_id": str(uuid4()), "student_id": str(student)})
    seen, recorded = fold(created)
    assert seen.statement is ENROLLMENT_SEEN and recorded.params["user_id"] == student
    scored = stored("enrollment.quiz_scored", {"quiz_id": str(uuid4()), "score": 7.0,
                                               "max_score": 10}, aggregate=created.aggregate_id)
    (change,) = fold(scored)
    assert change.statement is RECORDED_FOR_ENROLLMENT
    assert json.loads(change.params["details"])["score"] == 7  # as the store keeps it


def test_unaudited_events_leave_nothing() -> None:
    assert fold(stored("enrollment.progressed", {"lesson_id": str(uuid4())})) == []


def test_the_csv_has_a_header_and_one_row_per_entry() -> None:
    row = {"position": 3, "occurred_at": AT, "actor": "system", "action": "user.erased",
           "subject_type": "user", "subject_id": uuid4(), "user_id": None,
           "correlation_id": uuid4(), "event_id": uuid4(), "details": {"reason": "a, b"}}
    parsed = list(csv.reader(io.StringIO(to_csv([row]))))
    assert parsed[0] == list(CSV_COLUMNS) and len(parsed) == 2
    assert parsed[1][1] == AT.isoformat() and json.loads(parsed[1][-1]) == {"reason": "a, b"}


def test_filters_compose_conditions_in_order() -> None:
    who = uuid4()
    where = AuditFilter(actor="system", subject=who, action="enrollment", since=AT).where((9,))
    assert where.params == ["system", who, who, "enrollment", AT, 9]
