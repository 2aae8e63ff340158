"""The audit log through the running query API: `GET /audit` with each filter and its cursor,
`GET /audit/export` as CSV, both for admins only; built by the audit_log projection from the
events the command API wrote."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from privacy.audit import AUDITED
from query_api.reads.audit import CSV_COLUMNS
from smartcourse.settings import Settings
from tests.integration.test_query_api import ReadModels
from tests.support.command_client import CommandClient


@pytest.fixture(scope="module")
def history(command_api: str, stack: Settings) -> dict[str, object]:
    started = datetime.now(UTC) - timedelta(seconds=1)
    admin = CommandClient(command_api, role="admin")
    instructor = CommandClient(command_api, role="instructor")
    learner = CommandClient(command_api)
    me = str(learner.user_id)
    assert learner.post(f"/users/{me}/consents", {"purpose": "analytics"}).status_code == 200
    withdrawn = learner.http.delete(f"/users/{me}/consents/analytics", headers=learner.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    promoted = admin.put(f"/users/{me}/role", {"role": "instructor"})
    assert promoted.status_code == 200, promoted.text
    course_id = instructor.create_course(title="Audited course")
    ReadModels(stack).catch_up()
    return {"admin": admin, "instructor": instructor, "learner": learner, "me": me,
            "course_id": course_id, "started": started,
            "ended": datetime.now(UTC) + timedelta(seconds=1)}


def audit(query_api: str, who: CommandClient, path: str = "/audit", **params: object
          ) -> httpx.Response:
    return httpx.get(f"{query_api}{path}", params=params, headers=who.headers, timeout=30)


def test_the_log_of_one_user_in_order(query_api: str, history: dict) -> None:
    reply = audit(query_api, history["admin"], subject=history["me"])
    assert reply.status_code == 200, reply.text
    entries = reply.json()["items"]
    assert [e["action"] for e in entries] == [  # newest first
        "user.role_changed", "user.consent_withdrawn", "user.consent_given", "user.registered"]
    assert all(e["user_id"] == history["me"] for e in entries)
    changed = entries[0]
    assert changed["actor"] == str(history["admin"].user_id)
    assert changed["details"] == {"role": "instructor"}
    assert entries[1]["actor"] == history["me"] and entries[1]["details"] == {
        "purpose": "analytics"}
    assert all(set(e["details"]) <= {"role", "purpose", "reason"} for e in entries)


def test_each_filter(query_api: str, history: dict) -> None:
    admin, me = history["admin"], history["me"]
    by_admin = audit(query_api, admin, actor=str(admin.user_id), subject=me).json()["items"]
    assert [e["action"] for e in by_admin] == ["user.role_changed"]
    one_action = audit(query_api, admin, action="user.consent_given", subject=me).json()
    assert [e["action"] for e in one_action["items"]] == ["user.consent_given"]
    course = audit(query_api, admin, action="course",
                   subject=history["course_id"]).json()["items"]
    assert [e["action"] for e in course] == ["course.created"]
    assert course[0]["actor"] == str(history["instructor"].user_id)
    within = audit(query_api, admin, subject=me, since=history["started"].isoformat(),
                   until=history["ended"].isoformat()).json()["items"]
    assert len(within) == 4
    later = audit(query_api, admin, subject=me, since=history["ended"].isoformat()).json()
    assert later["items"] == []
    earlier = audit(query_api, admin, subject=me, until=history["started"].isoformat()).json()
    assert earlier["items"] == []
    assert {e["action"] for e in audit(query_api, admin, limit=100).json()["items"]} <= set(
        AUDITED)


def test_pages_follow_the_cursor(query_api: str, history: dict) -> None:
    admin, me = history["admin"], history["me"]
    seen, cursor = [], None
    while True:
        params = {"subject": me, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = audit(query_api, admin, **params).json()
        seen += [e["position"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 4 and seen == sorted(seen, reverse=True)


def test_the_csv_export_holds_the_same_entries(query_api: str, history: dict) -> None:
    admin, me = history["admin"], history["me"]
    listed = audit(query_api, admin, subject=me).json()["items"]
    exported = audit(query_api, admin, "/audit/export", subject=me)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(int(r["position"]), r["action"], r["actor"]) for r in rows] == [
        (e["position"], e["action"], e["actor"]) for e in listed]
    first = audit(query_api, admin, "/audit/export", subject=me, limit=2)
    assert len(list(csv.DictReader(io.StringIO(first.text)))) == 2
    rest = audit(query_api, admin, "/audit/export", subject=me, limit=2,
                 cursor=first.headers["x-next-cursor"])
    assert [r["action"] for r in csv.DictReader(io.StringIO(rest.text))] == [
        "user.consent_given", "user.registered"]


def test_only_admins_read_the_log(query_api: str, history: dict) -> None:
    for path in ("/audit", "/audit/export"):
        assert httpx.get(f"{query_api}{path}", timeout=30).status_code == 401
        for who in ("learner", "instructor"):
            refused = audit(query_api, history[who], path)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"]


@pytest.mark.parametrize(("params", "code"), [
    ({"since": "2026-12-03T08:00:00"}, "request.naive_time"),
    ({"since": "2026-12-03T09:00:00Z", "until": "2026-12-03T08:00:00Z"},
     "request.empty_time_range"),
])
def test_bad_filters_are_a_4xx_with_a_code(query_api: str, history: dict,
                                           params: dict[str, str], code: str) -> None:
    reply = audit(query_api, history["admin"], **params)
    assert 400 <= reply.status_code < 500 and reply.json()["error"]["code"] == code
