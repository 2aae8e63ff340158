"""The runner's batch discipline without services: a batch is retried until it succeeds,
never skipped; an unexpected failure that keeps coming stops the worker; undecodable
messages split a batch where they stand."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from projections.deliveries import WatermarkDelivery
from projections.registry import get
from streams.decoding import Undecodable
from streams.runner import Outcome, ProjectionRunner, RetryPolicy, WorkerFailed, _segments


def runner(failures: list[BaseException], attempts: int = 3) -> tuple[ProjectionRunner, list]:
    """A runner whose batch fails with each of `failures` in turn, then succeeds."""
    calls: list[Any] = []
    made = ProjectionRunner(get("course_detail"), "postgresql://unused", decode=lambda m: m,
                            publish=lambda letters: asyncio.sleep(0),
                            retry=RetryPolicy(first_backoff=0, unexpected_attempts=attempts))

    async def once(messages: Any) -> Outcome:
        calls.append(messages)
        if failures:
            raise failures.pop(0)
        return Outcome(applied=len(messages))

    made._handle_once = once  # type: ignore[method-assign]
    return made, calls


def test_transient_failures_retry_the_same_batch_until_it_succeeds() -> None:
    outages = [psycopg.OperationalError("server closed the connection")] * 7 + [OSError()]
    made, calls = runner(outages)
    assert asyncio.run(made.handle(["a", "b"])).applied == 2  # type: ignore[list-item]
    assert calls == [["a", "b"]] * 9


def test_an_unexpected_failure_is_retried_a_few_times_then_stops_the_worker() -> None:
    made, calls = runner([RuntimeError("bug")] * 5, attempts=3)
    with pytest.raises(WorkerFailed, match="course_detail.*bug"):
        asyncio.run(made.handle(["a"]))  # type: ignore[list-item]
    assert len(calls) == 3


def test_a_cancelled_batch_drops_the_connection_and_is_not_retried() -> None:
    made, calls = runner([asyncio.CancelledError()])
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    made.close = close  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(made.handle(["a"]))  # type: ignore[list-item]
    assert closed == [True] and len(calls) == 1


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(first_backoff=0.1, max_backoff=1.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_undecodable_messages_split_the_batch_where_they_stand() -> None:
    def mark(n: int) -> WatermarkDelivery:
        return WatermarkDelivery("p.course", 0, n)

    bad = Undecodable("p.course", 0, 9, uuid4(), b"x", "garbage")
    assert _segments([mark(1), mark(2), bad, bad, mark(3)]) == [
        [mark(1), mark(2)], bad, bad, [mark(3)]]
    assert _segments([bad]) == [bad]
    assert _segments([]) == []
