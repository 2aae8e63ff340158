"""`smartcourse sql` as a real process: the analyst reads in three formats and cannot write."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from commands.adapters.event_store import StoredEvent
from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.sink import ClickHouseSink
from smartcourse.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database(stack: Settings) -> Iterator[str]:
    """A namespace holding one event."""
    name = f"{stack.analytics_database}_it_sql_{uuid4().hex[:10]}"
    client = writer_client(stack)
    schema.ensure_schema(client, name)
    event = StoredEvent(1, uuid4(), "user", uuid4(), 1, "user.registered", 1,
                        {"role": "student"}, datetime.now(UTC), None, uuid4(), None)
    with ClickHouseSink(client, name) as sink:
        sink.write([event])
    yield name
    schema.drop_all(client, name)
    client.close()


def smartcourse(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMARTCOURSE_ANALYTICS_DATABASE": database}
    return subprocess.run([sys.executable, "-m", "smartcourse", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


QUERY = "SELECT event_type, count() AS n FROM events GROUP BY event_type"


def test_reads_as_a_table_csv_and_json(database: str) -> None:
    table = smartcourse(database, "sql", QUERY)
    assert table.returncode == 0, table.stderr
    assert "event_type" in table.stdout and "user.registered" in table.stdout
    as_csv = smartcourse(database, "sql", QUERY + ";", "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["event_type", "n"], ["user.registered", "1"]]
    as_json = smartcourse(database, "sql", QUERY, "-f", "json")
    assert json.loads(as_json.stdout) == [{"event_type": "user.registered", "n": 1}]
    me = smartcourse(database, "sql", "SELECT currentUser() AS u", "-f", "csv")
    assert me.stdout.splitlines()[1] == '"analyst"'


@pytest.mark.parametrize("statement", [
    "INSERT INTO events (event_id, event_type) VALUES (generateUUIDv4(), 'x')",
    "INSERT INTO events (event_id) SETTINGS readonly = 0 VALUES (generateUUIDv4())",
    "ALTER TABLE events DELETE WHERE 1",
    "DROP TABLE sink_checkpoints",
    "TRUNCATE TABLE analytics_versions",
    "CREATE TABLE scratch (a UInt8) ENGINE = Memory",
    "CREATE OR REPLACE VIEW events AS SELECT 1",
])
def test_a_write_is_refused_in_one_line(database: str, statement: str) -> None:
    refused = smartcourse(database, "sql", statement)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "read-only" in refused.stderr
    count = smartcourse(database, "sql", "SELECT count() FROM events", "-f", "csv")
    assert count.stdout.splitlines()[-1] == "1"


def test_a_bad_query_is_one_line_and_exit_1(database: str) -> None:
    bad = smartcourse(database, "sql", "SELECT * FROM no_such_table")
    assert bad.returncode == 1 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "no_such_table" in bad.stderr
