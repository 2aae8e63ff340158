"""Study material for instructors through the running platform (docs/adr/0042): generated
from a lesson by the assistant-api over SSE, recorded as enhancement.* events, projected into
the enhancement_drafts read model (query API), accepted into a quiz that a student takes and
the server grades; a student is refused; a lesson edit makes the draft stale and the
supervised workflow-worker regenerates it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.domain.enhancement import lesson_hash
from tests.support.assistant import sse_events
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.e2e

BRANCHES = (
    "A branch in Git is a movable pointer to a commit, which makes branches cheap to create "
    "and delete. The special pointer HEAD tells Git which branch you are on. git switch "
    "feature moves to the branch called feature. When you commit on a branch, the branch "
    "pointer moves forward to the new commit while other branches stay where they were. "
    "Teams use short-lived feature branches so that unfinished work does not disturb the "
    "main branch.")
TAGS = ("A tag gives a permanent name to one commit, usually a release such as v1.2.0. "
        "Annotated tags store the tagger, a date and a message, while lightweight tags are "
        "plain names. Tags are pushed to a remote with git push origin v1.2.0.")
STASH = ("git stash saves unfinished changes on a stack so that the working tree is clean "
         "again. git stash pop applies the newest entry and removes it from the stack.")
MORE = (" Merging a feature branch back joins its history into the main branch, and a "
        "merged branch can then be deleted safely.")


@pytest.fixture(scope="module")
def assistant(urls: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=urls["assistant"], timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def course(urls: dict[str, str]) -> dict[str, Any]:
    """A published course of three lessons, by its instructor."""
    instructor = CommandClient(urls["writes"], role="instructor")
    course_id = instructor.create_course(title="Git for study material")
    module = instructor.post(f"/courses/{course_id}/modules", {"title": "Basics"})
    assert module.status_code == 201, module.text
    lessons = {}
    for title, text in (("Branches", BRANCHES), ("Tags", TAGS), ("Stashing", STASH)):
        added = instructor.post(f"/courses/{course_id}/modules/{module.json()['module_id']}"
                                "/lessons", {"title": title, "content": text})
        assert added.status_code == 201, added.text
        lessons[title] = added.json()["lesson_id"]
    published = instructor.post(f"/courses/{course_id}/publish")
    assert published.status_code == 202, published.text
    return {"id": course_id, "lessons": lessons, "instructor": instructor}


def read(urls: dict[str, str], who: CommandClient, path: str, position: int) -> httpx.Response:
    return httpx.get(f"{urls['reads']}{path}", timeout=30,
                     headers={**who.headers, "X-Consistency-Token": str(position)})


def generate_sse(assistant: httpx.Client, who: CommandClient, course_id: str,
                 lesson_id: str) -> list[tuple[str, dict[str, Any]]]:
    with assistant.stream("POST", f"/courses/{course_id}/lessons/{lesson_id}/enhancements",
                          json={"objectives": 3, "questions": 4},
                          headers={**who.headers, "Accept": "text/event-stream"}) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(reply))


def test_generate_accept_and_a_student_takes_the_quiz(
        urls: dict[str, str], assistant: httpx.Client, course: dict[str, Any]) -> None:
    instructor, lesson = course["instructor"], course["lessons"]["Branches"]
    events = generate_sse(assistant, instructor, course["id"], lesson)

    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "final", names
    items = [data for name, data in events if name == "item"]
    assert items[0]["type"] == "summary"
    questions = [i for i in items if i["type"] == "question"]
    assert len(questions) == 4
    for q in questions:  # each cites its source lesson and the sentence with the answer
        assert q["lesson_id"] == lesson and q["quote"] in " ".join(BRANCHES.split())
        assert q["options"][q["correct"]].lower() in q["quote"].lower()
    final = events[-1][1]
    assert final["status"] == "DRAFT" and final["provider"] == "extractive"
    assert final["source_hash"] == lesson_hash("Branches", BRANCHES)

    drafts = read(urls, instructor, f"/courses/{course['id']}/enhancements", final["position"])
    assert drafts.status_code == 200, drafts.text
    (draft,) = [d for d in drafts.json()["drafts"] if d["lesson_id"] == lesson]
    assert draft["draft_id"] == final["draft_id"] and draft["status"] == "DRAFT"
    assert [q["question_id"] for q in draft["questions"]] == [
        q["question_id"] for q in questions]

    student = CommandClient(urls["writes"])
    enrolled = student.post(f"/courses/{course['id']}/enroll")
    assert enrolled.status_code in (200, 202), enrolled.text
    refused = assistant.post(f"/courses/{course['id']}/lessons/{lesson}/enhancements",
                             headers={**student.headers, "Accept": "application/json"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "enhancement.not_instructor"
    assert "pointer" not in refused.text  # no lesson text to others
    hidden = read(urls, student, f"/courses/{course['id']}/enhancements", final["position"])
    assert hidden.status_code == 403 and "pointer" not in hidden.text
    not_theirs = assistant.post(f"/enhancements/{draft['draft_id']}/accept",
                                headers=student.headers, json={})
    assert not_theirs.status_code == 403, not_theirs.text

    accepted = assistant.post(f"/enhancements/{draft['draft_id']}/accept",
                              headers=instructor.headers,
                              json={"title": "Branches check", "pass_mark": 50})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "ACCEPTED"
    quiz_id = accepted.json()["quiz_id"]

    enrollment = enrolled.json()["enrollment_id"]
    wait_for_active(urls, student, enrollment)
    shown = read(urls, student, f"/courses/{course['id']}/quizzes", accepted.json()["position"])
    assert shown.status_code == 200, shown.text
    (quiz,) = [q for q in shown.json()["quizzes"] if q["quiz_id"] == quiz_id]
    assert quiz["lesson_id"] == lesson and len(quiz["questions"]) == 4
    assert all(q.get("correct") is None for q in quiz["questions"])  # answers not leaked
    right = {q["question_id"]: q["correct"] for q in draft["questions"]}
    answers = [{"question_id": q["question_id"],
                "choices": [right[q["question_id"]] if n < 3 else
                            (right[q["question_id"]] + 1) % len(q["options"])]}
               for n, q in enumerate(quiz["questions"])]
    attempt = student.post(f"/enrollments/{enrollment}/quizzes/{quiz_id}/attempts",
                           {"answers": answers})
    assert attempt.status_code == 200, attempt.text
    results = read(urls, student, f"/enrollments/{enrollment}/quizzes",
                   attempt.json()["position"])
    assert results.status_code == 200, results.text
    (graded,) = [a for a in results.json()["attempts"] if a["quiz_id"] == quiz_id]
    assert (graded["score"], graded["max_score"], graded["passed"]) == (3, 4, True)


def wait_for_active(urls: dict[str, str], student: CommandClient, enrollment: str,
                    timeout: float = 60) -> None:
    """Bounded poll until the enrollment workflow activated the enrollment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = httpx.get(f"{urls['reads']}/enrollments/{enrollment}", headers=student.headers,
                         timeout=30)
        if seen.status_code == 200 and seen.json()["state"] == "ACTIVE":
            return
        time.sleep(0.2)  # the workflow is asynchronous; bounded by the deadline
    raise AssertionError(f"enrollment {enrollment} not ACTIVE after {timeout:.0f}s")


