"""One trace per command: the command API's request, the relay's publication, the worker's
projection and the analytics insert of its event are spans of one trace in Zipkin, the query
API's read waiting on the consistency token joins the trace the client sends, and an
enrollment's trace runs on through the workflow's steps into the welcome's send."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from infra import stack as local_stack
from smartcourse.settings import Settings
from tests.support.command_client import CommandClient
from tests.support.supervised import app_processes

pytestmark = pytest.mark.integration
DEADLINE = 60.0


def services_in(zipkin: str, trace_id: str, wanted: set[str]) -> set[str]:
    """The services with spans in the trace, once all `wanted` are there (bounded poll:
    spans are exported in batches)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        answer = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10)
        found = ({span["localEndpoint"]["serviceName"] for span in answer.json()}
                 if answer.status_code == 200 else set())
        if wanted <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)  # the processes export every few seconds


@pytest.fixture(scope="module")
def running(stack: Settings) -> Iterator[Settings]:
    local_stack.up(stack, ["zipkin"])
    with app_processes(stack):
        yield stack


def test_a_command_is_one_trace_across_api_relay_and_worker(running: Settings) -> None:
    stack = running
    command_api = f"http://{stack.host}:{stack.command_api_port}"
    query_api = f"http://{stack.host}:{stack.query_api_port}"
    zipkin = f"http://{stack.host}:{stack.zipkin_port}"
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"

    instructor = CommandClient(command_api, role="instructor")
    created = instructor.post("/courses", {"title": "Traced", "capacity": 5},
                              traceparent=traceparent)
    assert created.status_code == 201, created.text
    course_id, position = created.json()["course_id"], created.json()["position"]
    # A supervised worker started afresh may still be reading through what other tests
    # appended since its group last ran: a client asks again after a 503 (bounded).
    deadline = time.monotonic() + DEADLINE * 2
    while True:
        read = httpx.get(f"{query_api}/courses/{course_id}", timeout=30,
                         headers={**instructor.headers, "X-Consistency-Token": str(position),
                                  "traceparent": traceparent})
        if read.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert read.status_code == 200, read.text

    wanted = {"command-api", "relay", stack.worker_app_id, "query-api",
              stack.analytics_worker_app_id}
    assert services_in(zipkin, trace_id, wanted) >= wanted
    spans = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10).json()
    names = {span["name"] for span in spans}
    assert "relay publish course.created" in names
    assert "read_your_writes wait" in names
    assert any(name.startswith("project ") for name in names)
    assert "analytics insert" in names


def test_an_enrollment_traces_through_the_workflow_into_the_welcome_send(
        running: Settings) -> None:
    """The student's enroll request, the workflow's steps (the events they append continue
    the trace) and the welcome's send from the outbox, in one trace."""
    stack = running
    command_api = f"http://{stack.host}:{stack.command_api_port}"
    zipkin = f"http://{stack.host}:{stack.zipkin_port}"
    instructor = CommandClient(command_api, role="instructor")
    course_id, _ = instructor.published_course(lessons=1)
    trace_id = secrets.token_hex(16)
    student = CommandClient(command_api, role="student")
    enrolled = student.post(f"/courses/{course_id}/enroll",
                            traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01")
    assert enrolled.status_code == 202, enrolled.text

    wanted = {"command-api", "relay", stack.workflow_worker_app_id}
    deadline = time.monotonic() + DEADLINE
    names: set[str] = set()
    while not {"workflow enrollment enrollment.created", "notify via email"} <= names:
        assert time.monotonic() < deadline, sorted(names)
        time.sleep(0.5)  # spans are exported in batches
        answer = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10)
        names = {span["name"] for span in answer.json()} if answer.status_code == 200 else set()
    assert services_in(zipkin, trace_id, wanted) >= wanted


def test_a_publish_traces_through_the_publishing_workflows_steps(running: Settings) -> None:
    """The instructor's publish request, the run of the supervised worker's publishing
    workflow and each of its steps (chunk, embed, index), in one trace."""
    stack = running
    command_api = f"http://{stack.host}:{stack.command_api_port}"
    zipkin = f"http://{stack.host}:{stack.zipkin_port}"
    instructor = CommandClient(command_api, role="instructor")
    course_id = instructor.create_course(capacity=5)
    instructor.add_lessons(course_id, 2)
    trace_id = secrets.token_hex(16)
    published = instructor.post(f"/courses/{course_id}/publish",
                                traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01")
    assert published.status_code == 202, published.text

    wanted = {"workflow publishing", "publishing chunk content", "publishing embed chunks",
              "publishing index chunks"}
    deadline = time.monotonic() + DEADLINE * 2  # the first run loads the embedding model
    names: set[str] = set()
    while not wanted <= names:
        assert time.monotonic() < deadline, sorted(names)
        time.sleep(0.5)  # spans are exported in batches
        answer = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10)
        names = {span["name"] for span in answer.json()} if answer.status_code == 200 else set()
    assert services_in(zipkin, trace_id, {"command-api", stack.worker_app_id}) >= {
        "command-api", stack.worker_app_id}
