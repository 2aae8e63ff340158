"""The publishing process manager: given its state, an event gives the next state and commands."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from commands.messages import (
    CompleteWorkflow,
    FailWorkflow,
    MarkCourseReady,
    RecordContentChunked,
    RevertCourseToDraft,
    StartWorkflow,
)
from projections.content.chunking import (
    CHUNKER,
    Lesson,
    chunk_course,
    content_hash,
    lesson_summaries,
)
from streams.workflows.publishing import (
    CHUNKING,
    EMBEDDING,
    FAILED,
    INDEXING,
    QUEUED,
    READY,
    STEP_NAMES,
    ChunkContent,
    Chunked,
    DropOldVersions,
    DropVersion,
    EmbedChunks,
    Embedded,
    EndedElsewhere,
    IndexChunks,
    Indexed,
    MadeReady,
    Published,
    Refused,
    RetryPolicy,
    Started,
    StepFailed,
    Wait,
    WorkflowState,
    decide,
)

POLICY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=1.5, max_restarts=2)


def published(version: int = 2) -> Published:
    lessons = tuple(Lesson(uuid4(), uuid4(), f"Lesson {n}", f"Text number {n}. " * 40)
                    for n in range(2))
    return Published(uuid4(), uuid4(), version, lessons)


def run(events: list[Any], state: WorkflowState | None = None
        ) -> tuple[WorkflowState, list[list[Any]]]:
    """Feed events one by one; the commands of each step."""
    issued = []
    for event in events:
        state, commands = decide(state, event, POLICY)
        issued.append(commands)
    assert state is not None
    return state, issued


def until_embedding(start: Published) -> tuple[WorkflowState, tuple[Any, ...]]:
    chunks = tuple(chunk_course(start.course_id, start.content_version, start.lessons))
    state, _ = run([start, Started(), Chunked(chunks)])
    return state, chunks


def until_indexed(start: Published) -> WorkflowState:
    state, chunks = until_embedding(start)
    state, _ = run([Embedded(chunks, [[0.0]] * len(chunks), 3), Indexed(len(chunks))], state)
    return state


# -- the happy path ---------------------------------------------------------------------------
def test_a_publish_runs_through_every_step_to_ready() -> None:
    start = published()
    chunks = tuple(chunk_course(start.course_id, start.content_version, start.lessons))
    vectors = [[1.0, 0.0]] * len(chunks)

    state, issued = run([start, Started(), Chunked(chunks), Embedded(chunks, vectors, 2),
                         Indexed(len(chunks)), MadeReady()])

    w, c, v = start.workflow_id, start.course_id, start.content_version
    assert issued == [
        [StartWorkflow(w, "publishing", c, v)],
        [ChunkContent(c, v, start.lessons)],
        [RecordContentChunked(w, CHUNKER, len(chunks), content_hash(chunks),
                              lesson_summaries(chunks)),
         EmbedChunks(chunks)],
        [IndexChunks(w, chunks, vectors)],
        [MarkCourseReady(c, v, w, len(chunks))],
        [CompleteWorkflow(w, len(chunks)), DropOldVersions(c, below=v)],
    ]
    assert state.state == READY
    assert state.steps == ("start", "chunk", "embed", "index", "ready")
    assert (state.chunk_count, state.computed, state.error) == (len(chunks), 2, None)


@pytest.mark.parametrize(("events", "expected"), [
    (1, QUEUED), (2, CHUNKING), (3, EMBEDDING), (4, INDEXING), (5, INDEXING), (6, READY)])
def test_the_state_names_the_step_in_progress(events: int, expected: str) -> None:
    start = published()
    chunks = tuple(chunk_course(start.course_id, start.content_version, start.lessons))
    sequence = [start, Started(), Chunked(chunks), Embedded(chunks, [[0.0]] * len(chunks), 0),
                Indexed(len(chunks)), MadeReady()]

    state, _ = run(sequence[:events])

    assert state.state == expected


def test_events_that_do_not_fit_the_state_change_nothing() -> None:
    state = until_indexed(published())

    for stale in (Started(), Chunked(()), Embedded((), [], 0), Indexed(0)):
        assert decide(state, stale, POLICY) == (state, [])
    ready, _ = decide(state, MadeReady(), POLICY)
    assert decide(ready, MadeReady(), POLICY) == (ready, [])
    assert decide(ready, Refused("late"), POLICY) == (ready, [])


def test_a_workflow_starts_with_course_published_only() -> None:
    with pytest.raises(ValueError, match="starts with course.published"):
        decide(None, Started())
    state, _ = decide(None, published())
    with pytest.raises(ValueError, match="another workflow"):
        decide(state, published())


# -- failures, retries, compensation -----------------------------------------------------------
def test_a_failing_step_is_retried_with_exponential_backoff() -> None:
    state, chunks = until_embedding(published())
    step = EmbedChunks(chunks)

    state, first = decide(state, StepFailed(step, "model down"), POLICY)
    state, second = decide(state, StepFailed(step, "model down"), POLICY)

    assert first == [Wait(0.5), step] and second == [Wait(1.0), step]
    assert state.state == EMBEDDING and state.attempts == 2
    assert state.error == "embed: model down"


def test_the_delay_doubles_up_to_its_cap() -> None:
    assert [POLICY.delay(n) for n in range(1, 5)] == [0.5, 1.0, 1.5, 1.5]


def test_after_its_last_try_the_workflow_fails_and_compensates() -> None:
    start = published()
    state, chunks = until_embedding(start)
    step = EmbedChunks(chunks)

    for _ in range(POLICY.attempts):
        state, commands = decide(state, StepFailed(step, "model down"), POLICY)

    reason = "embed failed 3 times: model down"
    assert state.state == FAILED and state.failed_step == "embed" and state.error == reason
    assert commands == [
        RevertCourseToDraft(start.course_id, start.workflow_id, reason),
        FailWorkflow(start.workflow_id, "embed", reason, 3),
        DropVersion(start.course_id, start.content_version),
    ]


def test_a_success_resets_the_tries() -> None:
    state, chunks = until_embedding(published())
    state, _ = decide(state, StepFailed(EmbedChunks(chunks), "blip"), POLICY)

    state, _ = decide(state, Embedded(chunks, [[0.0]] * len(chunks), 1), POLICY)

    assert (state.state, state.attempts, state.error) == (INDEXING, 0, None)


def test_a_refused_ready_fails_without_reverting_the_course() -> None:
    start = published()
    state = until_indexed(start)

    state, commands = decide(state, Refused("course.stale_content_version: newer"), POLICY)

    assert state.state == FAILED and state.failed_step == "ready"
    assert [type(c) for c in commands] == [FailWorkflow, DropVersion]


def test_a_run_cancelled_elsewhere_ends_failed_and_removes_its_vectors() -> None:
    state, _ = until_embedding(published())

    state, commands = decide(state, EndedElsewhere("cancelled by an operator: stuck"), POLICY)

    assert (state.state, state.failed_step) == (FAILED, "cancelled")
    assert state.error == "cancelled by an operator: stuck"
    # The undo again (each is idempotent), then the partial vectors removed.
    assert [type(c) for c in commands] == [RevertCourseToDraft, FailWorkflow, DropVersion]
    assert decide(state, EndedElsewhere("again"), POLICY) == (state, [])


def test_cleanup_after_the_end_is_retried_then_left_behind() -> None:
    start = published()
    state, _ = decide(until_indexed(start), MadeReady(), POLICY)
    drop = DropOldVersions(start.course_id, below=start.content_version)

    for _ in range(POLICY.attempts - 1):
        state, commands = decide(state, StepFailed(drop, "weaviate down"), POLICY)
        assert commands == [Wait(POLICY.delay(state.cleanup_failures)), drop]
    state, commands = decide(state, StepFailed(drop, "weaviate down"), POLICY)

    assert commands == [] and state.state == READY
    assert state.error == "cleanup failed 3 times: weaviate down"


# -- redelivery --------------------------------------------------------------------------------
def test_a_redelivered_publish_after_the_end_repeats_the_idempotent_end() -> None:
    start = published()
    ready, finish = decide(until_indexed(start), MadeReady(), POLICY)

    again, commands = decide(ready, start, POLICY)

    assert again == ready and commands == finish


def test_a_redelivered_publish_after_a_failure_repeats_the_compensation() -> None:
    start = published()
    state, chunks = until_embedding(start)
    for _ in range(POLICY.attempts):
        state, compensation = decide(state, StepFailed(EmbedChunks(chunks), "x"), POLICY)

    assert decide(state, start, POLICY) == (state, compensation)


def test_a_redelivered_publish_midway_restarts_the_run_from_the_top() -> None:
    start = published()
    state, _ = until_embedding(start)  # the worker died while embedding

    restarted, commands = decide(state, start, POLICY)

    assert restarted.state == QUEUED and restarted.steps == () and restarted.restarts == 1
    assert restarted.lessons == start.lessons
    assert commands == [StartWorkflow(start.workflow_id, "publishing", start.course_id,
                                      start.content_version)]


def test_a_run_that_keeps_killing_its_worker_fails() -> None:
    start = published()
    state, _ = run([start, start, start])  # two restarts: the most allowed

    state, commands = decide(state, start, POLICY)

    assert state.state == FAILED and "interrupted 3 times" in (state.error or "")
    assert [type(c) for c in commands] == [RevertCourseToDraft, FailWorkflow, DropVersion]


# -- invariants the runner relies on ------------------------------------------------------------
def every_decision() -> list[list[Any]]:
    start = published()
    state, chunks = until_embedding(start)
    lists = run([start, Started(), Chunked(chunks)])[1]
    lists.append(decide(state, StepFailed(EmbedChunks(chunks), "x"), POLICY)[1])
    failed = state
    for _ in range(POLICY.attempts):
        failed, commands = decide(failed, StepFailed(EmbedChunks(chunks), "x"), POLICY)
    lists += [commands, decide(failed, start, POLICY)[1]]
    indexed = until_indexed(start)
    lists += [decide(indexed, MadeReady(), POLICY)[1], decide(indexed, Refused("r"), POLICY)[1]]
    return lists


def test_a_step_is_always_the_last_command_and_alone() -> None:
    for commands in every_decision():
        steps = [n for n, c in enumerate(commands) if type(c) in STEP_NAMES]
        assert steps in ([], [len(commands) - 1]), commands


def test_the_state_survives_its_row() -> None:
    state = replace(until_indexed(published()), attempts=2, restarts=1, error="x")

    restored = WorkflowState.restore(state.workflow_id, state.course_id, state.content_version,
                                     state.state, state.details(), state.error)

    assert restored == state  # everything but the lessons, which every start carries again
