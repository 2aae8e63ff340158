"""The ClickHouse schema: one database per version, and the public database that points at one.

`<db>_v<N>` holds version N: the fact table `events`, the tables its materialized views fill,
and the metric views. `<db>` (default `smartcourse`) holds what never moves: the version
pointer `analytics_versions`, the sink's `sink_checkpoints`, and for every public name a view
over the live version, which is what analysts (and `trends.py`) query. A rebuild fills
`<db>_v<N+1>` and then repoints them (see rebuild.py).

Why the aggregates stay right under duplicates: a materialized view fires on every insert,
even one ClickHouse deduplicates in the fact table, and a redelivered event that comes in a
differently composed batch is inserted again. So every table a view fills is idempotent: sets
(ReplacingMergeTree keyed by the ids), exact distinct-count states (`uniqExactState` of event,
enrollment or student ids) and `min`/`any` of values an event fixes; no materialized view
counts rows. Metrics that need a join are computed at query time over those idempotent tables
(or over the deduplicated fact table, `FINAL`), never frozen at insert time. Correctness
first: the join over `enrollments` is paid per query, and is small (one row per enrollment).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from projections.analytics.ddl import MATERIALIZED, TABLES, VIEWS

CONTROL = (
    """CREATE TABLE IF NOT EXISTS {db}.analytics_versions (
    version UInt32,
    built_upto UInt64,
    switched_at DateTime64(6, 'UTC') DEFAULT now64(6)
) ENGINE = MergeTree ORDER BY version""",
    """CREATE TABLE IF NOT EXISTS {db}.sink_checkpoints (
    sink LowCardinality(String),
    topic String,
    partition UInt32,
    position UInt64,
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6)
) ENGINE = ReplacingMergeTree(position) ORDER BY (sink, topic, partition)""",
)

# What analysts see in <db>: name -> the query over version database {v}.
PUBLIC: dict[str, str] = {
    "events": "SELECT * FROM {v}.events FINAL",
    **{name: f"SELECT * FROM {{v}}.{name}" for name in VIEWS},
}


def version_database(database: str, version: int) -> str:
    return f"{database}_v{version}"


def live_version(client: Client, database: str) -> int:
    """The version analysts see and the sink writes (0: none yet)."""
    return int(client.command(f"SELECT max(version) FROM {database}.analytics_versions"))


def versions(client: Client, database: str) -> list[int]:
    """Every version database that exists, built or half-built."""
    prefix = f"{database}_v"
    names = client.query(
        "SELECT name FROM system.databases WHERE startsWith(name, {p:String})",
        parameters={"p": prefix}).result_columns
    found = [n[len(prefix):] for n in (names[0] if names else [])]
    return sorted(int(n) for n in found if n.isdigit())


def ensure_control(client: Client, database: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for statement in CONTROL:
        client.command(statement.format(db=database))


def create_version(client: Client, database: str, version: int) -> str:
    """Create (idempotently) every object of one version; returns its database."""
    v = version_database(database, version)
    client.command(f"CREATE DATABASE IF NOT EXISTS {v}")
    for statement in (*TABLES, *MATERIALIZED):
        client.command(statement.format(v=v))
    for name, query in VIEWS.items():  # replaced: a changed view needs no rebuild
        client.command(f"CREATE OR REPLACE VIEW {v}.{name} AS {query.format(v=v)}")
    return v


def publish(client: Client, database: str, version: int, built_upto: int) -> None:
    """Make `version` live: the pointer first (the sink reads it at every flush), then the
    public views, each replaced atomically."""
    client.insert(f"{database}.analytics_versions", [[version, built_upto]],
                  column_names=["version", "built_upto"])
    point_views(client, database, version)


def point_views(client: Client, database: str, version: int, replace: bool = True) -> None:
    v = version_database(database, version)
    create = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW IF NOT EXISTS"
    for name, query in PUBLIC.items():
        client.command(f"{create} {database}.{name} AS {query.format(v=v)}")


def ensure_schema(client: Client, database: str) -> int:
    """Idempotent bootstrap: control tables, a live version (1 on a fresh server) with every
    object, and the public views; returns the live version. Safe to run concurrently."""
    ensure_control(client, database)
    version = live_version(client, database)
    if version == 0:
        create_version(client, database, 1)
        publish(client, database, 1, built_upto=0)
        return 1
    create_version(client, database, version)
    # Only missing ones: a rebuild may have switched them since `version` was read, and
    # repointing would send analysts back to the version the sink no longer writes.
    point_views(client, database, version, replace=False)
    return version


def drop_versions(client: Client, database: str, keep: set[int]) -> list[int]:
    """Drop the version databases not in `keep`; returns those dropped."""
    dropped = [n for n in versions(client, database) if n not in keep]
    for n in dropped:
        client.command(f"DROP DATABASE IF EXISTS {version_database(database, n)} SYNC")
    return dropped


def drop_all(client: Client, database: str) -> None:
    """Remove a whole analytics namespace (tests and benchmarks use throwaway ones)."""
    drop_versions(client, database, keep=set())
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
