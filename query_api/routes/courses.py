"""The course catalog, a course's detail and its roster."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from commands.domain.errors import NotFound
from query_api import access
from query_api.deps import CatalogReader, CourseReader, CurrentUser, MaybeUser, RosterReader
from query_api.models import (
    CourseDetail,
    CourseStatus,
    CourseSummary,
    EnrollmentState,
    RosterEntry,
    read_responses,
)
from query_api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after
from query_api.reads import catalog, course_detail, roster

router = APIRouter(tags=["courses"])

NO_NUL = r"^[^\x00]*$"
Tag = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_NUL)]


@router.get("/courses", responses=read_responses(401, 403))
async def list_courses(
    user: MaybeUser,
    read: CatalogReader,
    q: Annotated[str | None, Query(
        min_length=1, max_length=200, pattern=NO_NUL,
        description="Words to find in the title, tags or description (full text with "
                    "stemming, and trigram similarity for typos); results are ranked.")] = None,
    tag: Annotated[list[Tag] | None, Query(
        max_length=10, description="Courses carrying every tag given (repeatable).")] = None,
    status: Annotated[CourseStatus | None, Query(
        description="Default: PUBLISHED and READY. DRAFT and ARCHIVED: instructors (their "
                    "own) and admins.")] = None,
    instructor_id: UUID | None = None,
    seats_available: Annotated[bool, Query(
        description="true: only courses with a free seat")] = False,
    sort: Annotated[Literal["relevance", "title"] | None, Query(
        description="Default: relevance when searching (`q`), else title.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CourseSummary]:
    """The catalog: published and ready courses by title, or ranked by relevance to `q`;
    filters by tag, instructor and free seats."""
    scope = access.catalog_scope(user, status, instructor_id)
    query = catalog.CatalogQuery(scope=scope, q=q, tags=tuple(tag or ()),
                                 with_seats=seats_available, by_title=sort == "title")
    start = after(cursor, query.sort_key)
    async with read() as snap:
        return await catalog.list_courses(snap.conn, query, limit, start)


@router.get("/courses/{course_id}", responses=read_responses(401, 404))
async def get_course(course_id: UUID, user: MaybeUser, read: CourseReader) -> CourseDetail:
    """A course with its modules and lessons in order, content version and free seats."""
    async with read() as snap:
        course = await course_detail.course_detail(snap.conn, course_id)
    if course is None:
        raise NotFound("no such course", "course.not_found")
    access.ensure_course_visible(user, course.instructor_id, course.status,
                                 course.content_version)
    return course


@router.get("/courses/{course_id}/roster", responses=read_responses(401, 403, 404))
async def get_roster(
    course_id: UUID,
    user: CurrentUser,
    read: RosterReader,
    state: EnrollmentState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[RosterEntry]:
    """The course's students with their progress, in enrollment order: for the course's
    instructor and admins."""
    start = after(cursor, roster.SORT_KEY)
    async with read() as snap:
        owner = await catalog.course_owner(snap.conn, course_id)
        if owner is None:
            raise NotFound("no such course", "course.not_found")
        access.ensure_course_owner(user, owner)
        return await roster.list_roster(snap.conn, course_id, state, limit, start)
