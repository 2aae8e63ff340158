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
        index=1, content_length=len("text " * 20), content=added.payload["content"],
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
        revised, lesson_id=first, title="Better title", content="longer text here",
        content_length=16))]
    gone = where(removed, lesson_id=second)
    assert detail.fold(removed) == [Change(detail.LESSON_REMOVED, gone),
                                    Change(detail.LESSON_QUIZZES_REMOVED, gone)]


def test_structure_events_set_indexes_from_the_order_they_carry() -> None:
    store, h = platform()
    course = run(h.course(modules=2, lessons=2, publish=False))
    first, second = course.modules
    a, b = course.modules[first]
    run(h.do(m.ReorderModules(course.id, [second, first]), h.instructor))
    run(h.do(m.MoveLesson(course.id, a, second, 0), h.instructor))
    run(h.do(m.RemoveModule(course.id, first), h.instructor))

    reordered = last(store, "course.modules_reordered")
    assert detail.fold(reordered) == [Change(detail.MODULE_ORDER, where(
        reordered, module_ids=[second, first]))]
    moved = last(store, "course.lesson_moved")
    assert detail.fold(moved) == [
        Change(detail.LESSON_ORDER, where(moved, module_id=first, lesson_ids=[b])),
        Change(detail.LESSON_ORDER, where(moved, module_id=second,
                                          lesson_ids=[a, *course.modules[second]]))]
    removed = last(store, "course.module_removed")
    assert detail.fold(removed) == [
        Change(detail.MODULE_REMOVED, where(removed, module_id=first, lesson_ids=[b])),
        Change(detail.MODULE_ORDER, where(removed, module_ids=[second]))]


def test_a_quiz_is_kept_with_its_answers_for_the_query_api_to_hide() -> None:
    store, h = platform()
    course = run(h.course(modules=1, lessons=1, publish=False))
    quiz = {"quiz_id": str(uuid4()), "title": "Check", "lesson_id": str(course.lessons[0]),
            "module_id": None, "pass_mark": 50.0, "max_attempts": 1, "questions": [
                {"question_id": "q", "kind": "multiple_choice", "prompt": "?",
                 "options": ["a", "b"], "correct": [1], "accepted_answers": [], "points": 1.0}]}
    run(h.do(m.AddQuiz(course.id, quiz), h.instructor))

    added = last(store, "course.quiz_added")
    [change] = detail.fold(added)
    assert change.statement is detail.QUIZ_SET
    assert json.loads(change.params["questions"]) == quiz["questions"]
    assert change.params["lesson_id"] == course.lessons[0]


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


def test_the_start_date_is_shown_from_creation_and_follows_its_changes() -> None:
    from dataclasses import replace

    store, h = platform()
    course = run(h.course(modules=1, lessons=1, publish=False))
    run(h.do(m.SetCourseStart(course.id, "2027-01-11T09:00:00+00:00"), h.instructor))
    run(h.do(m.SetCourseStart(course.id, None), h.instructor))

    created = last(store, "course.created")
    (change,) = detail.fold(created)
    assert change.params["starts_at"] is None  # created without one
    old = replace(created, payload={k: v for k, v in created.payload.items()
                                    if k != "starts_at"})  # written before start dates
    assert detail.fold(old)[0].params["starts_at"] is None
    moved = [e for e in store.events if e.event_type == "course.start_date_changed"]
    assert [detail.fold(e) for e in moved] == [
        [Change(detail.START_CHANGED, where(moved[0], starts_at="2027-01-11T09:00:00+00:00"))],
        [Change(detail.START_CHANGED, where(moved[1], starts_at=None))]]
