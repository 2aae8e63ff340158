"""course_catalog: course events become catalog row changes."""

from __future__ import annotations

from uuid import uuid4

from commands import messages as m
from projections.base import Change
from projections.read_models import course_catalog as catalog
from tests.unit.projections.given import last, platform, run, where


def test_a_created_course_is_a_draft_row() -> None:
    store, h = platform()
    course_id = uuid4()

    run(h.do(m.CreateCourse(course_id, "Event sourcing", "Why and how", ["es", "cqrs"],
                            capacity=30), h.instructor))

    [created] = store.events
    assert catalog.fold(created) == [Change(catalog.CREATED, where(
        created, instructor_id=h.instructor.user_id, title="Event sourcing",
        description="Why and how", tags=["es", "cqrs"], tag_text="es cqrs", capacity=30))]


def test_publishing_readiness_and_archiving_set_the_status() -> None:
    store, h = platform()
    course = run(h.course())
    run(h.do(m.MarkCourseReady(course.id, 1, uuid4(), 3), h.system))
    run(h.do(m.ArchiveCourse(course.id), h.instructor))

    published, ready, archived = (last(store, f"course.{t}")
                                  for t in ("published", "ready", "archived"))
    assert catalog.fold(published) == [Change(catalog.PUBLISHED,
                                              where(published, content_version=1))]
    assert catalog.fold(ready) == [Change(catalog.STATUS, where(ready, status="READY"))]
    assert catalog.fold(archived) == [Change(catalog.STATUS, where(archived, status="ARCHIVED"))]


def test_seats_follow_reservations_and_releases() -> None:
    store, h = platform()
    course = run(h.course())
    eid = run(h.enroll(course))
    run(h.do(m.CancelEnrollment(eid), h.enrollments[eid][1]))

    reserved, released = last(store, "course.seat_reserved"), last(store, "course.seat_released")
    assert catalog.fold(reserved) == [Change(catalog.SEATS, where(reserved, delta=1))]
    assert catalog.fold(released) == [Change(catalog.SEATS, where(released, delta=-1))]


def test_revisions_and_capacity_update_the_row() -> None:
    store, h = platform()
    course = run(h.course())
    run(h.do(m.ReviseCourseDetails(course.id, "New title", "New text", ["x"]), h.instructor))
    run(h.do(m.ChangeCapacity(course.id, 99), h.instructor))

    revised, resized = last(store, "course.details_revised"), last(store, "course.capacity_changed")
    assert catalog.fold(revised) == [Change(catalog.DETAILS_REVISED, where(
        revised, title="New title", description="New text", tags=["x"], tag_text="x"))]
    assert catalog.fold(resized) == [Change(catalog.CAPACITY_CHANGED, where(resized, capacity=99))]


def test_content_events_do_not_touch_the_catalog() -> None:
    store, h = platform()
    run(h.course(publish=False))

    assert [catalog.fold(last(store, t)) for t in ("course.module_added",
                                                   "course.lesson_added")] == [[], []]


def test_a_deleted_draft_leaves_the_catalog_and_a_restored_course_returns() -> None:
    store, h = platform()
    draft = run(h.course(publish=False))
    run(h.do(m.DeleteCourse(draft.id), h.instructor))
    live = run(h.course())
    run(h.do(m.ArchiveCourse(live.id), h.instructor))
    run(h.do(m.RestoreCourse(live.id), h.instructor))

    deleted, restored = last(store, "course.deleted"), last(store, "course.restored")
    assert catalog.fold(deleted) == [Change(catalog.DELETED, where(deleted))]
    assert catalog.fold(restored) == [Change(catalog.STATUS, where(restored, status="DRAFT"))]
