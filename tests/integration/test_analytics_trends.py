"""The query API's trend reads (projections/analytics/trends.py) on the real ClickHouse, as the
analyst, over a history with days in the past (events written through the sink)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4

import pytest
from clickhouse_connect.driver.client import Client

from commands.adapters.event_store import StoredEvent
from projections.analytics import schema, trends
from projections.analytics.clients import analyst_client, writer_client
from projections.analytics.sink import ClickHouseSink
from smartcourse.settings import Settings

pytestmark = pytest.mark.integration

DAY = date(2026, 2, 20)  # "today" of the history (the functions take the day explicitly)
# Course X: two enrollments a day for ten days (none on DAY-5), then a burst of 30 on DAY.
DAILY = {DAY - timedelta(days=n): (0 if n == 5 else 2) for n in range(1, 11)} | {DAY: 30}


def enrollment(course: UUID, day: date, n: int, completed: bool = False) -> list[StoredEvent]:
    at = datetime.combine(day, time(9), tzinfo=UTC) + timedelta(minutes=n)
    eid, student = uuid4(), uuid4()

    def e(kind: str, version: int, minutes: int, **payload: object) -> StoredEvent:
        return StoredEvent(0, uuid4(), "enrollment", eid, version, f"enrollment.{kind}", 1,
                           payload, at + timedelta(minutes=minutes), "it", uuid4(), None)

    out = [e("created", 1, 0, course_id=str(course), student_id=str(student)),
           e("activated", 2, 1),
           e("progressed", 3, 2, lesson_id=str(uuid4()), completed_count=1, total_lessons=1)]
    return out + ([e("completed", 4, 3)] if completed else [])


@pytest.fixture(scope="module")
def analyst(stack: Settings) -> Iterator[tuple[Client, str, UUID, UUID]]:
    database = f"{stack.analytics_database}_it_trends_{uuid4().hex[:10]}"  # analyst's grants
    x, y = uuid4(), uuid4()
    writer = writer_client(stack)
    schema.ensure_schema(writer, database)
    events = [ev for day, count in DAILY.items() for n in range(count)
              for ev in enrollment(x, day, n, completed=(day == DAY and n < 4))]
    events += [ev for n in range(3) for ev in enrollment(y, DAY, n)]  # a new course
    with ClickHouseSink(writer, database) as sink:
        sink.write(events)
    client = analyst_client(stack.model_copy(update={"analytics_database": database}))
    yield client, database, x, y
    client.close()
    schema.drop_all(writer, database)
    writer.close()


def test_course_trends_per_day_zero_filled(analyst: tuple[Client, str, UUID, UUID]) -> None:
    client, db, x, _ = analyst
    got = trends.course_trends(client, x, DAY - timedelta(days=6), DAY + timedelta(days=1),
                               database=db)
    assert [t.day for t in got] == [DAY - timedelta(days=n) for n in range(6, -2, -1)]
    assert [(t.enrollments, t.active_learners, t.completions) for t in got] == [
        (2, 2, 0), (0, 0, 0), (2, 2, 0), (2, 2, 0), (2, 2, 0), (2, 2, 0), (30, 30, 4),
        (0, 0, 0)]


def test_a_burst_against_the_trailing_window_is_flagged(
        analyst: tuple[Client, str, UUID, UUID]) -> None:
    client, db, x, _ = analyst
    result = trends.enrollment_anomaly(client, x, DAY, database=db)
    history = [DAILY[DAY - timedelta(days=n)] for n in range(10, 0, -1)]  # since the first day
    assert result.history_days == 10 and result.enrollments == 30
    assert result.mean == pytest.approx(sum(history) / 10)
    assert result.stddev == pytest.approx(0.6)  # nine 2s and one 0 around a mean of 1.8
    assert result.is_anomaly
    quiet = trends.enrollment_anomaly(client, x, DAY - timedelta(days=1), database=db)
    assert (quiet.enrollments, quiet.history_days, quiet.is_anomaly) == (2, 9, False)


def test_every_course_of_a_day_is_assessed(analyst: tuple[Client, str, UUID, UUID]) -> None:
    client, db, x, y = analyst
    flagged = trends.enrollment_anomalies(client, DAY, database=db)
    assert [a.course_id for a in flagged] == [x]
    everything = {a.course_id: a for a in trends.enrollment_anomalies(
        client, DAY, flagged_only=False, database=db)}
    assert set(everything) == {x, y}
    assert (everything[y].history_days, everything[y].is_anomaly) == (0, False)  # too new


def test_a_bad_database_name_is_refused(analyst: tuple[Client, str, UUID, UUID]) -> None:
    client, _, x, _ = analyst
    with pytest.raises(ValueError, match="not a database name"):
        trends.course_trends(client, x, DAY, DAY, database="x; DROP TABLE y")
