"""Read-your-writes and the projections' status, against a real query API process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.integration.test_query_api import ReadModels
from tests.support.command_client import CommandClient

PROJECTIONS = {"course_catalog", "course_detail", "instructor_courses", "student_enrollments",
               "course_roster"}


@pytest.fixture(scope="module")
def read_models(stack: Settings) -> ReadModels:
    models = ReadModels(stack)
    models.catch_up()
    return models


@pytest.fixture(scope="module")
def patient_query_api(stack: Settings, server_logs: Path) -> Iterator[str]:
    """A query API whose reads wait up to a minute: the waits below end by events being
    applied, however loaded the machine, never by the bound."""
    with ExitStack() as running:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SMARTCOURSE_READ_YOUR_WRITES_TIMEOUT", "60")
            base_url = running.enter_context(serve("query-api", stack, server_logs))
        yield base_url


def bearer(command_api: str, role: str) -> dict[str, str]:
    return CommandClient(command_api, role=role).headers


@pytest.mark.parametrize("via", ["header", "query"])
def test_a_read_waits_until_the_projections_reach_the_token(
        via: str, patient_query_api: str, command_api: str, read_models: ReadModels) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id = str(uuid4())
    token = read_models.head() + 1  # the next event: no projection can be there yet
    sent = threading.Event()

    def write_then_project() -> int:
        assert sent.wait(timeout=60), "the read was never sent"
        created = instructor.post("/courses", {"course_id": course_id, "title": "Waited for"})
        assert created.status_code == 201, created.text
        read_models.catch_up()
        return created.json()["position"]

    reader = httpx.Client(base_url=patient_query_api, timeout=120,
                          event_hooks={"request": [lambda _: sent.set()]})
    with ThreadPoolExecutor(1) as background:
        written = background.submit(write_then_project)
        answer = reader.get(f"/courses/{course_id}", headers={
            **instructor.headers,
            **({"X-Consistency-Token": str(token)} if via == "header" else {}),
        }, params={"after_position": token} if via == "query" else {})
        position = written.result()

    read_at = int(answer.headers["X-Read-Position"])
    assert read_at >= token  # beyond the store's head when sent: only a wait answers this
    if read_at >= position:  # (other writers may have taken the token's position first)
        assert answer.status_code == 200, answer.text
        assert answer.json()["title"] == "Waited for"


def test_past_the_bound_the_answer_is_503_with_the_positions_reached(
        query_api: str, read_models: ReadModels) -> None:
    token = 2**62
    answer = httpx.get(f"{query_api}/courses/{uuid4()}", params={"after_position": token},
                       timeout=30)
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) >= 1
    error = answer.json()["error"]
    assert (error["code"], error["token"]) == ("read_model.not_caught_up", token)
    assert set(error["positions"]) == {"course_catalog", "course_detail"}
    assert all(0 < p < token for p in error["positions"].values())
    assert "X-Read-Position" not in answer.headers


def test_every_read_says_which_position_it_reflects(query_api: str,
                                                    read_models: ReadModels) -> None:
    head = read_models.catch_up()
    answer = httpx.get(f"{query_api}/courses", headers={"X-Consistency-Token": str(head)})
    assert answer.status_code == 200
    assert int(answer.headers["X-Read-Position"]) >= head


def test_projections_report_position_lag_and_state(query_api: str, command_api: str,
                                                   read_models: ReadModels) -> None:
    head = read_models.catch_up()
    answer = httpx.get(f"{query_api}/projections", headers=bearer(command_api, "admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found = {p["name"]: p for p in body["projections"]}
    assert set(found) >= PROJECTIONS
    for name in PROJECTIONS:
        p = found[name]
        assert p["position"] >= head
        assert p["state"] in ("live", "rebuilding") and p["live_version"] >= 1
        assert p["lag_seconds"] >= 0
        if body["relay_position"] is None:
            assert p["lag_events"] is None
        else:
            assert p["lag_events"] == max(0, body["relay_position"] - p["position"])
        if not p["lag_events"]:
            assert p["lag_seconds"] == 0
    for role, status in (("student", 403), ("instructor", 403)):
        assert httpx.get(f"{query_api}/projections",
                         headers=bearer(command_api, role)).status_code == status
    assert httpx.get(f"{query_api}/projections").status_code == 401


def test_auth_and_input_errors_come_before_any_wait(query_api: str, command_api: str) -> None:
    ahead = {"X-Consistency-Token": str(2**62)}
    student = bearer(command_api, "student")
    cases = [
        (f"/students/{uuid4()}/enrollments", student, 403, "auth.not_yours"),
        ("/courses?limit=0", student, 422, "request.invalid"),
        ("/courses?status=DRAFT", {}, 401, "auth.unauthorized"),
        ("/courses?cursor=bm90LWEtY3Vyc29y", {}, 422, "request.invalid_cursor"),
    ]
    for path, auth, status, code in cases:
        answer = httpx.get(f"{query_api}{path}", headers={**auth, **ahead}, timeout=30)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
