"""course_detail: the course page's details, modules and lessons."""

from __future__ import annotations

import json
from uuid import uuid4

from commands import messages as m
from projections.base import Change
from projections.read_models import course_detail as detail
from tests.unit.projections.given import last, platform, run, where


def test_modules_and_lessons_keep_their_index_and_content_facts() -> None:
    store, h = platform()
    course = run(h.course(modules=2, lessons=2, publish=False))
    module = list(course.modules)[1]
    lesson = course.modules[module][1]

    added = next(e for e in store.events if e.event_type == "course.lesson_added"
                 and e.payload["lesson_id"] == str(lesson))
    assert detail.fold(added) == [Change(detail.LESSON_ADDED, where(
        added, lesson_id=lesson, module_id=module, title="Lesson 1.1",
        index=1, content_length=len("text " * 20),
        assets=json.dumps([{**detail.ASSET_DEFAULTS, **a} for a in added.payload["assets"]],
                          sort_keys=True)))]
    module_added = [e for e in store.events if e.event_type == "course.module_added"][1]
    assert detail.fold(module_added) == [Change(detail.MODULE_ADDED, where(
        module_added, module_id=module, title="Module 1", index=1))]


def test_lesson_revisions_and_removals_name_the_lesson() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=2))
    first, second = course.lessons
    run(h.do(m.ReviseLesson(course.id, first, "Better title", "longer text here"), h.instructor))
    run(h.do(m.RemoveLesson(course.id, second), h.instructor))

    revised, removed = last(store, "course.lesson_revised"), last(store, "course.lesson_removed")
    assert detail.fold(revised) == [Change(detail.LESSON_REVISED, where(
        revised, lesson_id=first, title="Better title", content_length=16))]
    assert detail.fold(removed) == [Change(detail.LESSON_REMOVED, where(removed, lesson_id=second))]


def test_ready_records_the_ready_content_version_and_seats_are_not_shown() -> None:
    store, h = platform()
    course = run(h.course())
    run(h.do(m.MarkCourseReady(course.id, 1, uuid4(), 4), h.system))
    run(h.enroll(course))

    ready = last(store, "course.ready")
    assert detail.fold(ready) == [Change(detail.READY, where(ready, content_version=1))]
    assert detail.fold(last(store, "course.seat_reserved")) == []


def test_an_old_event_with_the_index_under_its_former_name_still_folds() -> None:
    store, h = platform()
    run(h.course(modules=1, lessons=1, publish=False))
    event = last(store, "course.module_added")
    payload = {k: v for k, v in event.payload.items() if k != "index"}
    legacy = type(event)(**{**vars(event), "payload": {**payload, "position": 0}})

    assert detail.fold(legacy) == detail.fold(event)
