"""Workflow: a run's facts are recorded once; repeating a command with the same facts is a no-op."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from commands.domain.errors import Conflict
from commands.domain.workflow import COMPLETED, FAILED, RUNNING, Workflow

LESSONS = [{"lesson_id": str(uuid4()), "chunk_count": 3, "content_hash": "cd" * 32}]


def recorded(workflow: Workflow) -> list[str]:
    return [workflow.event_type(type(e)) for e in workflow.collect_events()]


def given_started() -> Workflow:
    workflow = Workflow(id=uuid4(), kind="publishing", course_id=uuid4(), content_version=2)
    workflow.collect_events()
    return workflow


def test_a_run_is_started_for_a_course_version() -> None:
    workflow = Workflow(id=uuid4(), kind="publishing", course_id=uuid4(), content_version=2)

    assert recorded(workflow) == ["workflow.started"]
    assert workflow.state == RUNNING


def test_chunks_are_recorded_once_under_the_platform_name() -> None:
    workflow = given_started()

    workflow.record_chunks("sentences-v1/100/20", 3, "ab" * 32, LESSONS)
    workflow.record_chunks("sentences-v1/100/20", 3, "ab" * 32, LESSONS)  # after a restart

    assert recorded(workflow) == ["content.chunked"]
    assert workflow.chunk_count == 3


def test_different_chunks_for_the_same_run_are_refused() -> None:
    workflow = given_started()
    workflow.record_chunks("sentences-v1/100/20", 3, "ab" * 32, LESSONS)

    with pytest.raises(Conflict) as refused:
        workflow.record_chunks("sentences-v1/100/20", 4, "ef" * 32, LESSONS)
    assert refused.value.code == "workflow.content_mismatch"


@pytest.mark.parametrize(("end", "state", "event"), [
    (lambda w: w.complete(3), COMPLETED, "workflow.completed"),
    (lambda w: w.fail("embed", "model down", 4), FAILED, "workflow.failed"),
])
def test_a_run_ends_once(end: Callable[[Workflow], None], state: str, event: str) -> None:
    workflow = given_started()

    end(workflow)
    end(workflow)

    assert recorded(workflow) == [event]
    assert workflow.state == state


def test_an_ended_run_does_not_end_otherwise_or_record_chunks() -> None:
    done = given_started()
    done.complete(3)
    failed = given_started()
    failed.fail("index", "weaviate down", 4)

    for attempt, code in ((lambda: done.fail("x", "y", 1), "workflow.invalid_transition"),
                          (lambda: failed.complete(3), "workflow.invalid_transition"),
                          (lambda: failed.record_chunks("c", 1, "h", []),
                           "workflow.invalid_transition")):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == code
