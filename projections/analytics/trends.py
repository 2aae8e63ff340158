"""Trend reads for the query API: per course per day, and an enrollment anomaly flag.

Read-only functions over the public analytics views, meant for the `analyst` client
(`clients.analyst_client`). Days are UTC dates. A day without events is a zero, not a gap.

The anomaly rule: a day's enrollments are anomalous when they lie outside the trailing window's
mean ± `sigmas` standard deviations (population, over `window_days` days before the day, zeros
included). Only days since the course's first enrollment count as history, and with fewer than
`min_history_days` of them nothing is flagged: a new course would otherwise be flagged on its
first good day.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from clickhouse_connect.driver.client import Client

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class DailyTrend:
    day: date
    enrollments: int
    active_learners: int
    completions: int


@dataclass(frozen=True)
class EnrollmentAnomaly:
    course_id: UUID
    day: date
    enrollments: int
    mean: float
    stddev: float
    lower: float
    upper: float
    history_days: int
    is_anomaly: bool


def _db(database: str) -> str:
    if not IDENTIFIER.fullmatch(database):
        raise ValueError(f"not a database name: {database!r}")
    return database


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def course_trends(client: Client, course_id: UUID, start: date, end: date, *,
                  database: str = "smartcourse") -> list[DailyTrend]:
    """Enrollments, active learners and completions of one course for every day in
    [start, end] (both included), oldest first."""
    if end < start:
        raise ValueError("end is before start")
    db = _db(database)
    rows = client.query(f"""
        SELECT day, sum(e), sum(a), sum(c) FROM (
            SELECT day, enrollments AS e, toUInt64(0) AS a, toUInt64(0) AS c
            FROM {db}.enrollments_per_course_day
            WHERE course_id = {{course:UUID}} AND day BETWEEN {{start:Date}} AND {{end:Date}}
            UNION ALL
            SELECT day, toUInt64(0), active_learners, toUInt64(0)
            FROM {db}.active_learners_per_course_day
            WHERE course_id = {{course:UUID}} AND day BETWEEN {{start:Date}} AND {{end:Date}}
            UNION ALL
            SELECT day, toUInt64(0), toUInt64(0), completions
            FROM {db}.completions_per_course_day
            WHERE course_id = {{course:UUID}} AND day BETWEEN {{start:Date}} AND {{end:Date}})
        GROUP BY day""", parameters={"course": course_id, "start": start, "end": end}).result_rows
    found = {day: (int(e), int(a), int(c)) for day, e, a, c in rows}
    return [DailyTrend(day, *found.get(day, (0, 0, 0))) for day in _days(start, end)]


def assess(course_id: UUID, day: date, enrollments: int, history: Sequence[int], *,
           sigmas: float = 3.0, min_history_days: int = 7) -> EnrollmentAnomaly:
    """The anomaly rule on given counts (`history`: one count per day, zeros included)."""
    n = len(history)
    mean = sum(history) / n if n else 0.0
    stddev = math.sqrt(sum((x - mean) ** 2 for x in history) / n) if n else 0.0
    lower, upper = mean - sigmas * stddev, mean + sigmas * stddev
    flagged = n >= min_history_days and not lower <= enrollments <= upper
    return EnrollmentAnomaly(course_id, day, enrollments, mean, stddev, lower, upper, n, flagged)


def trailing_history(counts: dict[date, int], first: date | None, day: date,
                     window_days: int) -> list[int]:
    """One count per day of the window before `day`, from the course's first enrollment day
    (`first`) on, zeros included."""
    if first is None:
        return []
    start = max(first, day - timedelta(days=window_days))
    return [counts.get(d, 0) for d in _days(start, day - timedelta(days=1))] if start < day else []


def enrollment_anomaly(client: Client, course_id: UUID, day: date, *, window_days: int = 28,
                       sigmas: float = 3.0, min_history_days: int = 7,
                       database: str = "smartcourse") -> EnrollmentAnomaly:
    """One course's enrollments on `day` against its trailing window."""
    db = _db(database)
    rows = client.query(f"""
        SELECT day, enrollments FROM {db}.enrollments_per_course_day
        WHERE course_id = {{course:UUID}} AND day <= {{day:Date}}""",
                        parameters={"course": course_id, "day": day}).result_rows
    counts = {d: int(n) for d, n in rows}
    first = min(counts, default=None)
    history = trailing_history(counts, first, day, window_days)
    return assess(course_id, day, counts.get(day, 0), history, sigmas=sigmas,
                  min_history_days=min_history_days)


def enrollment_anomalies(client: Client, day: date, *, window_days: int = 28,
                         sigmas: float = 3.0, min_history_days: int = 7,
                         flagged_only: bool = True,
                         database: str = "smartcourse") -> list[EnrollmentAnomaly]:
    """Every course with enrollments in the window or on `day`, assessed (by default only the
    flagged ones), most enrollments first."""
    db = _db(database)
    rows = client.query(f"""
        SELECT w.course_id, w.day, w.enrollments, f.first_day
        FROM (SELECT course_id, day, enrollments FROM {db}.enrollments_per_course_day
              WHERE day BETWEEN {{start:Date}} AND {{day:Date}}) AS w
        INNER JOIN (SELECT course_id, min(day) AS first_day
                    FROM {db}.enrollments_per_course_day GROUP BY course_id) AS f
        USING (course_id)""", parameters={
        "start": day - timedelta(days=window_days), "day": day}).result_rows
    counts: dict[UUID, dict[date, int]] = defaultdict(dict)
    firsts: dict[UUID, date] = {}
    for course_id, d, n, first in rows:
        counts[course_id][d] = int(n)
        firsts[course_id] = first
    assessed = [
        assess(course_id, day, by_day.get(day, 0),
               trailing_history(by_day, firsts[course_id], day, window_days),
               sigmas=sigmas, min_history_days=min_history_days)
        for course_id, by_day in counts.items()
    ]
    return sorted((a for a in assessed if a.is_anomaly or not flagged_only),
                  key=lambda a: (-a.enrollments, str(a.course_id)))
