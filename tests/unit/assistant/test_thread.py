"""The Thread aggregate: given events, when a command, then events or an error."""

from __future__ import annotations

from uuid import uuid4

import pytest

from assistant.domain.thread import Outcome, Thread
from commands.domain.errors import Conflict, Forbidden

OUTCOME = Outcome("extractive", "An answer [1].", (uuid4(),), 10.0, 2.0, 50, 5, 1.0)


def test_a_thread_records_questions_and_answers_once() -> None:
    course, owner, q = uuid4(), uuid4(), uuid4()
    thread = Thread(id=uuid4(), course_id=course, owner_id=owner)
    thread.request(q, "", "What is a commit?")
    thread.request(q, "", "What is a commit?")  # a retried request
    thread.complete(q, OUTCOME)
    thread.complete(q, OUTCOME)
    types = [Thread.event_type(type(e)) for e in thread.collect_events()]
    assert types == ["ai.thread_started", "ai.requested", "ai.completed"]
    assert [(t.question, t.answer) for t in thread.history()] == [
        ("What is a commit?", "An answer [1].")]


def test_only_the_owner_follows_up_in_the_same_course() -> None:
    course, owner = uuid4(), uuid4()
    thread = Thread(id=uuid4(), course_id=course, owner_id=owner)
    with pytest.raises(Forbidden, match="someone else"):
        thread.check_participant(uuid4(), course, False)
    with pytest.raises(Forbidden, match="another course"):
        thread.check_participant(owner, uuid4(), False)
    thread.check_participant(uuid4(), course, True)  # admins may


def test_an_unknown_question_cannot_be_answered() -> None:
    thread = Thread(id=uuid4(), course_id=uuid4(), owner_id=uuid4())
    with pytest.raises(Conflict):
        thread.complete(uuid4(), OUTCOME)
