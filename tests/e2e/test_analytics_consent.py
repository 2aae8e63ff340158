"""A withdrawn `analytics` consent through the running platform (command API, event store,
relay, Kafka, the analytics worker, ClickHouse): the learner's events from the withdrawal on
reach ClickHouse reduced to the minimum (docs/adr/0031), the earlier ones unchanged, and the
course-level figures still count the enrollment."""

from __future__ import annotations

from uuid import UUID

import pytest

from projections.analytics.clients import writer_client
from projections.analytics.consent import pseudonym
from smartcourse.local_servers import wait_until_analytics_caught_up, wait_until_caught_up
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.e2e


def test_a_withdrawn_analytics_consent_reduces_the_later_events(app_processes: Settings
                                                                ) -> None:
    s = app_processes
    writes = f"http://{s.host}:{s.command_api_port}"
    wait_until_caught_up(s)
    instructor = CommandClient(writes, role="instructor")
    admin = CommandClient(writes, role="admin")
    first_course, first_lessons = instructor.published_course(lessons=2)
    second_course, second_lessons = instructor.published_course(lessons=1)
    learner = CommandClient(writes)
    me = str(learner.user_id)

    assert learner.post(f"/users/{me}/consents", {"purpose": "analytics"}).status_code == 200
    first = learner.post(f"/courses/{first_course}/enroll").json()["enrollment_id"]
    assert admin.post(f"/enrollments/{first}/activate").status_code == 200  # the workflow's step
    done = learner.post(f"/enrollments/{first}/lessons/{first_lessons[0]}/complete")
    assert done.status_code == 200, done.text
    withdrawn = learner.http.delete(f"/users/{me}/consents/analytics", headers=learner.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    withdrawal_at = withdrawn.json()["position"]
    later = learner.post(f"/enrollments/{first}/lessons/{first_lessons[1]}/complete")
    assert later.status_code == 200, later.text
    second = learner.post(f"/courses/{second_course}/enroll")
    assert second.status_code == 202, second.text
    second_id = second.json()["enrollment_id"]

    wait_until_caught_up(s)
    wait_until_analytics_caught_up(s)
    client = writer_client(s)
    try:
        rows = client.query(
            "SELECT position, event_type, actor, toString(student_id), toString(aggregate_id),"
            " payload FROM smartcourse.events WHERE aggregate_id IN"
            " ({first:UUID}, {second:UUID}) OR actor = {me:String}"
            " OR student_id = {me:UUID} OR aggregate_id = {me:UUID} OR position = {w:UInt64}"
            " ORDER BY position",
            parameters={"first": first, "second": second_id, "me": me,
                        "w": withdrawal_at}).result_rows
        counted = client.query(
            "SELECT enrollments FROM smartcourse.course_completion"
            " WHERE course_id = {c:UUID}", parameters={"c": second_course}).result_rows
    finally:
        client.close()

    before = [r for r in rows if r[0] < withdrawal_at]
    after = [r for r in rows if r[0] >= withdrawal_at]
    # Before the withdrawal: the learner's pseudonymous id links their events.
    assert {"user.consent_given", "enrollment.created", "enrollment.progressed"} <= {
        r[1] for r in before}
    assert any(r[2] == me for r in before if r[1] == "enrollment.progressed")
    assert any(r[3] == me for r in before if r[1] == "enrollment.created")
    # From it on: the same events reach ClickHouse, linked to nobody.
    kinds_after = [r[1] for r in after]
    assert "enrollment.progressed" in kinds_after and "enrollment.created" in kinds_after
    withdrawal = next(r for r in after if r[0] == withdrawal_at)
    assert withdrawal[1] == "user.consent_withdrawn" and withdrawal[2] is None  # nobody's
    for position, kind, actor, student, aggregate, payload in after:
        assert actor != me and student != me and aggregate != me, (position, kind)
        assert me not in payload, (position, kind)
    created = next(r for r in after if r[1] == "enrollment.created")
    assert UUID(created[3]) == pseudonym(UUID(second_id))  # one anonymous learner
    # The minimum still counts: the course's enrollment is there.
    assert counted and counted[0][0] >= 1
