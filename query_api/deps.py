"""Dependencies as `Annotated` aliases: the read snapshot, the current user, role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from commands.api.auth import bearer, current_actor
from commands.domain.errors import Forbidden
from commands.messages import Actor
from query_api import access
from query_api import positions as p
from query_api.consistency import requested_token
from query_api.db import Snapshot, snapshot

MAX_POSITION = 2**63 - 1
READ_POSITION_HEADER = "X-Read-Position"

CurrentUser = Annotated[Actor, Depends(current_actor)]


async def optional_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor | None:
    """The caller if a bearer token came (a bad one is still a 401), else anonymous."""
    if credentials is None:
        return None
    return await current_actor(request, credentials)


MaybeUser = Annotated[Actor | None, Depends(optional_actor)]


def require_role(*roles: str) -> Callable[[Actor], Actor]:
    def check(actor: CurrentUser) -> Actor:
        if actor.role not in roles and not actor.is_admin:
            raise Forbidden(f"this needs the role {' or '.join(roles)}", "auth.role_required")
        return actor
    return check


AdminUser = Annotated[Actor, Depends(require_role("admin"))]


async def instructor_self(instructor_id: UUID, actor: CurrentUser) -> Actor:
    access.ensure_instructor_self(actor, instructor_id)
    return actor


async def student_self(student_id: UUID, actor: CurrentUser) -> Actor:
    access.ensure_self_or_admin(actor, student_id, "enrollments")
    return actor


InstructorSelf = Annotated[Actor, Depends(instructor_self)]
StudentSelf = Annotated[Actor, Depends(student_self)]


async def consistency_token(
    x_consistency_token: Annotated[int | None, Header(
        alias="X-Consistency-Token", ge=0, le=MAX_POSITION,
        description="A write's `position`: answer only once the read models reflect it.")] = None,
    after_position: Annotated[int | None, Query(
        ge=0, le=MAX_POSITION, description="Same as the X-Consistency-Token header.")] = None,
) -> int | None:
    return requested_token(x_consistency_token, after_position)


class Reader:
    """Opens the request's snapshot of some projections, after waiting (bounded) until they
    reach the consistency token. Lazy, so that auth and input errors come first."""

    def __init__(self, request: Request, response: Response, token: int | None,
                 projections: tuple[str, ...]) -> None:
        self.state = request.app.state
        self.response = response
        self.token = token
        self.projections = projections

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Snapshot]:
        if self.token is not None:
            await self.state.watcher.wait(self.projections, self.token,
                                          self.state.settings.read_your_writes_timeout)
        settings = self.state.settings
        await self.state.faults.hit("postgres")  # chaos hook (nothing unless enabled and set)
        async with snapshot(self.state.pool, self.projections, settings.worker_topic_partitions,
                            settings.worker_topic_prefix) as snap:
            self.response.headers[READ_POSITION_HEADER] = str(snap.position)
            yield snap


def reading(*projections: str) -> Callable[..., Reader]:
    def dependency(request: Request, response: Response,
                   token: Annotated[int | None, Depends(consistency_token)]) -> Reader:
        return Reader(request, response, token, projections)
    return dependency


CatalogReader = Annotated[Reader, Depends(reading(p.COURSE_CATALOG))]
CourseReader = Annotated[Reader, Depends(reading(p.COURSE_DETAIL, p.COURSE_CATALOG))]
InstructorReader = Annotated[Reader, Depends(reading(p.INSTRUCTOR_COURSES))]
EnrollmentReader = Annotated[Reader, Depends(reading(p.STUDENT_ENROLLMENTS))]
RosterReader = Annotated[Reader, Depends(reading(p.COURSE_ROSTER, p.COURSE_CATALOG))]
