"""The audit log (`audit_log`): filtered, newest first, keyset-paginated by position."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from query_api.reads.sql import Where

SORT_KEY = (int,)  # the position, newest first
CSV_COLUMNS = ("position", "occurred_at", "actor", "action", "subject_type", "subject_id",
               "user_id", "correlation_id", "event_id", "details")
SELECT = sql.SQL(", ").join(sql.Identifier(c) for c in CSV_COLUMNS)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # a user id, or `system`
    subject: UUID | None = None  # the aggregate acted on, or the user concerned
    action: str | None = None  # an event type, or an aggregate type (`enrollment`)
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def where(self, after: tuple[Any, ...] | None) -> Where:
        where = Where()
        if self.actor is not None:
            where.add("actor = %s", self.actor)
        if self.subject is not None:
            where.add("(subject_id = %s OR user_id = %s)", self.subject, self.subject)
        if self.action is not None:
            if "." in self.action:
                where.add("action = %s", self.action)
            else:
                where.add("subject_type = %s", self.action)
        if self.since is not None:
            where.add("occurred_at >= %s", self.since)
        if self.until is not None:
            where.add("occurred_at < %s", self.until)
        if after is not None:
            where.add("position < %s", after[0])
        return where


async def list_entries(conn: AsyncConnection, filters: AuditFilter, limit: int,
                       after: tuple[Any, ...] | None) -> list[dict[str, Any]]:
    """Up to `limit + 1` rows (the extra one tells that a next page exists)."""
    where = filters.where(after)
    statement = sql.SQL(
        "SELECT {} FROM read_models.audit_log WHERE {} ORDER BY position DESC LIMIT %s"
    ).format(SELECT, where.sql())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(statement, [*where.params, limit + 1])
        return await cur.fetchall()


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """RFC 4180 CSV with a header row; times in ISO 8601 UTC, details as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([
            json.dumps(row[c], sort_keys=True) if c == "details"
            else row[c].isoformat() if isinstance(row[c], datetime)
            else "" if row[c] is None else row[c]
            for c in CSV_COLUMNS])
    return out.getvalue()
