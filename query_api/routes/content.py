"""Course content: the publishing workflow's progress and semantic search over lessons."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from psycopg.errors import UndefinedTable
from pydantic import StringConstraints

from commands.domain.errors import Forbidden, NotFound
from projections.content.search import MAX_K, catalog_search, semantic_search
from projections.content.store import workflow_status
from query_api.deps import CatalogReader, CourseReader, CurrentUser, MaybeUser
from query_api.models import read_responses
from query_api.reads import course_detail

router = APIRouter(tags=["content"])

SearchText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=500, pattern=r"^[^\x00]*$")]
VISIBLE = ("PUBLISHED", "READY")


@router.get("/workflows/{workflow_id}", responses=read_responses(401, 403, 404))
async def get_workflow(workflow_id: UUID, actor: CurrentUser, request: Request,
                       read: CourseReader) -> dict[str, Any]:
    """A publishing workflow (the `workflow_id` of POST /courses/{id}/publish): its state
    (QUEUED, CHUNKING, EMBEDDING, INDEXING, READY, FAILED), steps done and error."""
    try:
        async with request.app.state.pool.connection() as conn:
            status = await workflow_status(conn, workflow_id)
    except UndefinedTable:
        status = None
    if status is None:
        raise NotFound("no such workflow (or it has not started yet: it is QUEUED)",
                       "workflow.not_found")
    async with read() as snap:
        course = await course_detail.course_detail(snap.conn, status.course_id)
    if not actor.is_admin and (course is None or course.instructor_id != actor.user_id):
        raise Forbidden("only the course's instructor may follow its workflow",
                        "workflow.not_owner")
    return asdict(status)


@router.get("/courses/{course_id}/search", responses=read_responses(401, 404))
async def search_course(
    course_id: UUID, user: MaybeUser, request: Request, read: CourseReader,
    q: Annotated[SearchText, Query(description="What to look for, in plain words.")],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many chunks.")] = 5,
) -> dict[str, Any]:
    """Lesson passages nearest in meaning to `q`, from the course's ready content version,
    best first, each citing its lesson."""
    async with read() as snap:
        course = await course_detail.course_detail(snap.conn, course_id)
    own = user is not None and (user.is_admin or course is not None
                                and course.instructor_id == user.user_id)
    if course is None or (course.status not in VISIBLE and not own):
        raise NotFound("no such course", "course.not_found")
    hits = await semantic_search(request.app.state.settings, course_id, q, k)
    return {"course_id": str(course_id), "query": q,
            "hits": [{**asdict(hit), "score": round(hit.score, 4)} for hit in hits]}


PUBLIC = ("SELECT course_id, title FROM read_models.catalog_courses"
          " WHERE course_id = ANY(%s) AND status IN ('PUBLISHED', 'READY')")


@router.get("/search", responses=read_responses())
async def search_catalog(
    request: Request, read: CatalogReader,
    q: Annotated[SearchText, Query(description="What to look for, in plain words.")],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many courses.")] = 5,
) -> dict[str, Any]:
    """Semantic search across the catalog: published courses whose ready content is nearest
    in meaning to `q`, best first, each with its best passages (citing their lessons)."""
    hits = await catalog_search(request.app.state.settings, q, k)
    async with read() as snap:
        cur = await snap.conn.execute(PUBLIC, [list({h.course_id for h in hits})])
        titles = dict(await cur.fetchall())
    courses: dict[UUID, dict[str, Any]] = {}
    for hit in hits:
        if hit.course_id not in titles:
            continue  # archived, deleted or not public
        course = courses.setdefault(hit.course_id, {
            "course_id": str(hit.course_id), "title": titles[hit.course_id],
            "score": round(hit.score, 4), "hits": []})
        course["hits"].append({**asdict(hit), "score": round(hit.score, 4)})
    return {"query": q, "courses": list(courses.values())}
