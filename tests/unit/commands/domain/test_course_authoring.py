"""Course authoring beyond adding: modules renamed, removed and reordered, lessons moved,
assets revised, drafts deleted, archived courses restored, quizzes kept on the course."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.domain.course import DELETED, DRAFT, READY, Course
from commands.domain.errors import Conflict, NotFound, RuleViolated
from tests.unit.commands.domain.test_course import (
    given_archived,
    given_draft,
    given_published,
    recorded,
)


def with_two_modules() -> tuple[Course, UUID, UUID]:
    course = given_draft(lessons=2)
    first = next(iter(course.modules))
    second = uuid4()
    course.add_module(second, "Second")
    course.add_lesson(second, uuid4(), "Only", "", [])
    course.collect_events()
    return course, first, second


def test_modules_are_renamed_reordered_and_removed_with_their_lessons() -> None:
    course, first, second = with_two_modules()
    doomed = course.modules[second]

    course.rename_module(first, "Foundations")
    course.rename_module(first, "Foundations")  # unchanged: nothing recorded
    course.reorder_modules([second, first])
    course.remove_module(second)

    assert recorded(course) == ["course.module_renamed", "course.modules_reordered",
                                "course.module_removed"]
    assert list(course.modules) == [first]
    assert course.module_titles[first] == "Foundations"
    assert not set(doomed) & set(course.lessons)


@pytest.mark.parametrize("order", ["none", "one", "dup", "stranger"])
def test_a_module_order_must_name_every_module_once(order: str) -> None:
    course, first, second = with_two_modules()
    given = {"none": [], "one": [first], "dup": [first, first],
             "stranger": [first, uuid4()]}[order]
    with pytest.raises(RuleViolated) as refused:
        course.reorder_modules(given)
    assert refused.value.code == "course.invalid_module_order"
    assert recorded(course) == []


def test_a_lesson_moves_within_its_module_and_across_modules() -> None:
    course, first, second = with_two_modules()
    a, b = course.modules[first]

    course.move_lesson(b, first, 0)
    assert course.modules[first] == (b, a)
    course.move_lesson(a, second, 1)
    assert course.modules[first] == (b,)
    assert course.modules[second][1] == a
    assert course.lessons[a]["module_id"] == second
    course.move_lesson(a, second, 1)  # already there: nothing recorded

    assert recorded(course) == ["course.lesson_moved", "course.lesson_moved"]
    with pytest.raises(RuleViolated) as refused:
        course.move_lesson(b, second, 5)
    assert refused.value.code == "course.invalid_lesson_index"
    with pytest.raises(NotFound):
        course.move_lesson(b, uuid4(), 0)


def test_a_lessons_assets_are_revised() -> None:
    course = given_draft(lessons=1)
    [lesson] = course.lessons
    assets = [{"name": "a.pdf", "url": "https://x.test/a.pdf", "mime_type": "application/pdf",
               "size_bytes": 10}]
    course.revise_lesson_assets(lesson, assets)
    course.revise_lesson_assets(lesson, assets)
    assert recorded(course) == ["course.lesson_assets_revised"]
    assert course.lessons[lesson]["assets"] == assets


def test_only_a_never_published_draft_is_deleted_and_then_it_is_gone() -> None:
    draft = given_draft(lessons=1)
    draft.delete()
    assert recorded(draft) == ["course.deleted"]
    assert draft.status == DELETED
    with pytest.raises(NotFound):
        draft.add_module(uuid4(), "Late")
    published = given_published()
    with pytest.raises(Conflict) as refused:
        published.delete()
    assert refused.value.code == "course.not_deletable"


def test_an_archived_course_is_restored_to_ready_and_a_live_one_is_not() -> None:
    course = given_archived()
    course.restore()
    assert recorded(course) == ["course.restored"]
    assert course.status == READY
    with pytest.raises(Conflict) as refused:
        course.restore()
    assert refused.value.code == "course.not_archived"


def test_an_archived_draft_is_restored_to_draft() -> None:
    course = given_draft(lessons=1)
    course.archive()
    course.restore()
    assert course.status == DRAFT


def quiz(course: Course, **fields: Any) -> dict[str, Any]:
    lesson = next(iter(course.lessons))
    return {"quiz_id": str(uuid4()), "title": "Check", "lesson_id": str(lesson),
            "module_id": None, "pass_mark": 50.0, "max_attempts": 0, "questions": [
                {"question_id": "q", "kind": "short_answer", "prompt": "Name it",
                 "options": [], "correct": [], "accepted_answers": ["log"], "points": 1.0}],
            **fields}


def test_quizzes_belong_to_one_lesson_or_module_and_go_with_it() -> None:
    course = given_draft(lessons=1)
    [lesson] = course.lessons
    module = next(iter(course.modules))
    on_lesson, on_module = quiz(course), quiz(course, lesson_id=None, module_id=str(module))
    course.add_quiz(on_lesson)
    course.add_quiz(on_module)
    with pytest.raises(RuleViolated) as both:
        course.add_quiz(quiz(course, module_id=str(module)))
    assert both.value.code == "quiz.invalid_target"
    with pytest.raises(Conflict):
        course.add_quiz(on_lesson)

    course.remove_lesson(lesson)
    assert set(course.quizzes) == {on_module["quiz_id"]}
    course.remove_module(module)
    assert course.quizzes == {}


def test_the_quiz_rules_name_the_quizzes_completion_needs() -> None:
    course = given_draft(lessons=1)
    course.add_quiz(q := quiz(course))
    assert course.required_quiz_ids == frozenset()
    course.set_quiz_rules("last", True)
    assert course.required_quiz_ids == {q["quiz_id"]}
    with pytest.raises(RuleViolated):
        course.set_quiz_rules("average", True)
