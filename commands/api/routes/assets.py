"""Lesson assets in object storage: direct (streamed multipart) and presigned uploads,
revisions of an asset's file, removal (docs/adr/0040).

The bytes go to the object store; the metadata (type, size, SHA-256, key) becomes events on
the course. Every refusal the command would give (403/404/409) is checked before a byte is
stored, the type on the file's headers and first bytes (415/422), the size by its
Content-Length and while it streams (413).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from assets import rules, upload
from assets.store import ObjectMissing, asset_key, shared_store
from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import Body, Written
from commands.domain.errors import RuleViolated, SmartCourseError
from commands.unit_of_work import CommandResult
from identity.http import errors as shared

shared.register_status(rules.AssetTooLarge, 413)
shared.register_status(rules.UnsupportedAssetType, 415)

router = APIRouter(prefix="/courses", tags=["assets"])

MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file in the form
FILE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "additionalProperties": False,
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "the file, with a file name and its media type"}},
}}}}, "x-idempotency": "asset_id"}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "the file is larger than an asset may be (asset.too_large) or the "
                         "body larger than the upload limit (request.too_large)"},
    415: {"description": "not a type lessons accept (asset.unsupported_type), or not "
                         "multipart/form-data"},
}


def body_limits(settings: Any) -> list[tuple[str, int]]:
    """The upload routes take bodies up to an asset's limit (plus the form around it)."""
    uuid = "[0-9a-fA-F-]{36}"
    # Above the route's own Content-Length check, so a file just over the limit gets
    # asset.too_large; the middleware's request.too_large stops anything far larger.
    limit = settings.asset_max_bytes + 2 * MULTIPART_OVERHEAD
    return [(f"/courses/{uuid}/lessons/{uuid}/assets(/{uuid})?", limit)]


class AssetWritten(Written):
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    name: str
    mime_type: str
    size_bytes: int
    sha256: str


class AssetConfirmed(Written):
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    mime_type: str
    size_bytes: int
    sha256: str


class AssetRemoved(Written):
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID


class UploadRequestBody(Body):
    name: str = Field(min_length=1, max_length=200)
    mime_type: str = Field(min_length=1, max_length=100)
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$",
                        description="SHA-256 of the file, lowercase hex; checked on confirm")
    asset_id: UUID | None = Field(default=None, description="an existing asset to revise, or "
                                  "the new asset's id (made if absent)")


class UploadGranted(Written):
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    upload_id: UUID
    url: str = Field(description="PUT the bytes here, straight to the object store")
    method: str = "PUT"
    headers: dict[str, str] = Field(description="send these headers with the PUT")
    expires_in: int = Field(description="seconds the URL stays valid")


def _no_idempotency_key(request: Request) -> None:
    if request.headers.get("Idempotency-Key") is not None:
        raise RuleViolated("uploads are not replayed by Idempotency-Key: retry with the same "
                           "asset_id instead (storing the same asset twice is harmless)",
                           "idempotency.unsupported")


async def _receive(course_id: UUID, lesson_id: UUID, asset_id: UUID, request: Request,
                   commands: Commands) -> Any:
    _no_idempotency_key(request)
    settings = request.app.state.settings
    limit = settings.asset_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and \
            int(declared) > limit + MULTIPART_OVERHEAD:
        raise rules.AssetTooLarge(f"an asset has at most {limit} bytes; this request has "
                                  f"{declared}", limit=limit, size=int(declared))
    upload.boundary_of(request.headers.get("content-type", ""))  # 415 before anything else
    # Ownership, the lesson, the asset's place: refused before a byte is stored.
    await commands.run(m.CheckAssetTarget(course_id, lesson_id, asset_id), lambda r: {})
    store = shared_store(request.app.state)
    key = asset_key(course_id, lesson_id, asset_id, uuid4())
    received = await upload.receive(request.stream(), request.headers["content-type"], store,
                                    key, limit)
    command = m.StoreLessonAsset(course_id, lesson_id, asset_id, key, received.name,
                                 received.mime_type, received.size_bytes, received.sha256)
    try:
        return await commands.run(command, _written(command), status_code=201)
    except SmartCourseError:
        await run_in_threadpool(store.delete, key)  # refused meanwhile: no orphan bytes
        raise


def _written(command: m.StoreLessonAsset) -> Any:
    def respond(result: CommandResult) -> dict[str, object]:
        return {"course_id": str(command.course_id), "lesson_id": str(command.lesson_id),
                "asset_id": str(command.asset_id), "name": command.name,
                "mime_type": command.mime_type, "size_bytes": command.size_bytes,
                "sha256": command.sha256}
    return respond


@router.post("/{course_id}/lessons/{lesson_id}/assets", status_code=201,
             response_model=AssetWritten, openapi_extra=FILE_BODY, responses=UPLOAD_ERRORS)
