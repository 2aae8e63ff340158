"""The audit log for admins: who did what and when, filtered, paginated, or as CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from commands.domain.errors import RuleViolated
from query_api import positions as p
from query_api.deps import AdminUser, reading
from query_api.deps import Reader as _Reader
from query_api.models import AuditEntry, read_responses
from query_api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, page
from query_api.reads import audit

router = APIRouter(tags=["audit"])

AuditReader = Annotated[_Reader, Depends(reading(p.AUDIT_LOG))]
MAX_CSV_ROWS = 10_000
ACTION_PATTERN = r"^[a-z_]+(\.[a-z_]+)?$"


def audit_filter(
    actor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9-]+$",
                                       description="A user id, or `system`.")] = None,
    subject: Annotated[UUID | None, Query(
        description="The aggregate acted on, or the user the action concerns.")] = None,
    action: Annotated[str | None, Query(
        max_length=100, pattern=ACTION_PATTERN,
        description="An event type (`user.role_changed`) or an aggregate type "
                    "(`enrollment`).")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive, with "
                                                        "its offset).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> audit.AuditFilter:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise RuleViolated(f"{name} needs a UTC offset (e.g. 2026-12-03T08:00:00Z)",
                               "request.naive_time")
    if since is not None and until is not None and since >= until:
        raise RuleViolated("since must be before until", "request.empty_time_range")
    return audit.AuditFilter(actor, subject, action, since, until)


Filters = Annotated[audit.AuditFilter, Depends(audit_filter)]


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**row)


@router.get("/audit", responses=read_responses(401, 403))
async def list_audit(user: AdminUser, read: AuditReader, filters: Filters,
                     limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[AuditEntry]:
    """Audited actions, newest first (admins): role changes, enrollment changes, grades,
    erasures, consent and course administration."""
    start = after(cursor, audit.SORT_KEY)
    async with read() as snap:
        rows = await audit.list_entries(snap.conn, filters, limit, start)
    kept, next_cursor = page(rows, limit, lambda r: (r["position"],))
    return Page[AuditEntry](items=[_entry(r) for r in kept], next_cursor=next_cursor)


@router.get("/audit/export", response_class=Response, responses={
    **read_responses(401, 403),
    200: {"content": {"text/csv": {}}, "description": "The entries as CSV (newest first); "
          "`X-Next-Cursor` carries on when more than `limit` match."}})
async def export_audit(user: AdminUser, read: AuditReader, filters: Filters,
                       limit: Annotated[int, Query(ge=1, le=MAX_CSV_ROWS)] = MAX_CSV_ROWS,
                       cursor: Cursor = None) -> Response:
    """The same entries as CSV (admins), `limit` rows at a time."""
    start = after(cursor, audit.SORT_KEY)
    async with read() as snap:
        rows = await audit.list_entries(snap.conn, filters, limit, start)
        position = snap.position
    kept, next_cursor = page(rows, limit, lambda r: (r["position"],))
    headers = {"X-Read-Position": str(position),
               "Content-Disposition": 'attachment; filename="audit.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Response(audit.to_csv(kept), media_type="text/csv; charset=utf-8", headers=headers)
