"""The analyst reads the analytics databases and nothing else: every escape is refused by
ClickHouse itself (grants, readonly=2, system tables filtered by grant), and the accounts
with more rights cannot be used without their password."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from uuid import uuid4

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from projections.analytics import schema
from projections.analytics.clients import analyst_client, writer_client
from smartcourse.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def analyst(stack: Settings) -> Iterator[Client]:
    writer = writer_client(stack)
    schema.ensure_schema(writer, stack.analytics_database)
    # A database outside the analytics namespace, as any other data on the server would be.
    writer.command("CREATE DATABASE IF NOT EXISTS it_not_analytics")
    writer.command("CREATE TABLE IF NOT EXISTS it_not_analytics.secrets (s String) "
                   "ENGINE = MergeTree ORDER BY s")
    writer.close()
    client = analyst_client(stack)
    yield client
    client.close()


ESCAPES = {
    "file": "SELECT * FROM file('/etc/passwd', 'LineAsString') LIMIT 1",
    "url": "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "postgresql": "SELECT * FROM postgresql('127.0.0.1:5432', 'smartcourse', "
                  "'events', 'smartcourse', 'smartcourse', 'event_store')",
    "s3": "SELECT * FROM s3('http://127.0.0.1:9/bucket/key.csv', 'CSV')",
    "remote": "SELECT * FROM remote('127.0.0.1:9000', system.one)",
    "remoteSecure": "SELECT * FROM remoteSecure('127.0.0.1:9440', system.one)",
    "mysql": "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')",
    "hdfs": "SELECT * FROM hdfs('hdfs://127.0.0.1:9000/x.csv', 'CSV', 'a String')",
    "executable": "SELECT * FROM executable('x.sh', 'CSV', 'a String')",
    "jdbc": "SELECT * FROM jdbc('jdbc:x', 'SELECT 1')",
    "azure": "SELECT * FROM azureBlobStorage('http://127.0.0.1:9/c', 'c', 'b.csv', 'CSV')",
    "insert into function file":
        "INSERT INTO FUNCTION file('/tmp/analyst-escape.csv', 'CSV') SELECT 1",
    "insert into function url":
        "INSERT INTO FUNCTION url('http://127.0.0.1:9/', 'CSV', 'a UInt8') SELECT 1",
    "another database": "SELECT * FROM it_not_analytics.secrets",
    "system.users": "SELECT * FROM system.users",
    "system.grants": "SELECT * FROM system.grants",
    "system.processes": "SELECT query FROM system.processes",
    "system.query_log": "SELECT query FROM system.query_log",
    "system.clusters": "SELECT * FROM system.clusters",
    "system.disks": "SELECT path FROM system.disks",
    "system.server_settings": "SELECT * FROM system.server_settings",
    "system.named_collections": "SELECT * FROM system.named_collections",
    "dictionary": "SELECT dictGet('x', 'y', 1)",
    "temporary table": "CREATE TEMPORARY TABLE t (a UInt8)",
    "readonly off": "SET readonly = 0",
}


@pytest.mark.parametrize("sql", ESCAPES.values(), ids=ESCAPES.keys())
def test_each_escape_is_refused(analyst: Client, sql: str) -> None:
    with pytest.raises(DatabaseError) as refused:
        analyst.query(sql)
    # Refused for want of a grant, by readonly, or as unknown: never read and never run.
    assert any(reason in str(refused.value) for reason in (
        "ACCESS_DENIED", "READONLY", "UNKNOWN_TABLE", "Not enough privileges",
        "Cannot modify 'readonly'", "UNKNOWN_FUNCTION", "SUPPORT_IS_DISABLED",
        "BAD_ARGUMENTS")), refused.value


def test_system_tables_show_only_the_analytics_databases(analyst: Client,
                                                         stack: Settings) -> None:
    databases = {name for (name,) in analyst.query(
        "SELECT name FROM system.databases").result_rows}
    assert databases and all(d.startswith(stack.analytics_database) for d in databases)
    tables = analyst.query("SELECT DISTINCT database FROM system.tables").result_rows
    assert all(d.startswith(stack.analytics_database) for (d,) in tables)
    columns = analyst.query("SELECT DISTINCT database FROM system.columns").result_rows
    assert all(d.startswith(stack.analytics_database) for (d,) in columns)


def test_the_analyst_still_reads_the_analytics(analyst: Client) -> None:
    assert analyst.command("SELECT count() >= 0 FROM events") == 1
    assert analyst.command("SELECT currentUser()") == "analyst"


def test_the_writer_needs_its_password(stack: Settings) -> None:
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED|Authentication failed"):
        clickhouse_connect.get_client(dsn=stack.clickhouse_url, username=stack.clickhouse_user,
                                      password="")
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED|Authentication failed"):
        clickhouse_connect.get_client(dsn=stack.clickhouse_url, username="analyst",
                                      password="wrong")


def test_a_caller_without_credentials_reads_nothing(stack: Settings) -> None:
    """`default` (what chdb's embedded engine connects as) reads no table at all."""
    for sql in (f"SELECT count() FROM {stack.analytics_database}.events",
                "SELECT * FROM file('/etc/passwd', 'LineAsString')",
                "SELECT name FROM system.databases WHERE name != 'system'"):
        reply = httpx.post(stack.clickhouse_url, content=sql, timeout=10)
        assert reply.status_code != 200 or reply.text.strip() == "", (sql, reply.text)


def test_the_cli_refuses_a_table_function_in_one_line(stack: Settings) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "smartcourse", "sql",
         "-- read the server's files?\nSELECT * FROM file('/etc/passwd', 'LineAsString')"],
        cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert ran.returncode == 1 and ran.stdout == ""
    assert len(ran.stderr.strip().splitlines()) == 1
    assert "refused" in ran.stderr and "READ ON FILE" in ran.stderr


def test_a_fresh_namespace_name_outside_the_prefix_is_not_readable(stack: Settings) -> None:
    """The grant is by prefix: a database the analytics did not name is out of reach."""
    name = f"it_outside_{uuid4().hex[:8]}"
    writer = writer_client(stack)
    writer.command(f"CREATE DATABASE {name}")
    try:
        writer.command(f"CREATE TABLE {name}.t (a UInt8) ENGINE = Memory")
        client = analyst_client(stack)
        with pytest.raises(DatabaseError, match="ACCESS_DENIED|Not enough privileges"):
            client.query(f"SELECT * FROM {name}.t")
        client.close()
    finally:
        writer.command(f"DROP DATABASE {name} SYNC")
        writer.close()