async def upload_asset(course_id: UUID, lesson_id: UUID, request: Request, commands: Commands,
                       asset_id: Annotated[UUID | None, Query(
                           description="the new asset's id (made if absent); the same id "
                                       "makes a retry harmless")] = None):
    """Upload a file to the lesson (multipart/form-data, one part `file`), streamed to the
    object store. PDF, Markdown, HTML and plain text are searchable once the course is
    published; PNG and JPEG are stored as they are."""
    return await _receive(course_id, lesson_id, asset_id or uuid4(), request, commands)


@router.put("/{course_id}/lessons/{lesson_id}/assets/{asset_id}", status_code=201,
            response_model=AssetWritten, openapi_extra=FILE_BODY, responses=UPLOAD_ERRORS)
async def revise_asset(course_id: UUID, lesson_id: UUID, asset_id: UUID, request: Request,
                       commands: Commands):
    """Replace the asset's file with a new upload (published versions keep the old one)."""
    return await _receive(course_id, lesson_id, asset_id, request, commands)


@router.delete("/{course_id}/lessons/{lesson_id}/assets/{asset_id}",
               response_model=AssetRemoved)
async def remove_asset(course_id: UUID, lesson_id: UUID, asset_id: UUID, commands: Commands):
    """Remove the asset from the lesson (published versions keep their copy)."""
    command = m.RemoveLessonAsset(course_id, lesson_id, asset_id)
    return await commands.run(command, lambda r: {
        "course_id": str(course_id), "lesson_id": str(lesson_id), "asset_id": str(asset_id)})


@router.post("/{course_id}/lessons/{lesson_id}/asset-uploads", status_code=201,
             response_model=UploadGranted, responses={413: UPLOAD_ERRORS[413],
                                                      415: UPLOAD_ERRORS[415]})
async def request_upload(course_id: UUID, lesson_id: UUID, body: UploadRequestBody,
                         request: Request, commands: Commands):
    """A presigned URL to PUT the file straight to the object store; then confirm it
    (`…/asset-uploads/{upload_id}/confirm`), which checks its size and SHA-256."""
    settings = request.app.state.settings
    name = rules.check_name(body.name)
    mime_type = rules.media_type(body.mime_type, name)
    rules.check_size(body.size_bytes, settings.asset_max_bytes)
    asset_id, upload_id = body.asset_id or uuid4(), uuid4()
    key = asset_key(course_id, lesson_id, asset_id, upload_id)
    command = m.RequestAssetUpload(course_id, lesson_id, asset_id, key, name, mime_type,
                                   body.size_bytes, body.sha256)
    store = shared_store(request.app.state)
    expires = settings.asset_presign_seconds
    url = await run_in_threadpool(store.presign_put, key, mime_type, expires)
    return await commands.run(command, lambda r: {
        "course_id": str(course_id), "lesson_id": str(lesson_id), "asset_id": str(asset_id),
        "upload_id": str(upload_id), "url": url, "method": "PUT",
        "headers": {"Content-Type": mime_type}, "expires_in": expires}, status_code=201)


class ConfirmBody(Body):
    asset_id: UUID


@router.post("/{course_id}/lessons/{lesson_id}/asset-uploads/{upload_id}/confirm",
             status_code=201, response_model=AssetConfirmed, responses=UPLOAD_ERRORS)
async def confirm_upload(course_id: UUID, lesson_id: UUID, upload_id: UUID, body: ConfirmBody,
                         request: Request, commands: Commands):
    """The presigned upload is done: its bytes are measured in the store (size, SHA-256,
    first bytes) and, when they match what was declared, become the asset's file."""
    settings = request.app.state.settings
    await commands.run(m.CheckAssetTarget(course_id, lesson_id, body.asset_id), lambda r: {})
    store = shared_store(request.app.state)
    key = asset_key(course_id, lesson_id, body.asset_id, upload_id)
    try:
        head = await run_in_threadpool(store.head, key)
    except ObjectMissing:
        raise RuleViolated("nothing was uploaded to this URL yet", "asset.not_uploaded") \
            from None
    try:
        rules.check_size(head.size, settings.asset_max_bytes)
        info, sha256, first = await run_in_threadpool(store.sha256, key)
        rules.check_content(rules.media_type(info.content_type, ""), first)
        command = m.ConfirmAssetUpload(course_id, lesson_id, body.asset_id, key, info.size,
                                       sha256)
        return await commands.run(command, lambda r: {
            "course_id": str(course_id), "lesson_id": str(lesson_id),
            "asset_id": str(body.asset_id), "mime_type": info.content_type,
            "size_bytes": info.size, "sha256": sha256}, status_code=201)
    except SmartCourseError:
        await run_in_threadpool(store.delete, key)  # refused bytes do not stay behind
        raise