def test_plain_json_when_asked_and_bad_input_is_refused(
        urls: dict[str, str], assistant: httpx.Client, course: dict[str, Any]) -> None:
    instructor, lesson = course["instructor"], course["lessons"]["Tags"]
    reply = assistant.post(f"/courses/{course['id']}/lessons/{lesson}/enhancements",
                           json={"questions": 2},
                           headers={**instructor.headers, "Accept": "application/json"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["lesson_title"] == "Tags" and body["summary"] and body["questions"]
    assert len(body["questions"]) <= 2

    unknown = assistant.post(f"/courses/{course['id']}/lessons/{course['id']}/enhancements",
                             headers={**instructor.headers, "Accept": "application/json"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "course.lesson_not_found"
    too_many = assistant.post(f"/courses/{course['id']}/lessons/{lesson}/enhancements",
                              json={"questions": 50}, headers=instructor.headers)
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "request.invalid"
    edit = dict(body, questions=[{**body["questions"][0], "quote": "Words not in the lesson."}])
    broken = assistant.put(f"/enhancements/{body['draft_id']}", headers=instructor.headers,
                           json={k: edit[k] for k in ("summary", "summary_passages",
                                                      "objectives", "questions")})
    assert broken.status_code == 422, broken.text
    assert broken.json()["error"]["code"] == "enhancement.invalid_content"
    anonymous = assistant.post(f"/courses/{course['id']}/lessons/{lesson}/enhancements")
    assert anonymous.status_code == 401


def test_a_lesson_edit_makes_the_draft_stale_and_it_is_regenerated(
        urls: dict[str, str], assistant: httpx.Client, course: dict[str, Any]) -> None:
    instructor, lesson = course["instructor"], course["lessons"]["Branches"]
    first = generate_sse(assistant, instructor, course["id"], lesson)[-1][1]
    accepted = assistant.post(f"/enhancements/{first['draft_id']}/accept",
                              headers=instructor.headers, json={"title": "Branches check"})
    assert accepted.status_code == 200, accepted.text
    revised = instructor.put(f"/courses/{course['id']}/lessons/{lesson}",
                             {"title": "Branches", "content": BRANCHES + MORE})
    assert revised.status_code == 200, revised.text

    wanted = lesson_hash("Branches", BRANCHES + MORE)
    deadline = time.monotonic() + 120
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        reply = read(urls, instructor, f"/enhancements/{first['draft_id']}",
                     revised.json()["position"])
        assert reply.status_code == 200, reply.text
        seen = reply.json()
        if seen["source_hash"] == wanted and seen["status"] == "DRAFT":
            break
        time.sleep(0.5)  # the workflow-worker regenerates asynchronously; bounded
    assert seen["source_hash"] == wanted, seen
    assert seen["status"] == "DRAFT" and seen["last_reason"] == "lesson_changed"
    assert seen["generations"] >= 2 and seen["quiz_outdated"] is True
    assert seen["questions"] and seen["stale_hash"] is None
    assert all(q["quote"] in " ".join((BRANCHES + MORE).split()) for q in seen["questions"])
    again = assistant.post(f"/enhancements/{first['draft_id']}/accept",
                           headers=instructor.headers, json={"title": "Branches check"})
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ACCEPTED"
