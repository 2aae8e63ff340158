"""docs/analytics.md stays true: every ```sql block runs as the analyst on the real
`smartcourse` database, returns rows on a small seeded history (through the client and through
`smartcourse sql`, as a reader of the page would run it), and every analytics table and view is
documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from clickhouse_connect.driver.client import Client

from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.clients import analyst_client, writer_client
from projections.analytics.ddl import TABLES
from projections.analytics.sink import ClickHouseSink
from projections.deliveries import EventDelivery
from smartcourse.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

DOC = PROJECT_ROOT / "docs" / "analytics.md"
BLOCKS = re.findall(r"^```sql\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)
IDS = [f"block{n}" for n in range(1, len(BLOCKS) + 1)]


@pytest.fixture(scope="module")
def live(stack: Settings) -> Iterator[Client]:
    """The analyst on the real analytics database (bootstrapped if it is not yet)."""
    writer = writer_client(stack)
    schema.ensure_schema(writer, stack.analytics_database)
    writer.close()
    client = analyst_client(stack)
    yield client
    client.close()


def seed_events() -> list[StoredEvent]:
    """A course with two lessons, two students (one completes), a quiz and a question."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    course, module, lessons = uuid4(), uuid4(), [uuid4(), uuid4()]
    out: list[StoredEvent] = []

    def add(event_type: str, aggregate: UUID, version: int, **payload: Any) -> None:
        out.append(StoredEvent(len(out) + 1, uuid4(), event_type.split(".")[0], aggregate,
                               version, event_type, 1, payload,
                               now + timedelta(seconds=len(out)), "docs", uuid4(), None))

    add("course.published", course, 1, workflow_id=str(uuid4()), content_version=1, lessons=[
        {"lesson_id": str(lid), "module_id": str(module), "title": f"Lesson {n}",
         "content": "…"} for n, lid in enumerate(lessons, 1)])
    for n, student in enumerate([uuid4(), uuid4()]):
        enrollment = uuid4()
        add("enrollment.created", enrollment, 1, course_id=str(course), student_id=str(student))
        add("enrollment.activated", enrollment, 2)
        done = lessons[: 2 - n]
        for v, lesson in enumerate(done, 3):
            add("enrollment.progressed", enrollment, v, lesson_id=str(lesson),
                completed_count=v - 2, total_lessons=2)
        add("enrollment.quiz_scored", enrollment, 3 + len(done), quiz_id=str(uuid4()),
            score=8 - n, max_score=10)
        if len(done) == 2:
            add("enrollment.completed", enrollment, 4 + len(done))
    add("ai.requested", uuid4(), 1, course_id=str(course), question="What is a join?")
    return out


@pytest.fixture(scope="module")
def seeded(stack: Settings) -> Iterator[tuple[Client, str]]:
    """The analyst on a throwaway namespace holding `seed_events`."""
    # Under the analytics database's name: the analyst's grants cover `<database>*` only.
    database = f"{stack.analytics_database}_it_docs_{uuid4().hex[:10]}"
    writer = writer_client(stack)
    schema.ensure_schema(writer, database)
    with ClickHouseSink(writer, database) as sink:
        sink.write(EventDelivery(e, f"docs.{e.aggregate_type}", 0, n)
                   for n, e in enumerate(seed_events()))
    client = analyst_client(stack.model_copy(update={"analytics_database": database}))
    yield client, database
    client.close()
    schema.drop_all(writer, database)
    writer.close()


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("sql", BLOCKS, ids=IDS)
def test_every_sql_block_runs_as_the_analyst_on_the_real_database(live: Client,
                                                                   sql: str) -> None:
    columns = live.query(f"DESCRIBE TABLE ({sql}\n)").result_rows
    assert columns and all(name for name, *_ in columns)
    live.query(sql)  # and runs, on whatever the live worker has written so far


@pytest.mark.parametrize("sql", BLOCKS, ids=IDS)
def test_every_sql_block_finds_rows_in_a_seeded_history(seeded: tuple[Client, str],
                                                         sql: str) -> None:
    client, database = seeded
    result = client.query(sql.replace("smartcourse.", f"{database}."))
    assert result.result_rows, "the example finds nothing in a history made for it"


@pytest.mark.parametrize("sql", BLOCKS, ids=IDS)
def test_every_sql_block_runs_through_the_cli(seeded: tuple[Client, str], sql: str) -> None:
    """As the page tells readers to: `smartcourse sql "<block>"` (some blocks begin with an
    SQL comment, which the command must not take for an option)."""
    _, database = seeded
    env = {**os.environ, "SMARTCOURSE_ANALYTICS_DATABASE": database}
    ran = subprocess.run(
        [sys.executable, "-m", "smartcourse", "sql", sql.replace("smartcourse.", f"{database}."),
         "--format", "json"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout), "the example finds nothing through the CLI"


def test_every_table_and_view_is_documented() -> None:
    text = DOC.read_text()
    documented = set(re.findall(r"^### `(\w+)`", text, flags=re.MULTILINE))
    tables = set()
    for ddl in TABLES:
        found = re.search(r"\{v\}\.(\w+)", ddl)
        assert found is not None
        tables.add(found.group(1))
    expected = set(schema.PUBLIC) | tables | {"analytics_versions", "sink_checkpoints"}
    assert expected <= documented, f"undocumented: {sorted(expected - documented)}"
