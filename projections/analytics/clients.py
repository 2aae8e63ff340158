"""ClickHouse clients from settings: the writer (sink, rebuild) and the read-only analyst."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from smartcourse.settings import Settings


def writer_client(settings: Settings, **options: object) -> Client:
    """Full rights: creates the schema and inserts. A pool of its own, so a long insert in one
    thread never waits behind another component's connection."""
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url, username=settings.clickhouse_user,
        password=settings.clickhouse_password, dedicated_pool=True, **options)


def analyst_client(settings: Settings, **options: object) -> Client:
    """The `analyst` account (readonly=2): what `smartcourse sql`, the trend reads and the
    docs test use, so nothing on the read path can change data."""
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url, username=settings.clickhouse_analyst_user,
        password=settings.clickhouse_analyst_password,
        database=settings.analytics_database, dedicated_pool=True, **options)
