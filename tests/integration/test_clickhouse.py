"""ClickHouse (chdb-core serving HTTP): real round trips, restarts, clashes and the analyst user."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from infra import stack as local_stack
from infra import supervisor
from infra.clickhouse.service import ANALYST_USER, ClickHouse
from infra.service import StackError
from infra.versions import version_of
from projections.analytics.clients import analyst_password, writer_password
from smartcourse.settings import Settings

ROWS = 10_000


def client_for(settings: Settings, username: str | None = None) -> Client:
    """The writer (full rights) or, by name, the analyst, with the stack's passwords."""
    if username == ANALYST_USER:
        return clickhouse_connect.get_client(dsn=settings.clickhouse_url, username=username,
                                             password=analyst_password(settings))
    return clickhouse_connect.get_client(dsn=settings.clickhouse_url,
                                         username=settings.clickhouse_user,
                                         password=writer_password(settings))


@pytest.fixture
def table(stack: Settings) -> Iterator[str]:
    """A fresh MergeTree table with a random name, dropped afterwards (in a database the
    analyst's grant covers: `<analytics database>*`)."""
    database = f"{stack.analytics_database}_it_clickhouse"
    name = f"{database}.it_{uuid.uuid4().hex[:12]}"
    client = client_for(stack)
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE {name} (id UInt64, course String, amount Float64) "
        "ENGINE = MergeTree ORDER BY id"
    )
    yield name
    client_for(stack).command(f"DROP TABLE IF EXISTS {name} SYNC")


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def insert_rows(client: Client, table: str) -> None:
    client.insert(
        table,
        [[i, f"course-{i % 7}", i * 0.5] for i in range(ROWS)],
        column_names=["id", "course", "amount"],
    )


def totals(client: Client, table: str) -> tuple[int, int, float, int]:
    return client.query(
        f"SELECT count(), sum(id), sum(amount), uniqExact(course) FROM {table}"
    ).result_rows[0]


EXPECTED = (ROWS, ROWS * (ROWS - 1) // 2, ROWS * (ROWS - 1) / 4, 7)


def run_server(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the server entry point in the foreground, in a folder prepared as `stack up` does."""
    service = ClickHouse(settings)
    service.prepare()
    return subprocess.run(
        [sys.executable, *args],
        cwd=service.workdir(),
        env={**os.environ, **service.environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ping_and_engine_version(stack: Settings) -> None:
    reply = httpx.get(f"{stack.clickhouse_url}/ping", timeout=5)
    assert reply.status_code == 200
    assert reply.text.strip() == "Ok."
    major_minor = ".".join(version_of("clickhouse").split(".")[:2])
    assert client_for(stack).server_version.startswith(f"{major_minor}.")


def test_merge_tree_insert_and_aggregate(stack: Settings, table: str) -> None:
    client = client_for(stack)
    insert_rows(client, table)
    assert totals(client, table) == EXPECTED
    database, name = table.split(".")
    engine = client.command(
        f"SELECT engine FROM system.tables WHERE database = '{database}' AND name = '{name}'")
    assert engine == "MergeTree"


def test_data_survives_down_and_up(stack: Settings, table: str) -> None:
    insert_rows(client_for(stack), table)
    service = ClickHouse(stack)
    before = supervisor.running_process(service)
    assert before is not None
    try:
        assert local_stack.down(stack, ["clickhouse"]) == ["clickhouse"]
        assert supervisor.running_process(service) is None
        # SIGTERM must have ended the blocking query (orderly shutdown), not killed the process.
        assert "serve: stopped cleanly" in supervisor.tail(service.log_file, lines=5)
    finally:
        local_stack.up(stack, ["clickhouse"])
    after = supervisor.running_process(service)
    assert after is not None and after.pid != before.pid
    assert totals(client_for(stack), table) == EXPECTED


def test_stop_cancels_a_running_client_query_and_stays_clean(stack: Settings) -> None:
    """A query still running would hold its connection past chdb's short shutdown wait."""
    service = ClickHouse(stack)
    token = f"it-long-{uuid.uuid4().hex[:12]}"
    outcome: list[object] = []

    def long_query() -> None:  # about a minute unless cancelled
        try:
            outcome.append(client_for(stack).command(
                f"SELECT '{token}', count() FROM numbers(600) WHERE sleepEachRow(0.1) "
                "SETTINGS max_block_size = 1"
            ))
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcome.append(error)

    worker = threading.Thread(target=long_query, daemon=True)
    worker.start()
    watcher = client_for(stack)
    deadline = time.monotonic() + 60
    while not watcher.command(
        "SELECT count() FROM system.processes "
        "WHERE query LIKE concat('%', {token:String}, '%') AND query_id != queryID()",
        parameters={"token": token},
    ):
        if time.monotonic() > deadline:
            pytest.fail("the long query never showed up in system.processes")
        time.sleep(0.1)
    try:
        local_stack.down(stack, ["clickhouse"])
        log = supervisor.tail(service.log_file, lines=8)
        assert re.search(r"serve: cancelled \d+ running client quer", log), log
        assert "serve: stopped cleanly" in log, log
    finally:
        local_stack.up(stack, ["clickhouse"])
    worker.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], Exception), outcome


