"""A course's modules and lessons nest in their stored order, positions from 0."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from query_api.reads.course_detail import assemble
from query_api.reads.sql import like_pattern


def test_lessons_nest_under_their_modules_in_order() -> None:
    m1, m2 = uuid4(), uuid4()
    l1, l2, l3 = uuid4(), uuid4(), uuid4()
    course = {"course_id": uuid4(), "instructor_id": uuid4(), "title": "T", "description": None,
              "tags": ["a"], "status": "READY", "content_version": 2, "ready_version": 2,
              "capacity": 10, "updated_at": datetime.now(UTC), "seats_available": 7}
    modules = [{"module_id": m1, "title": "One"}, {"module_id": m2, "title": "Two"}]
    lessons = [
        {"lesson_id": l1, "module_id": m1, "title": "a", "content_length": 3, "assets": None},
        {"lesson_id": l2, "module_id": m1, "title": "b", "content_length": 4, "assets": []},
        {"lesson_id": l3, "module_id": m2, "title": "c", "content_length": 5,
         "assets": [{"kind": "video"}]},
    ]
    detail = assemble(course, modules, lessons)
    assert [(m.module_id, m.position) for m in detail.modules] == [(m1, 0), (m2, 1)]
    assert [(x.lesson_id, x.position) for x in detail.modules[0].lessons] == [(l1, 0), (l2, 1)]
    assert detail.modules[1].lessons[0].assets == [{"kind": "video"}]
    assert (detail.description, detail.seats_available) == ("", 7)


def test_search_text_takes_like_wildcards_literally() -> None:
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"
