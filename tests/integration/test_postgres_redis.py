"""PostgreSQL and Redis answer real round trips on their configured ports."""

from __future__ import annotations

import uuid

import psycopg
import redis

from smartcourse.settings import Settings


def test_postgres_round_trip_through_the_application_role(stack: Settings) -> None:
    table = f"roundtrip_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        conn.execute(f"INSERT INTO {table} VALUES (1, 'hello'), (2, 'world')")
        rows = conn.execute(f"SELECT id, note FROM {table} ORDER BY id").fetchall()
        conn.execute(f"DROP TABLE {table}")
    assert rows == [(1, "hello"), (2, "world")]


def test_postgres_is_version_15_with_durable_commits(stack: Settings) -> None:
    with psycopg.connect(stack.pg_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        synchronous_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]
    assert version.startswith("15")
    assert synchronous_commit == "on"


def test_redis_round_trip(stack: Settings) -> None:
    client = redis.Redis.from_url(stack.redis_url)
    key = f"test:{uuid.uuid4()}"
    try:
        assert client.set(key, "value", ex=60, nx=True) is True
        assert client.set(key, "other", ex=60, nx=True) is None  # NX: the first writer wins
        assert client.get(key) == b"value"
    finally:
        client.delete(key)
        client.close()