def test_occupied_port_is_reported_with_service_and_port(
    tmp_path: Path, occupied_port: int
) -> None:
    settings = Settings(data_dir=tmp_path, clickhouse_http_port=occupied_port)
    try:
        with pytest.raises(
            StackError, match=rf"clickhouse: port {occupied_port} \(http\) is already taken"
        ):
            local_stack.up(settings, ["clickhouse"])
    finally:
        local_stack.down(settings, ["clickhouse"])
    assert not (tmp_path / "run" / "clickhouse.pid").exists()


def test_server_exits_non_zero_on_a_taken_port(tmp_path: Path, occupied_port: int) -> None:
    """chdb itself gives up with exit code 0 and a line on stderr; the entry point must not."""
    settings = Settings(data_dir=tmp_path, clickhouse_http_port=occupied_port)
    db = str(ClickHouse(settings).db_path)

    # The entry point's own check, before the engine starts.
    checked = run_server(
        settings, "-m", "infra.clickhouse.serve",
        "--path", db, "--host", "127.0.0.1", "--port", str(occupied_port),
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"port 127.0.0.1:{occupied_port} is already in use" in checked.stdout

    # Past that check (a port taken in between): chdb only prints a line on stderr.
    unchecked = run_server(
        settings, "-c",
        "import sys; from pathlib import Path; from infra.clickhouse.serve import Server; "
        f"sys.exit(Server(Path({db!r}), '127.0.0.1', {occupied_port}).run())",
    )
    assert unchecked.returncode == 1, unchecked.stdout + unchecked.stderr
    assert "chdb cannot serve" in unchecked.stdout
    assert "Address already in use" in unchecked.stderr


def test_second_instance_on_the_same_data_folder_is_refused(
    stack: Settings, tmp_path: Path
) -> None:
    # Its own port and folder for config files; only the engine's data folder is shared.
    second = Settings(data_dir=tmp_path, clickhouse_http_port=free_port())
    done = run_server(
        second, "-m", "infra.clickhouse.serve", "--path", str(ClickHouse(stack).db_path),
        "--host", "127.0.0.1", "--port", str(second.clickhouse_http_port),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is locked by another ClickHouse instance" in done.stdout
    assert client_for(stack).command("SELECT 1") == 1  # the running instance is unharmed


def test_analyst_reads_but_cannot_write(stack: Settings, table: str) -> None:
    client_for(stack).insert(table, [[1, "c", 2.0]], column_names=["id", "course", "amount"])
    analyst = client_for(stack, ANALYST_USER)
    assert analyst.command("SELECT currentUser()") == ANALYST_USER
    assert analyst.command(f"SELECT count() FROM {table}") == 1
    forbidden = [
        f"INSERT INTO {table} VALUES (2, 'd', 3.0)",
        f"ALTER TABLE {table} DELETE WHERE 1",
        f"DROP TABLE {table}",
        "CREATE TABLE analyst_scratch (a UInt8) ENGINE = Memory",
        f"INSERT INTO {table} SETTINGS readonly = 0 VALUES (2, 'd', 3.0)",
    ]
    for sql in forbidden:
        with pytest.raises(DatabaseError, match="READONLY|ACCESS_DENIED"):
            analyst.command(sql)
    assert client_for(stack).command(f"SELECT count() FROM {table}") == 1
