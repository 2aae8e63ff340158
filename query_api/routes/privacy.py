"""A user's own data: `GET /users/{user_id}/export` (the user or an admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder

from commands.domain.errors import NotFound
from privacy.keys import PostgresKeys
from privacy.sealing import PersonalData
from projections.analytics.clients import analyst_client
from query_api import access
from query_api import positions as p
from query_api.deps import CurrentUser, Reader, reading
from query_api.models import read_responses
from query_api.reads import personal_data

router = APIRouter(tags=["privacy"])

ExportReader = Annotated[Reader, Depends(reading(
    p.USER_PROFILES, p.STUDENT_ENROLLMENTS, p.COURSE_ROSTER, p.AUDIT_LOG))]


@router.get("/users/{user_id}/export", responses=read_responses(401, 403, 404))
async def export(user_id: UUID, user: CurrentUser, read: ExportReader,
                 request: Request) -> dict[str, Any]:
    """All personal data held about the user, from every store, as JSON (the user or an
    admin): the profile (personal fields opened with the user's data key; null once erased),
    enrollments, grades, the audit entries about or by them, and their analytics events
    (ids and facts only). The vector index holds course content only, nothing about users."""
    access.ensure_self_or_admin(user, user_id, "data")
    state = request.app.state
    personal = PersonalData(PostgresKeys(state.pool, ttl=0))  # keys read fresh each time
    async with read() as snap:
        held = await personal_data.from_read_models(snap.conn, personal, user_id)
        position = snap.position
    if held is None:
        raise NotFound("no such user", "user.not_found")

    def analytics() -> list[dict[str, Any]]:
        client = analyst_client(state.settings)
        try:
            return personal_data.from_analytics(client, user_id)
        finally:
            client.close()

    return jsonable_encoder({
        "user_id": user_id, "position": position, **held,
        "analytics_events": await asyncio.to_thread(analytics),
        "vector_index": "course content chunks only: the index has no user field",
    })
