"""ClickHouse clients from settings: the writer (sink, rebuild) and the read-only analyst."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from smartcourse.secrets import required_secret
from smartcourse.settings import Settings

WRITER_SECRET = "clickhouse-writer-password"
ANALYST_SECRET = "clickhouse-analyst-password"


def writer_password(settings: Settings) -> str:
    return required_secret(settings, settings.clickhouse_password, WRITER_SECRET,
                           "SMARTCOURSE_CLICKHOUSE_PASSWORD")


def analyst_password(settings: Settings) -> str:
    return required_secret(settings, settings.clickhouse_analyst_password, ANALYST_SECRET,
                           "SMARTCOURSE_CLICKHOUSE_ANALYST_PASSWORD")


def writer_client(settings: Settings, **options: object) -> Client:
    """Full rights: creates the schema and inserts. A pool of its own, so a long insert in one
    thread never waits behind another component's connection."""
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url, username=settings.clickhouse_user,
        password=writer_password(settings), dedicated_pool=True, **options)


def analyst_client(settings: Settings, **options: object) -> Client:
    """The `analyst` account (readonly=2, SELECT on the analytics databases only): what
    `smartcourse sql`, the trend reads and the docs test use, so nothing on the read path can
    change data or read beyond the analytics."""
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url, username=settings.clickhouse_analyst_user,
        password=analyst_password(settings),
        database=settings.analytics_database, dedicated_pool=True, **options)
