"""Lesson assets in the real object store (S3Proxy) through the real APIs: direct and
presigned uploads with their refusals, revisions and removal, downloads for the lesson's
readers only, and an uploaded PDF's text found by semantic search once published."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from assets.store import ObjectStore
from projections.content.search import close_searches
from smartcourse.bootstrap import open_write_side
from smartcourse.settings import Settings
from streams.workflows.publishing import RetryPolicy
from streams.workflows.wiring import open_publishing
from tests.integration.test_authoring import Authoring, activate, ok, reader, refused
from tests.integration.test_query_api import ReadModels
from tests.support.assets import pdf_with, sha256, streamed_upload, upload
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.integration

NOTES = b"# Tides\n\nThe moon pulls the sea twice a day.\n"


@pytest.fixture(scope="module")
def read_models(stack: Settings) -> ReadModels:
    return ReadModels(stack)


@pytest.fixture(scope="module")
def store(stack: Settings) -> ObjectStore:
    return ObjectStore.from_settings(stack)


def keys_under(store: ObjectStore, course_id: str) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"courses/{course_id}/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def files_seen(query_api: str, stack: Settings, client: CommandClient, course_id: str,
               lesson_id: str, read_models: ReadModels) -> list[dict[str, Any]]:
    read_models.catch_up()
    return reader(query_api, stack, client).ok(
        f"/courses/{course_id}/lessons/{lesson_id}")["files"]


def test_a_direct_upload_is_stored_with_its_metadata_and_refusals_store_nothing(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels,
    store: ObjectStore,
) -> None:
    a = Authoring(command_api)
    _, (lesson,) = a.module("Only", 1)

    stored = ok(upload(a.instructor, a.course_id, lesson, "tides.md", NOTES, "text/markdown"),
                201)
    assert (stored["name"], stored["mime_type"], stored["size_bytes"], stored["sha256"]) == (
        "tides.md", "text/markdown", len(NOTES), sha256(NOTES))
    assert len(keys_under(store, a.course_id)) == 1

    limit = stack.asset_max_bytes
    refused(upload(a.instructor, a.course_id, lesson, "tool.exe", b"MZ\x90\x00",
                   "application/x-msdownload"), 415, "asset.unsupported_type")
    refused(upload(a.instructor, a.course_id, lesson, "fake.pdf", b"just words",
                   "application/pdf"), 422, "asset.content_mismatch")
    refused(upload(a.instructor, a.course_id, lesson, "empty.txt", b"", "text/plain"),
            422, "asset.empty")
    big = b"%PDF-1.4\n" + b"0" * (limit + 70 * 1024)  # past the form's allowance too
    refused(upload(a.instructor, a.course_id, lesson, "big.pdf", big, "application/pdf"),
            413, "asset.too_large")  # by Content-Length, before reading
    refused(streamed_upload(a.instructor, a.course_id, lesson, "big.pdf", "application/pdf",
                            b"%PDF-1.4\n", limit + 1), 413, "asset.too_large")  # counted
    other = CommandClient(command_api, role="instructor")
    refused(upload(other, a.course_id, lesson, "tides.md", NOTES, "text/markdown"),
            403, "course.not_owner")
    refused(upload(a.instructor, a.course_id, str(uuid4()), "tides.md", NOTES,
                   "text/markdown"), 404, "course.lesson_not_found")
    refused(a.instructor.http.post(f"/courses/{a.course_id}/lessons/{lesson}/assets",
                                   json={"file": "x"}, headers=a.instructor.headers),
            415, "asset.unsupported_type")

    assert len(keys_under(store, a.course_id)) == 1  # the refusals left nothing behind
    [file] = files_seen(query_api, stack, a.instructor, a.course_id, lesson, read_models)
    assert (file["asset_id"], file["size_bytes"], file["sha256"]) == (
        stored["asset_id"], len(NOTES), sha256(NOTES))


def test_enrolled_students_download_the_published_file_and_others_are_refused(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels,
) -> None:
    a = Authoring(command_api)
    _, (lesson,) = a.module("Only", 1)
    paper = pdf_with("Field notes on estuaries and their birds.")
    asset = ok(upload(a.instructor, a.course_id, lesson, "notes.pdf", paper,
                      "application/pdf"), 201)["asset_id"]
    ok(a.post("/publish"), 202)
    student = CommandClient(command_api)
    enrollment = ok(student.post(f"/courses/{a.course_id}/enroll"), 202)["enrollment_id"]
    activate(command_api, enrollment)
    read_models.catch_up()
    path = f"/courses/{a.course_id}/lessons/{lesson}/assets/{asset}"

    [listed] = reader(query_api, stack, student).ok(
        f"/courses/{a.course_id}/lessons/{lesson}")["files"]
    assert listed["download_path"] == path
    got = reader(query_api, stack, student).get(path)
    assert got.status_code == 200, got.text
    assert got.content == paper
    assert got.headers["content-type"] == "application/pdf"
    assert int(got.headers["content-length"]) == len(paper)
    assert got.headers["etag"] == f'"{sha256(paper)}"'
    stranger = reader(query_api, stack, CommandClient(command_api))
    refused_read = stranger.get(path)
    assert refused_read.status_code == 403, refused_read.text
    assert refused_read.json()["error"]["code"] == "course.not_enrolled"
    assert reader(query_api, stack, None).get(path).status_code == 401
    missing = reader(query_api, stack, student).get(
        f"/courses/{a.course_id}/lessons/{lesson}/assets/{uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "asset.not_found"

    # A revision and a removal in the draft: students keep the published file.
    revised = pdf_with("A second edition of the field notes.")
    ok(upload(a.instructor, a.course_id, lesson, "notes.pdf", revised, "application/pdf",
              asset_id=asset, method="PUT"), 201)
    read_models.catch_up()
    assert reader(query_api, stack, student).get(path).content == paper
    assert reader(query_api, stack, a.instructor).get(path).content == revised
    ok(a.instructor.http.delete(path, headers=a.instructor.headers))
    refused(a.instructor.http.delete(path, headers=a.instructor.headers), 404,
            "asset.not_found")
    assert files_seen(query_api, stack, a.instructor, a.course_id, lesson, read_models) == []
    assert reader(query_api, stack, student).get(path).content == paper


def test_a_presigned_upload_is_confirmed_only_when_its_bytes_match(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels,
    store: ObjectStore,
) -> None:
    a = Authoring(command_api)
    _, (lesson,) = a.module("Only", 1)
    uploads = f"/courses/{a.course_id}/lessons/{lesson}/asset-uploads"
    declared = {"name": "tides.md", "mime_type": "text/markdown", "size_bytes": len(NOTES),
                "sha256": sha256(NOTES)}

    granted = ok(a.instructor.post(uploads, declared), 201)
    confirm = f"{uploads}/{granted['upload_id']}/confirm"
    refused(a.instructor.post(confirm, {"asset_id": granted["asset_id"]}), 422,
            "asset.not_uploaded")
    put = httpx.put(granted["url"], content=NOTES, headers=granted["headers"], timeout=30)
    assert put.status_code == 200, put.text
    confirmed = ok(a.instructor.post(confirm, {"asset_id": granted["asset_id"]}), 201)
    assert (confirmed["size_bytes"], confirmed["sha256"]) == (len(NOTES), sha256(NOTES))
    [file] = files_seen(query_api, stack, a.instructor, a.course_id, lesson, read_models)
    assert (file["name"], file["mime_type"], file["sha256"]) == (
        "tides.md", "text/markdown", sha256(NOTES))

    # Other bytes than declared: refused on confirm, and removed from the store.
    tampered = ok(a.instructor.post(uploads, declared), 201)
    httpx.put(tampered["url"], content=NOTES.upper(), headers=tampered["headers"],
              timeout=30).raise_for_status()
    refused(a.instructor.post(f"{uploads}/{tampered['upload_id']}/confirm",
                              {"asset_id": tampered["asset_id"]}), 422,
            "asset.checksum_mismatch")
    assert not any(tampered["upload_id"] in k for k in keys_under(store, a.course_id))
    # Refused up front: a type lessons do not take, a file over the limit, another owner.
    refused(a.instructor.post(uploads, {**declared, "name": "a.gif", "mime_type": "image/gif"}),
            415, "asset.unsupported_type")
    refused(a.instructor.post(uploads, {**declared, "size_bytes": stack.asset_max_bytes + 1}),
            413, "asset.too_large")
    refused(CommandClient(command_api, role="instructor").post(uploads, declared), 403,
            "course.not_owner")
    # The URL is the store's own signature: another content type is refused by S3.
    wrong = httpx.put(granted["url"], content=NOTES, headers={"Content-Type": "text/plain"},
                      timeout=30)
    assert wrong.status_code == 403


def test_an_uploaded_pdfs_sentence_is_found_by_semantic_search_after_publishing(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels,
) -> None:
    a = Authoring(command_api)
    module = ok(a.instructor.post(f"/courses/{a.course_id}/modules", {"title": "Harbours"}),
                201)["module_id"]
    lesson = ok(a.instructor.post(f"/courses/{a.course_id}/modules/{module}/lessons", {
        "title": "Harbour schedules",
        "content": "Ferries leave the harbour at fixed hours. Freight is loaded at dawn."}),
        201)["lesson_id"]
    sentence = ("The lighthouse keeper writes down every aurora she sees in a copper-bound "
                "notebook kept beside the lamp.")
    paper = pdf_with("Appendix.", sentence)
    ok(upload(a.instructor, a.course_id, lesson, "keeper.pdf", paper, "application/pdf"), 201)
    ok(a.post("/publish"), 202)

    asyncio.run(_run_publishing(stack, UUID(a.course_id)))
    read_models.catch_up()

    # The query API loads the embedding model on its first search: a generous timeout.
    found = searched(reader(query_api, stack, a.instructor), f"/courses/{a.course_id}/search",
                     q="Who records the northern lights in a notebook?", k=3)
    best = found["hits"][0]
    assert best["lesson_id"] == lesson and "copper-bound notebook" in best["text"], found
    assert "keeper.pdf" in best["text"]  # the file's name heads its text in the chunk
    across = searched(reader(query_api, stack, None), "/search",
                      q="lighthouse keeper notebook of auroras", k=10)
    assert a.course_id in [c["course_id"] for c in across["courses"]], across


def searched(client: Any, path: str, **params: Any) -> dict[str, Any]:
    answer = client.http.get(path, params=params, timeout=300)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _run_publishing(settings: Settings, course_id: UUID) -> None:
    """What the workflow worker does with the course.published the store recorded."""
    side = await open_write_side(settings)
    try:
        [published] = [e for e in await side.store.load(course_id)
                       if e.event_type == "course.published"]
        async with open_publishing(settings, policy=RetryPolicy(attempts=2, base_delay=0.01,
                                                                max_delay=0.02)) as workflow:
            state = await workflow.handle(published)
        assert state is not None and state.state == "READY", state
    finally:
        await close_searches()
        await side.close()
