"""Stored assets on the course: given events, when a command, then events or a refusal."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from commands.domain.course import Course
from commands.domain.errors import Conflict, NotFound, RuleViolated
from commands.domain.limits import MAX_ASSETS_PER_LESSON

SHA = "a" * 64


def course_with_lessons(count: int = 2) -> tuple[Course, list[UUID]]:
    course = Course(id=uuid4(), instructor_id=uuid4(), title="T", description="", tags=[],
                    capacity=10, prerequisites=[])
    module = uuid4()
    course.add_module(module, "M")
    lessons = [uuid4() for _ in range(count)]
    for lesson in lessons:
        course.add_lesson(module, lesson, "L", "text", [])
    course.collect_events()
    return course, lessons


def types(course: Course) -> list[str]:
    return [type(e).__name__ for e in course.collect_events()]


def test_a_stored_asset_is_attached_then_revised_in_place_then_removed() -> None:
    course, (lesson, _) = course_with_lessons()
    first, second = uuid4(), uuid4()
    course.store_asset(lesson, first, "k/1", "a.pdf", "application/pdf", 10, SHA)
    course.store_asset(lesson, second, "k/2", "b.md", "text/markdown", 3, "b" * 64)
    course.store_asset(lesson, first, "k/3", "a2.pdf", "application/pdf", 12, "c" * 64)

    assert [(f["asset_id"], f["key"], f["name"]) for f in course.files_of(lesson)] == [
        (str(first), "k/3", "a2.pdf"), (str(second), "k/2", "b.md")]
    assert types(course) == ["AssetStored"] * 3

    course.remove_asset(lesson, first)
    assert [f["asset_id"] for f in course.files_of(lesson)] == [str(second)]
    with pytest.raises(NotFound, match="no such asset"):
        course.remove_asset(lesson, first)


def test_storing_the_same_key_again_is_a_no_op() -> None:
    course, (lesson, _) = course_with_lessons()
    asset = uuid4()
    course.store_asset(lesson, asset, "k/1", "a.pdf", "application/pdf", 10, SHA)
    course.collect_events()

    course.store_asset(lesson, asset, "k/1", "a.pdf", "application/pdf", 10, SHA)

    assert course.collect_events() == []


def test_an_asset_stays_with_its_lesson() -> None:
    course, (lesson, other) = course_with_lessons()
    asset = uuid4()
    course.store_asset(lesson, asset, "k/1", "a.pdf", "application/pdf", 10, SHA)

    with pytest.raises(Conflict) as refused:
        course.store_asset(other, asset, "k/2", "a.pdf", "application/pdf", 10, SHA)
    assert refused.value.code == "asset.in_other_lesson"


def test_a_lesson_holds_a_bounded_number_of_assets() -> None:
    course, (lesson, _) = course_with_lessons()
    for n in range(MAX_ASSETS_PER_LESSON):
        course.store_asset(lesson, uuid4(), f"k/{n}", "a.txt", "text/plain", 1, SHA)

    with pytest.raises(RuleViolated) as refused:
        course.store_asset(lesson, uuid4(), "k/x", "a.txt", "text/plain", 1, SHA)
    assert refused.value.code == "asset.too_many"


def test_a_presigned_upload_is_stored_only_when_the_measured_bytes_match() -> None:
    course, (lesson, _) = course_with_lessons()
    asset = uuid4()
    course.request_asset_upload(lesson, asset, "k/1", "a.pdf", "application/pdf", 10, SHA)
    assert types(course) == ["AssetUploadRequested"]

    with pytest.raises(RuleViolated) as size:
        course.confirm_asset_upload(lesson, asset, "k/1", 11, SHA)
    with pytest.raises(RuleViolated) as checksum:
        course.confirm_asset_upload(lesson, asset, "k/1", 10, "f" * 64)
    with pytest.raises(NotFound):
        course.confirm_asset_upload(lesson, asset, "k/other", 10, SHA)
    assert (size.value.code, checksum.value.code) == ("asset.size_mismatch",
                                                      "asset.checksum_mismatch")

    course.confirm_asset_upload(lesson, asset, "k/1", 10, SHA)
    [file] = course.files_of(lesson)
    assert (file["name"], file["mime_type"], file["size_bytes"]) == ("a.pdf",
                                                                     "application/pdf", 10)
    assert course.pending_uploads == {}
    assert types(course) == ["AssetStored"]
    course.confirm_asset_upload(lesson, asset, "k/1", 10, SHA)  # a retry: nothing new
    assert course.collect_events() == []


def test_a_change_of_assets_makes_the_next_publish_a_new_version() -> None:
    course, (lesson, _) = course_with_lessons()
    course.publish(uuid4())
    course.store_asset(lesson, uuid4(), "k/1", "a.txt", "text/plain", 1, SHA)

    course.publish(uuid4())

    assert course.content_version == 2


def test_replaying_the_events_rebuilds_the_same_files() -> None:
    course = Course(id=uuid4(), instructor_id=uuid4(), title="T", description="", tags=[],
                    capacity=10, prerequisites=[])
    module, lesson, kept, dropped = uuid4(), uuid4(), uuid4(), uuid4()
    course.add_module(module, "M")
    course.add_lesson(module, lesson, "L", "text", [])
    course.request_asset_upload(lesson, kept, "k/1", "a.pdf", "application/pdf", 10, SHA)
    course.confirm_asset_upload(lesson, kept, "k/1", 10, SHA)
    course.store_asset(lesson, dropped, "k/2", "b.txt", "text/plain", 1, SHA)
    course.remove_asset(lesson, dropped)

    rebuilt = None
    for event in course.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert rebuilt is not None
    assert rebuilt.files_of(lesson) == course.files_of(lesson)
    assert rebuilt.pending_uploads == course.pending_uploads == {}
