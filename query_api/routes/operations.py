"""Operations: the projections' positions and lag (health: smartcourse/observability/api.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from query_api.deps import AdminUser
from query_api.models import Projections, ProjectionStatus, read_responses
from query_api.positions import relay_position, statuses

router = APIRouter(tags=["operations"])


@router.get("/projections", responses=read_responses(401, 403))
async def list_projections(request: Request, user: AdminUser) -> Projections:
    """Each projection's position, lag behind the relay (events, seconds), state and live
    version (admins)."""
    async with request.app.state.pool.connection() as conn:
        relay = await relay_position(conn)
        settings = request.app.state.settings
        rows = await statuses(conn, relay, settings.worker_topic_partitions,
                              settings.worker_topic_prefix)
    return Projections(
        relay_position=relay,
        projections=[ProjectionStatus(
            name=r.name, state=r.state, live_version=r.live_version,
            rebuild_version=r.rebuild_version, rebuild_position=r.rebuild_position,
            position=r.position, lag_events=r.lag_events, lag_seconds=r.lag_seconds,
        ) for r in rows],
    )
