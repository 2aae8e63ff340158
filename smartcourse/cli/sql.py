"""`smartcourse sql` (analysts' read-only SQL on ClickHouse) and `smartcourse analytics …`.

    smartcourse sql "SELECT * FROM enrollments_per_course_day LIMIT 5" [--format table|csv|json]
    smartcourse analytics init|status|rebuild

`sql` runs as the `analyst` account (readonly=2, SELECT on the analytics database only) in
the analytics database, so a write or a table function is refused by ClickHouse itself, not by
parsing here; any error is one line and exit code 1. A query may begin with an SQL comment
(`-- …`): the command takes any argument it does not know as an option for the query.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import typer

from smartcourse.settings import Settings

READONLY = 164  # ClickHouse's error code for a write by a read-only account
ACCESS_DENIED = 497  # ... and for what the account has no grant for (table functions, system)
# Unknown options are kept as arguments: `-- top courses\nSELECT …` is a query, not an option.
SQL_CONTEXT = {"ignore_unknown_options": True}

analytics = typer.Typer(help="ClickHouse analytics: schema, status, blue/green rebuild.",
                        no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


OUTPUT = {
    Format.TABLE: {"default_format": "PrettyCompactMonoBlock"},
    Format.CSV: {"default_format": "CSVWithNames"},
    Format.JSON: {"default_format": "JSONEachRow", "output_format_json_array_of_rows": 1,
                  "output_format_json_quote_64bit_integers": 0},
}


def one_line(error: BaseException) -> str:
    """ClickHouse's own message, without the driver's wrapping, on one line."""
    text = " ".join(str(error).split())
    found = re.search(r"DB::Exception: (.*?)(?: \(for url [^)]*\))?$", text)
    reason = found.group(1) if found else text or type(error).__name__
    code = getattr(error, "code", None)
    reason = re.sub(r" In scope .*?(\(\w+\))?$", r" \1", reason).strip()
    return f"{reason} (code {code})" if code and f"code {code}" not in reason else reason


def fail(message: str) -> typer.Exit:
    typer.echo(f"smartcourse: {message}", err=True)
    return typer.Exit(1)


def sql(
    query: Annotated[str, typer.Argument(help="One ClickHouse SQL statement (read-only).")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TABLE,
) -> None:
    """Run SQL on the analytics database as the read-only analyst and print the result."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from projections.analytics.clients import analyst_client

    statement = query.strip().rstrip(";").strip()
    if not statement:
        raise fail("sql: empty query")
    settings = Settings()
    try:
        client = analyst_client(settings)
        try:
            output = client.raw_query(statement, settings=OUTPUT[fmt])
        finally:
            client.close()
    except ClickHouseError as error:
        if getattr(error, "code", None) == READONLY:
            raise fail("sql: refused: the analyst account is read-only; only SELECT, SHOW, "
                       "DESCRIBE, EXPLAIN and SET run here") from None
        if getattr(error, "code", None) == ACCESS_DENIED:
            raise fail(f"sql: refused: the analyst account is read-only and reads the "
                       f"analytics database only ({one_line(error)})") from None
        raise fail(f"sql: {one_line(error)}") from None
    typer.echo(output.decode(errors="replace"), nl=not output.endswith(b"\n"))


@analytics.command("init")
def init() -> None:
    """Create the analytics database and its live version if missing (idempotent)."""
    from projections.analytics import schema
    from projections.analytics.clients import writer_client

    settings = Settings()
    client = writer_client(settings)
    try:
        version = schema.ensure_schema(client, settings.analytics_database)
    finally:
        client.close()
    typer.echo(f"analytics: {settings.analytics_database} ready, live version v{version}")


@analytics.command("status")
def status() -> None:
    """The live version, the versions kept, and the sink's checkpoints."""
    from projections.analytics import schema
    from projections.analytics.clients import writer_client
    from projections.analytics.sink import read_checkpoints

    settings = Settings()
    db = settings.analytics_database
    client = writer_client(settings)
    try:
        live = schema.live_version(client, db)
        typer.echo(f"live version: v{live}; versions present: "
                   f"{', '.join(f'v{n}' for n in schema.versions(client, db)) or 'none'}")
        events = client.command(f"SELECT count() FROM {db}.events") if live else 0
        typer.echo(f"events (deduplicated): {events}")
        by_topic: dict[str, list[int]] = {}
        for (topic, _), position in read_checkpoints(client, db, "analytics").items():
            by_topic.setdefault(topic, []).append(position)
        for topic, positions in sorted(by_topic.items()):
            typer.echo(f"checkpoint {topic}: {len(positions)} partitions, complete up to "
                       f"position {min(positions)} (highest {max(positions)})")
    finally:
        client.close()


@analytics.command("rebuild")
def rebuild(
    chunk_size: Annotated[int, typer.Option(min=100, help="Events per insert.")] = 20_000,
    drop_previous: Annotated[bool, typer.Option(
        "--drop-previous", help="Drop the replaced version instead of keeping it.")] = False,
) -> None:
    """Rebuild the analytics from the event store into a new version, then switch to it."""
    from clickhouse_connect.driver.exceptions import ClickHouseError
    from psycopg import Error as PostgresError

    from projections.analytics.rebuild import RebuildBusy
    from projections.analytics.rebuild import rebuild as run

    try:
        result = run(Settings(), chunk_size=chunk_size, keep_previous=not drop_previous)
    except (ClickHouseError, PostgresError, OSError, RebuildBusy) as error:
        raise fail(f"analytics rebuild: {one_line(error)}") from None
    rate = result.events / max(result.seconds, 1e-9)
    kept = "" if drop_previous or not result.previous else f"; kept v{result.previous}"
    typer.echo(f"analytics: v{result.previous} -> v{result.version} live; {result.events:,} "
               f"events up to position {result.upto:,} in {result.seconds:.1f} s "
               f"({rate:,.0f} events/s){kept}"
               + (f"; dropped {', '.join(f'v{v}' for v in result.dropped)}"
                  if result.dropped else ""))


def register(app: typer.Typer) -> None:
    """Both command groups of this module, in one line of the CLI's root."""
    app.command("sql", context_settings=SQL_CONTEXT)(sql)
    app.add_typer(analytics, name="analytics")
