"""Authoring and learning through the real APIs: every new command with its refusals, and
what students and instructors then read (read models fed from the event store)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from smartcourse.settings import Settings
from tests.integration.test_query_api import Reader, ReadModels
from tests.support.command_client import CommandClient
from tests.support.quizzes import answers_for, choice_quiz


@pytest.fixture(scope="module")
def read_models(stack: Settings) -> ReadModels:
    return ReadModels(stack)


def ok(reply: Any, status: int = 200) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    return reply.json()


def refused(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code, reply.text
    return reply.json()


def activate(command_api: str, enrollment: str) -> None:
    """What the enrollment workflow does on its own (students never activate their own)."""
    ok(CommandClient(command_api, role="admin").post(f"/enrollments/{enrollment}/activate"))


def reader(query_api: str, settings: Settings, client: CommandClient) -> Reader:
    return Reader(query_api, client)


class Authoring:
    """An instructor's course with modules of lessons, written through the command API."""

    def __init__(self, command_api: str, **course: Any) -> None:
        self.instructor = CommandClient(command_api, role="instructor")
        self.course_id = ok(self.instructor.post("/courses", {"title": "Authoring", **course}),
                            201)["course_id"]
        self.modules: list[str] = []

    def module(self, title: str, lessons: int) -> tuple[str, list[str]]:
        module_id = ok(self.instructor.post(f"/courses/{self.course_id}/modules",
                                            {"title": title}), 201)["module_id"]
        self.modules.append(module_id)
        lesson_ids = [ok(self.instructor.post(
            f"/courses/{self.course_id}/modules/{module_id}/lessons",
            {"title": f"{title} {n}", "content": f"The text of {title} {n}."}), 201)["lesson_id"]
            for n in range(lessons)]
        return module_id, lesson_ids

    def put(self, path: str, body: Any) -> Any:
        return self.instructor.put(f"/courses/{self.course_id}{path}", body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.instructor.post(f"/courses/{self.course_id}{path}", body)

    def delete(self, path: str = "") -> Any:
        return self.instructor.http.delete(f"/courses/{self.course_id}{path}",
                                           headers=self.instructor.headers)


def outline(detail: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(m["title"], [lesson["lesson_id"] for lesson in m["lessons"]])
            for m in detail["modules"]]


def test_modules_are_renamed_reordered_and_removed(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    first, first_lessons = a.module("First", 2)
    second, second_lessons = a.module("Second", 1)
    third, _ = a.module("Third", 1)

    ok(a.put(f"/modules/{first}", {"title": "Foundations"}))
    ok(a.put("/module-order", {"module_ids": [second, first, third]}))
    refused(a.put("/module-order", {"module_ids": [second, first]}), 422,
            "course.invalid_module_order")
    refused(a.put(f"/modules/{uuid4()}", {"title": "Nope"}), 404, "course.module_not_found")
    stranger = CommandClient(command_api, role="instructor")
    refused(stranger.put(f"/courses/{a.course_id}/modules/{first}", {"title": "Mine"}), 403,
            "course.not_owner")
    ok(a.delete(f"/modules/{third}"))

    read_models.catch_up()
    detail = reader(query_api, stack, a.instructor).ok(f"/courses/{a.course_id}")
    assert outline(detail) == [("Second", second_lessons), ("Foundations", first_lessons)]
    assert [m["position"] for m in detail["modules"]] == [0, 1]


def test_lessons_move_within_and_across_modules(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    first, (l0, l1, l2) = a.module("First", 3)
    second, (m0,) = a.module("Second", 1)

    ok(a.put(f"/lessons/{l2}/place", {"module_id": first, "index": 0}))  # reorder
    ok(a.put(f"/lessons/{l0}/place", {"module_id": second, "index": 0}))  # across modules
    refused(a.put(f"/lessons/{l1}/place", {"module_id": second, "index": 9}), 422,
            "course.invalid_lesson_index")
    refused(a.put(f"/lessons/{uuid4()}/place", {"module_id": second, "index": 0}), 404,
            "course.lesson_not_found")

    read_models.catch_up()
    detail = reader(query_api, stack, a.instructor).ok(f"/courses/{a.course_id}")
    assert outline(detail) == [("First", [l2, l1]), ("Second", [l0, m0])]
    assert [lesson["position"] for lesson in detail["modules"][1]["lessons"]] == [0, 1]


def test_a_lessons_assets_are_revised_after_it_was_created(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    _, (lesson,) = a.module("Only", 1)
    assets = [{"name": "slides.pdf", "url": "https://files.test/slides.pdf",
               "mime_type": "application/pdf", "size_bytes": 2048}]

    ok(a.put(f"/lessons/{lesson}/assets", {"assets": assets}))
    refused(a.put(f"/lessons/{lesson}/assets", {"assets": [{"url": "x"}]}), 422,
            "request.invalid")

    read_models.catch_up()
    detail = reader(query_api, stack, a.instructor).ok(f"/courses/{a.course_id}")
    assert detail["modules"][0]["lessons"][0]["assets"] == assets


def test_a_draft_is_deleted_and_an_archived_course_is_restored(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    draft = Authoring(command_api)
    draft.module("Only", 1)
    assert ok(draft.delete())["status"] == "DELETED"
    refused(draft.delete(), 404, "course.not_found")
    refused(draft.post("/modules", {"title": "Late"}), 404, "course.not_found")

    live = Authoring(command_api)
    live.module("Only", 1)
    ok(live.post("/publish"), 202)
    refused(live.delete(), 409, "course.not_deletable")
    refused(live.post("/restore"), 409, "course.not_archived")
    ok(live.post("/archive"))
    restored = ok(live.post("/restore"))
    assert restored["status"] in ("PUBLISHED", "DRAFT")  # not ready yet: back to a draft

    read_models.catch_up()
    owner = reader(query_api, stack, draft.instructor)
    owner.refused(f"/courses/{draft.course_id}", 404, "course.not_found")
    assert reader(query_api, stack, live.instructor).ok(
        f"/courses/{live.course_id}")["status"] == restored["status"]


def test_prerequisite_cycles_are_refused_on_the_write_side(command_api: str) -> None:
    instructor = CommandClient(command_api, role="instructor")
    a, b, c = (instructor.create_course(title) for title in "ABC")

    ok(instructor.put(f"/courses/{b}/prerequisites", {"prerequisites": [a]}))
    ok(instructor.put(f"/courses/{c}/prerequisites", {"prerequisites": [b]}))
    two = refused(instructor.put(f"/courses/{a}/prerequisites", {"prerequisites": [b]}), 422,
                  "course.prerequisite_cycle")
    three = refused(instructor.put(f"/courses/{a}/prerequisites", {"prerequisites": [c]}), 422,
                    "course.prerequisite_cycle")

    assert two["error"]["cycle"] == [a, b, a]
    assert three["error"]["cycle"] == [a, c, b, a]
    ok(instructor.put(f"/courses/{c}/prerequisites", {"prerequisites": [a, b]}))  # no cycle


def test_an_id_of_another_kind_of_record_is_refused_at_once(command_api: str) -> None:
    student = CommandClient(command_api)  # a registered account: its id is a user's
    instructor = CommandClient(command_api, role="instructor")

    reply = instructor.post("/courses", {"course_id": str(student.user_id), "title": "Taken"})

    refused(reply, 409, "id.taken_by_other_kind")
    assert reply.json()["error"]["kind"] == "user"


def test_students_cannot_report_their_own_quiz_scores(command_api: str) -> None:
    instructor = CommandClient(command_api, role="instructor")
    course_id, _ = instructor.published_course()
    student = CommandClient(command_api)
    enrollment = ok(student.post(f"/courses/{course_id}/enroll"), 202)["enrollment_id"]
    activate(command_api, enrollment)

    reply = student.post(f"/enrollments/{enrollment}/quizzes/{uuid4()}/score",
                         {"score": 10, "max_score": 10})

    assert reply.status_code in (404, 405), reply.text
    refused(student.post(f"/enrollments/{enrollment}/quizzes/{uuid4()}/attempts",
                         {"answers": []}), 404, "quiz.not_found")


def test_quizzes_are_graded_by_the_server_with_answers_hidden_and_completion_gated(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    module, (lesson,) = a.module("Only", 1)
    quiz = choice_quiz(4, lesson_id=lesson, pass_mark=75, max_attempts=2)
    quiz_id = ok(a.post("/quizzes", quiz), 201)["quiz_id"]
    refused(a.post("/quizzes", choice_quiz(1)), 422, "quiz.invalid_target")
    refused(a.post("/quizzes", {**choice_quiz(1, module_id=module), "questions": [
        {"kind": "multiple_choice", "prompt": "?", "options": ["a", "b"], "correct": [0, 1]}]}),
        422, "quiz.invalid_question")
    ok(a.put("/quiz-rules", {"score_policy": "best", "require_passing_quizzes": True}))
    ok(a.post("/publish"), 202)
    student = CommandClient(command_api)
    enrollment = ok(student.post(f"/courses/{a.course_id}/enroll"), 202)["enrollment_id"]
    activate(command_api, enrollment)

    read_models.catch_up()
    seen = reader(query_api, stack, student).ok(f"/courses/{a.course_id}/quizzes")
    assert seen["require_passing_quizzes"] is True
    [shown] = seen["quizzes"]
    assert all(q["correct"] is None and q["accepted_answers"] is None
               for q in shown["questions"])
    assert "correct" not in str([q["options"] for q in shown["questions"]])
    authored = reader(query_api, stack, a.instructor).ok(f"/courses/{a.course_id}/quizzes")
    assert [q["correct"] for q in authored["quizzes"][0]["questions"]] == [[0], [1], [2], [0]]

    done = ok(student.post(f"/enrollments/{enrollment}/lessons/{lesson}/complete"))
    assert done["state"] == "ACTIVE"  # every lesson done, the required quiz not passed yet
    attempts = f"/enrollments/{enrollment}/quizzes/{quiz_id}/attempts"
    assert ok(student.post(attempts, answers_for(quiz, right=2)))["state"] == "ACTIVE"
    assert ok(student.post(attempts, answers_for(quiz, right=3)))["state"] == "COMPLETED"
    refused(student.post(attempts, answers_for(quiz, right=4)), 409, "quiz.attempts_exhausted")

    read_models.catch_up()
    results = reader(query_api, stack, student).ok(f"/enrollments/{enrollment}/quizzes")
    assert [(r["score"], r["max_score"], r["attempts"], r["passed"])
            for r in results["results"]] == [(3.0, 4.0, 2, True)]
    assert [(t["attempt"], t["score"], t["passed"]) for t in results["attempts"]] == [
        (1, 2.0, False), (2, 3.0, True)]
    other = CommandClient(command_api)
    reader(query_api, stack, other).refused(f"/enrollments/{enrollment}/quizzes", 403,
                                            "auth.not_yours")


def test_enrolled_students_read_lesson_text_and_instructors_their_drafts(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    _, (lesson,) = a.module("Only", 1)
    path = f"/courses/{a.course_id}/lessons/{lesson}"
    read_models.catch_up()
    assert reader(query_api, stack, a.instructor).ok(path)["content"] == "The text of Only 0."

    ok(a.post("/publish"), 202)
    student, outsider = CommandClient(command_api), CommandClient(command_api)
    enrollment = ok(student.post(f"/courses/{a.course_id}/enroll"), 202)["enrollment_id"]
    read_models.catch_up()
    reader(query_api, stack, student).refused(path, 403, "course.not_enrolled")  # pending
    activate(command_api, enrollment)
    read_models.catch_up()

    lesson_read = reader(query_api, stack, student).ok(path)
    assert (lesson_read["title"], lesson_read["content"]) == ("Only 0", "The text of Only 0.")
    reader(query_api, stack, outsider).refused(path, 403, "course.not_enrolled")
    Reader(query_api).refused(path, 401, "auth.unauthorized")
    reader(query_api, stack, student).refused(f"/courses/{a.course_id}/lessons/{uuid4()}",
                                              404, "course.lesson_not_found")


def test_catalog_search_finds_by_description_word_and_by_a_typo(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    marker = uuid4().hex[:8]
    instructor = CommandClient(command_api, role="instructor")
    streams = ok(instructor.post("/courses", {
        "title": f"Stream processing {marker}", "tags": [f"t{marker}"], "capacity": 1,
        "description": "Tumbling and sliding windows over event time."}), 201)["course_id"]
    other = ok(instructor.post("/courses", {
        "title": f"Windowing basics {marker}", "tags": [f"t{marker}"],
        "description": "Panes for a house."}), 201)["course_id"]
    for course_id in (streams, other):
        instructor.add_lessons(course_id, 1)
        ok(instructor.post(f"/courses/{course_id}/publish"), 202)
    ok(CommandClient(command_api).post(f"/courses/{streams}/enroll"), 202)  # its only seat
    read_models.catch_up()
    anyone = Reader(query_api)

    def found(**params: Any) -> list[str]:
        return [c["course_id"] for c in anyone.ok("/courses", tag=f"t{marker}", **params)[
            "items"]]

    assert found(q="windowing") == [other, streams]  # the title hit ranks first
    assert found(q="windowng") == [other, streams]  # one letter missing, title first
    assert found(q="tumbling") == [streams]  # a description word
    assert found(q="tumblinf") == [streams]  # … with a wrong letter
    assert found(q="windowing", seats_available="true") == [other]
    assert found(q="windowing", instructor_id=str(uuid4())) == []
    page = anyone.ok("/courses", tag=f"t{marker}", q="windowing", limit=1)
    rest = anyone.ok("/courses", tag=f"t{marker}", q="windowing", limit=1,
                     cursor=page["next_cursor"])
    assert [c["course_id"] for c in page["items"] + rest["items"]] == [other, streams]


def test_the_published_version_stays_readable_while_the_next_is_drafted(
    command_api: str, query_api: str, stack: Settings, read_models: ReadModels
) -> None:
    a = Authoring(command_api)
    module, (lesson, other) = a.module("Only", 2)
    ok(a.post("/publish"), 202)
    student = CommandClient(command_api)
    enrollment = ok(student.post(f"/courses/{a.course_id}/enroll"), 202)["enrollment_id"]
    activate(command_api, enrollment)
    ok(a.put(f"/lessons/{lesson}", {"title": "Only 0", "content": "Rewritten for v2."}))
    ok(a.put(f"/lessons/{other}/place", {"module_id": module, "index": 0}))
    added = ok(a.post(f"/modules/{module}/lessons", {"title": "New", "content": "v2 only"}),
               201)["lesson_id"]
    path = f"/courses/{a.course_id}/lessons/{lesson}"

    read_models.catch_up()
    learner, author = reader(query_api, stack, student), reader(query_api, stack, a.instructor)
    assert learner.ok(path)["content"] == "The text of Only 0."  # version 1, as published
    assert author.ok(path)["content"] == "Rewritten for v2."  # the draft of version 2
    learner.refused(f"/courses/{a.course_id}/lessons/{added}", 404, "course.lesson_not_found")

    ok(a.post("/publish"), 202)
    read_models.catch_up()
    assert learner.ok(path)["content"] == "Rewritten for v2."
    versions = learner.ok(f"/courses/{a.course_id}/versions")["versions"]
    assert [(v["content_version"], v["lesson_count"]) for v in versions] == [(1, 2), (2, 3)]
    diff = author.ok(f"/courses/{a.course_id}/versions/1/diff/2")["lessons"]
    assert {(d["lesson_id"], d["change"], tuple(d["fields"])) for d in diff} == {
        (lesson, "changed", ("content", "place")), (other, "changed", ("place",)),
        (added, "added", ())}
    author.refused(f"/courses/{a.course_id}/versions/1/diff/3", 404, "course.version_not_found")
