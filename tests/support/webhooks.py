"""Webhooks a test registered, removed afterwards: every later welcome would go to them."""

from __future__ import annotations

import httpx
import psycopg

from smartcourse.settings import Settings
from tests.support.command_client import CommandClient


def store_head(settings: Settings) -> int:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM event_store.events"
                           ).fetchone()
    return int(row[0]) if row else 0


def registered_since(settings: Settings, after: int) -> set[str]:
    """Webhooks registered since store position `after` and not removed since."""
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT event_type, payload->>'webhook_id' FROM event_store.events"
            " WHERE aggregate_type = 'webhooks' AND position > %s ORDER BY position",
            [after]).fetchall()
    live: set[str] = set()
    for kind, webhook in rows:
        (live.add if kind.endswith("registered") else live.discard)(webhook)
    return live


def remove_registered_since(settings: Settings, command_api: str, after: int) -> None:
    """With an admin of its own: the test may have demoted or deactivated its admins."""
    admin = CommandClient(command_api, role="admin")
    for webhook in registered_since(settings, after):
        httpx.delete(f"{command_api}/webhooks/{webhook}", headers=admin.headers,
                     timeout=30).raise_for_status()
