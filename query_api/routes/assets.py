"""Downloads of a lesson's stored assets, streamed from the object store to the lesson's
readers (enrolled students: the published version; its instructor and admins: the draft)."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from assets.rules import TYPES
from assets.store import ObjectMissing, shared_store
from commands.domain.errors import NotFound
from query_api import access
from query_api.deps import READ_POSITION_HEADER, MaybeUser
from query_api.models import read_responses
from query_api.reads import learning
from query_api.routes.learning import LearningReader, _course_for_learner

router = APIRouter(tags=["learning"])

_DOWNLOAD = read_responses(401, 403, 404)
_DOWNLOAD[200] = {
    "description": "the file's bytes, with its media type and length",
    "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in TYPES},
    "headers": {**_DOWNLOAD[200]["headers"],
                "Content-Length": {"schema": {"type": "integer"}},
                "Content-Disposition": {"schema": {"type": "string"}},
                "ETag": {"description": "the file's SHA-256", "schema": {"type": "string"}}},
}


@router.get("/courses/{course_id}/lessons/{lesson_id}/assets/{asset_id}",
            response_class=StreamingResponse, responses=_DOWNLOAD)
async def download_asset(course_id: UUID, lesson_id: UUID, asset_id: UUID, user: MaybeUser,
                         read: LearningReader, request: Request) -> StreamingResponse:
    """The stored asset's bytes, streamed: for students enrolled (active or completed) as
    last published, for the course's instructor and admins as it is now."""
    async with read() as snap:
        course = await _course_for_learner(snap.conn, course_id, user)
        authors = access.may_author(user, course.instructor_id)
        version = None if authors else course.content_version
        file = await learning.lesson_file(snap.conn, course_id, lesson_id, asset_id, version)
        position = snap.position
    if file is None:
        raise NotFound("no such asset in this lesson", "asset.not_found")
    store = shared_store(request.app.state)
    try:
        info, pieces = await run_in_threadpool(store.open, file["key"])
    except ObjectMissing:
        raise NotFound("the asset's file is no longer stored", "asset.file_missing") from None
    headers = {"Content-Length": str(info.size), "ETag": f'"{file["sha256"]}"',
               "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file['name'])}",
               READ_POSITION_HEADER: str(position)}
    return StreamingResponse(iterate_in_threadpool(pieces), media_type=file["mime_type"],
                             headers=headers)
