"""Dashboards: per-course daily trends and enrollment anomalies, from ClickHouse."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from commands.domain.errors import Forbidden, NotFound, RuleViolated
from projections.analytics.clients import analyst_client
from projections.analytics.trends import course_trends, enrollment_anomalies, enrollment_anomaly
from query_api.deps import AdminUser, CourseReader, CurrentUser
from query_api.models import read_responses
from query_api.reads import course_detail

router = APIRouter(tags=["analytics"])
MAX_DAYS = 366


@router.get("/courses/{course_id}/trends", responses=read_responses(401, 403, 404, 422))
async def trends(
    course_id: UUID, actor: CurrentUser, request: Request, read: CourseReader,
    start: Annotated[date | None, Query(description="First day (default: 29 days before end).")]
    = None,
    end: Annotated[date | None, Query(description="Last day, UTC (default: today).")] = None,
) -> dict[str, Any]:
    """Enrollments, active learners and completions per day (zero-filled), and whether the
    last day's enrollments fall outside the trailing 28-day mean ± 3σ."""
    last = end or date.today()
    first = start or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise RuleViolated(f"start must not be after end, and at most {MAX_DAYS} days apart",
                           "request.invalid_range")
    async with read() as snap:
        course = await course_detail.course_detail(snap.conn, course_id)
    if course is None:
        raise NotFound("no such course", "course.not_found")
    if not actor.is_admin and course.instructor_id != actor.user_id:
        raise Forbidden("only the course's instructor sees its trends", "course.not_owner")
    settings = request.app.state.settings

    def query() -> dict[str, Any]:
        client = analyst_client(settings)
        try:
            days = course_trends(client, course_id, first, last)
            anomaly = enrollment_anomaly(client, course_id, last)
        finally:
            client.close()
        return {"course_id": str(course_id), "days": [asdict(d) for d in days],
                "anomaly": asdict(anomaly)}

    return await asyncio.to_thread(query)


@router.get("/analytics/anomalies", responses=read_responses(401, 403))
async def anomalies(
    actor: AdminUser, request: Request,
    day: Annotated[date | None, Query(description="The day to judge (default: today).")]
    = None,
) -> dict[str, Any]:
    """Courses whose enrollments that day fall outside their trailing 28-day mean ± 3σ."""
    settings, judged = request.app.state.settings, day or date.today()

    def query() -> list[dict[str, Any]]:
        client = analyst_client(settings)
        try:
            return [asdict(a) for a in enrollment_anomalies(client, judged)]
        finally:
            client.close()

    return {"day": judged.isoformat(), "anomalies": await asyncio.to_thread(query)}
