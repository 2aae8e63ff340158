"""The checks after a run, Jepsen-style, against the store (the source of truth)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg

from projections.analytics.clients import writer_client
from smartcourse.settings import Settings
from tests.chaos.load import Load

DOCUMENTED = {200, 201, 202, 409, 422, 503}


def rows(settings: Settings, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.pg_dsn) as conn:
        return conn.execute(sql, params).fetchall()


def only_documented_answers(load: Load) -> list[str]:
    problems = [f"{a.kind} answered {a.status}: {a.body}" for a in load.answers
                if a.status is not None and a.status not in DOCUMENTED]
    problems += [f"{a.kind} answered 503 without Retry-After" for a in load.answers
                 if a.status == 503 and not a.retry_after]
    return problems


def course_ids(load: Load) -> list[str]:
    return [course for course, _, _ in load.courses]


def answered_commands_are_stored_once(settings: Settings, load: Load) -> list[str]:
    problems = []
    created = Counter(r[0] for r in rows(settings, (
        "SELECT e.aggregate_id::text FROM event_store.events e WHERE e.event_type ="
        " 'enrollment.created' AND e.payload->>'course_id' = ANY(%s)"), [course_ids(load)]))
    problems += [f"enrollment {e} created {n} times" for e, n in created.items() if n != 1]
    for answer in load.answers:
        if answer.kind == "enroll" and answer.status == 202 and created.get(
                str(answer.body["enrollment_id"])) != 1:
            problems.append(f"enroll answered 202 but not stored once: {answer.body}")
    progressed = Counter(rows(settings, (
        "SELECT aggregate_id::text, payload->>'lesson_id' FROM event_store.events"
        " WHERE event_type = 'enrollment.progressed' AND aggregate_id::text = ANY(%s)"),
        [list(created)]))
    problems += [f"lesson {k} progressed {n} times" for k, n in progressed.items() if n != 1]
    for answer in load.answers:
        if answer.kind == "complete" and answer.status == 200:
            enrollment, lesson = answer.subject.split(":")
            if progressed.get((enrollment, lesson)) != 1:
                problems.append(f"completion answered 200 but not stored: {answer.subject}")
    return problems


def no_seat_cap_exceeded(settings: Settings, load: Load) -> list[str]:
    taken = dict(rows(settings, (
        "SELECT aggregate_id::text, sum(CASE event_type WHEN 'course.seat_reserved' THEN 1"
        " ELSE -1 END) FROM event_store.events WHERE aggregate_id::text = ANY(%s) AND"
        " event_type IN ('course.seat_reserved', 'course.seat_released') GROUP BY 1"),
        [course_ids(load)]))
    return [f"course {c}: {taken.get(c)} seats for {cap}" for c, _, cap in load.courses
            if (taken.get(c) or 0) > cap]


def store_fold(settings: Settings, load: Load) -> dict[str, tuple[str, int]]:
    """Each enrollment's (state, lessons completed), folded from the store."""
    found: dict[str, tuple[str, int]] = {}
    states = {"enrollment.created": "PENDING", "enrollment.activated": "ACTIVE",
              "enrollment.completed": "COMPLETED", "enrollment.cancelled": "CANCELLED"}
    for aggregate, event_type in rows(settings, (
            "SELECT e.aggregate_id::text, e.event_type FROM event_store.events e"
            " WHERE e.aggregate_type = 'enrollment' AND e.aggregate_id IN (SELECT aggregate_id"
            " FROM event_store.events WHERE event_type = 'enrollment.created' AND"
            " payload->>'course_id' = ANY(%s)) ORDER BY e.position"), [course_ids(load)]):
        state, done = found.get(aggregate, ("PENDING", 0))
        found[aggregate] = (states.get(event_type, state),
                            done + (event_type == "enrollment.progressed"))
    return found


def read_models_equal_the_store(settings: Settings, load: Load,
                                roster: dict[str, tuple[str, int]]) -> list[str]:
    expected = store_fold(settings, load)
    if roster == expected:
        return []
    wrong = {k for k in expected.keys() | roster.keys() if roster.get(k) != expected.get(k)}
    return [f"roster differs from the store for {len(wrong)} enrollments, e.g. "
            f"{next(iter(wrong))}: {roster.get(next(iter(wrong)))} vs "
            f"{expected.get(next(iter(wrong)))}"]


def aggregates(settings: Settings, load: Load) -> list[str]:
    """The run's courses and enrollments."""
    return course_ids(load) + [r[0] for r in rows(settings, (
        "SELECT aggregate_id::text FROM event_store.events WHERE event_type ="
        " 'enrollment.created' AND payload->>'course_id' = ANY(%s)"), [course_ids(load)])]


def store_count(settings: Settings, ids: list[str]) -> int:
    return rows(settings, "SELECT count(*) FROM event_store.events WHERE aggregate_id::text"
                " = ANY(%s)", [ids])[0][0]


def clickhouse_counts(settings: Settings, ids: list[str]) -> tuple[int, int]:
    """(events, distinct event ids) of these aggregates in ClickHouse."""
    client = writer_client(settings)  # the generated password, as the sink uses it
    try:
        result = client.query(
            f"SELECT count(), uniqExact(event_id) FROM {settings.analytics_database}.events"
            " WHERE toString(aggregate_id) IN {ids:Array(String)}", parameters={"ids": ids})
        return tuple(result.result_rows[0])  # type: ignore[return-value]
    finally:
        client.close()


def publishing_finished(settings: Settings, load: Load) -> list[str]:
    states = rows(settings, "SELECT course_id::text, state, error FROM content.workflows"
                  " WHERE course_id::text = ANY(%s)", [course_ids(load)])
    problems = [f"course {c}: workflow {s}" for c, s, e in states
                if s not in ("READY", "FAILED") or (s == "FAILED" and not e)]
    missing = set(course_ids(load)) - {c for c, _, _ in states}
    return problems + [f"course {c}: no publishing workflow" for c in missing]
