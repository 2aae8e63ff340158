"""Event codec: a stored event decodes to the very event recorded, so replay equals live."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from assistant.domain.draft import LESSON_CHANGED, Draft, draft_id
from assistant.domain.enhancement import Content
from assistant.domain.thread import Outcome, Thread
from commands.adapters.event_codec import decode_event, event_type_of, payload_of
from commands.domain.base import AggregateRoot
from commands.domain.certificate import Certificate
from commands.domain.course import Course
from commands.domain.email_claim import EmailClaim
from commands.domain.enrollment import Enrollment
from commands.domain.ids import enrollment_id
from commands.domain.quiz import grade
from commands.domain.registry import AGGREGATES, EVENT_CLASSES, EVENT_TYPES
from commands.domain.user import User
from commands.domain.workflow import Workflow
from notifications.domain.notification import Notification
from notifications.domain.preferences import NotificationPreferences
from notifications.domain.webhooks import Webhooks

History = list[tuple[AggregateRoot, list[Aggregate.Event]]]


def live_history() -> History:
    """Aggregates driven through their own methods until every event type has been recorded."""
    instructor = User(id=uuid4(), display_name="Grace", email="grace@example.org", role="student")
    instructor.change_role("instructor")
    student = User(id=uuid4(), display_name="Ada", email="ada@example.org", role="student")
    student.record_password_change()
    student.deactivate("on leave")
    student.reactivate()
    claim = EmailClaim(id=uuid4(), user_id=student.id)
    student.give_consent("marketing")
    student.withdraw_consent("marketing")
    leaver = User(id=uuid4(), display_name="Bob", email="bob@example.org", role="student")
    leaver.erase("asked by the user")

    prerequisite = uuid4()
    course = Course(
        id=uuid4(), instructor_id=instructor.id, title="CQRS", description="",
        tags=["cqrs", "es"], capacity=2, prerequisites=[prerequisite],
    )
    course.revise_details("CQRS in practice", "Hands-on", ["cqrs"])
    course.change_capacity(3)
    course.set_start("2027-01-11T09:00:00+00:00")
    course.set_prerequisites([prerequisite, uuid4()])
    module_id, first, second = uuid4(), uuid4(), uuid4()
    course.add_module(module_id, "Basics")
    course.add_lesson(module_id, first, "Events", "facts",
                      [{"kind": "video", "url": "https://example.org/e.mp4", "seconds": 90}])
    course.add_lesson(module_id, second, "Commands", "intent", [])
    course.revise_lesson(second, "Commands", "intent, revised")
    extra, moved = uuid4(), uuid4()
    course.add_module(extra, "Extra")
    course.add_lesson(extra, moved, "Moved", "", [])
    course.rename_module(extra, "More")
    course.reorder_modules([extra, module_id])
    course.move_lesson(moved, module_id, 1)
    course.revise_lesson_assets(first, [{"name": "n.md", "url": "https://example.org/n.md"}])
    course.remove_module(extra)
    stored, kept = uuid4(), uuid4()
    course.request_asset_upload(first, stored, "k/1", "a.pdf", "application/pdf", 9, "a" * 64)
    course.confirm_asset_upload(first, stored, "k/1", 9, "a" * 64)
    course.store_asset(first, kept, "k/2", "b.txt", "text/plain", 3, "b" * 64)
    course.remove_asset(first, kept)
    quiz = {"quiz_id": str(uuid4()), "title": "Check", "lesson_id": None,
            "module_id": str(module_id), "pass_mark": 50.0, "max_attempts": 3, "questions": [
                {"question_id": "q", "kind": "short_answer", "prompt": "What?", "options": [],
                 "correct": [], "accepted_answers": ["facts"], "points": 2.0}]}
    course.add_quiz(quiz)
    course.revise_quiz({**quiz, "pass_mark": 100.0})
    course.add_quiz({**quiz, "quiz_id": str(uuid4())})
    course.remove_quiz(list(course.quizzes)[-1])
    course.set_quiz_rules("last", True)
    failed_workflow = uuid4()
    course.publish(failed_workflow)
    course.revert_to_draft(failed_workflow, "embedding failed")
    course.remove_lesson(second)
    workflow = uuid4()
    course.publish(workflow)
    course.mark_ready(course.content_version, workflow, chunk_count=7)

    finished = Enrollment(id=enrollment_id(course.id, student.id), course_id=course.id,
                          student_id=student.id)
    course.reserve_seat(finished.id, student.id)
    finished.initialise_progress(course.lesson_ids)
    finished.activate()
    reminder = uuid4()
    finished.schedule_reminder(reminder, "inactive", "2026-12-10T00:00:00+00:00")
    finished.fire_reminder(reminder, "2026-12-10T00:00:01+00:00")
    finished.score_quiz(uuid4(), 7.5, 10.0)
    answers = [{"question_id": "q", "choices": [], "text": "Facts"}]
    required = [UUID(q) for q in course.required_quiz_ids]
    finished.attempt_quiz(UUID(quiz["quiz_id"]), answers,
                          grade(course.quiz(quiz["quiz_id"]), answers), 3, course.score_policy,
                          course.lesson_ids, required)
    for lesson in course.lesson_ids:
        finished.complete_lesson(lesson, course.lesson_ids,
                                 requirements_met=finished.quizzes_passed(required))

    dropout_id = uuid4()
    dropout = Enrollment(id=enrollment_id(course.id, dropout_id), course_id=course.id,
                         student_id=dropout_id)
    course.reserve_seat(dropout.id, dropout_id)
    dropout.cancel("changed my mind")
    course.release_seat(dropout.id)
    course.archive()
    course.restore()
    draft = Course(id=uuid4(), instructor_id=instructor.id, title="Draft", description="",
                   tags=[], capacity=1, prerequisites=[])
    draft.delete()

    completed = Workflow(id=workflow, kind="publishing", course_id=course.id,
                         content_version=2)
    summary = {"lesson_id": str(first), "chunk_count": 7, "content_hash": "cd" * 32}
    completed.record_chunks("sentences-v1/100/20", 7, "ab" * 32, [summary])
    completed.complete(7)
    failed = Workflow(id=failed_workflow, kind="publishing", course_id=course.id,
                      content_version=1)
    failed.fail("embed", "embedding failed", 3)

    thread = Thread(id=uuid4(), course_id=course.id, owner_id=student.id)
    asked = uuid4()
    thread.request(asked, str(module_id), "What are events?")
    thread.complete(asked, Outcome("extractive", "Events are facts [1].", (uuid4(),), 20.0,
                                   4.0, 90, 6, 1.0))
    certificate = Certificate(id=uuid4(), enrollment_id=finished.id, course_id=course.id,
                              student_id=student.id, student_name="Ada",
                              course_title=course.title, completed_at="2026-12-10T00:00:02")
    sent, lost, quiet = (Notification(
        id=uuid4(), user_id=student.id, template="welcome", channel="email",
        address=student.email, locale="en", category="welcome",
        variables={"course_title": course.title}) for _ in range(3))
    sent.record_sent(1, "<abc@mailpit>")
    lost.record_failed(8, "SMTP down")
    quiet.suppress("unsubscribed")
    hooks, hook = Webhooks(id=uuid4()), uuid4()
    hooks.register(hook, "https://hooks.example/in", ["welcome", "certificate"])
    hooks.register(uuid4(), "https://hooks.example/other", ["reminder"])
    hooks.disable(hook, "failed for a day")
    hooks.enable(hook)
    hooks.remove(hook)
    preferences = NotificationPreferences(id=uuid4(), user_id=student.id)
    preferences.unsubscribe("reminder", "link")
    preferences.resubscribe("reminder")
    preferences.choose_locale("de")

    question = {"question_id": str(uuid4()), "prompt": "Events are _____.", "options":
                ["facts", "intent", "queries"], "correct": 0, "explanation": "It says so.",
                "lesson_id": str(first), "chunk_index": 0, "quote": "Events are facts."}
    material = Content("Events are facts.", [1], [{"text": "Explain events", "passages": [1]}],
                       [question])
    study = Draft(id=draft_id(course.id, first), course_id=course.id, lesson_id=first,
                  source_hash="ab" * 32, lesson_title="Events", provider="extractive",
                  summary=material.summary, summary_passages=material.summary_passages,
                  objectives=material.objectives, questions=material.questions)
    study.edit(Content("Events are recorded facts.", [1], [], [question]))
    study.accept("ab" * 32, 75.0, 2)
    study.go_stale("cd" * 32, 17)
    study.regenerate(material, "cd" * 32, "Events", "extractive", LESSON_CHANGED, 17)
    study.discard("not needed")

    aggregates: list[AggregateRoot] = [instructor, student, course, finished, dropout,
                                       completed, failed, certificate, sent, lost, quiet,
                                       preferences, hooks, leaver, draft, thread, claim, study]
    return [(aggregate, list(aggregate.collect_events())) for aggregate in aggregates]


def stored_and_decoded(event: Aggregate.Event) -> Aggregate.Event:
    """The event after a trip through a JSON column and back."""
    payload = json.loads(json.dumps(payload_of(event)))
    return decode_event(event_type_of(event), event.originator_id, event.originator_version,
                        event.timestamp, payload)


def fields_of(event: Aggregate.Event) -> dict[str, tuple[type, Any]]:
    """Each field's type and value: equality alone would let 1 stand for 1.0."""
    return {f.name: (type(getattr(event, f.name)), getattr(event, f.name))
            for f in dataclasses.fields(event)}


def state_of(aggregate: AggregateRoot) -> dict[str, Any]:
    """Everything but the pending events: the public state plus id, version and timestamps."""
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def fold(events: list[Aggregate.Event], aggregate: AggregateRoot | None = None) -> AggregateRoot:
    for event in events:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


# -- naming ------------------------------------------------------------------------------------
def test_the_history_records_every_event_type() -> None:
    recorded = {event_type_of(e) for _, events in live_history() for e in events}

    assert recorded == set(EVENT_CLASSES)


@pytest.mark.parametrize(
    ("event_class", "name"),
    [
        (User.Registered, "user.registered"),
        (Course.Created, "course.created"),
        (Course.RevertedToDraft, "course.reverted_to_draft"),
        (Course.SeatReserved, "course.seat_reserved"),
        (Enrollment.QuizScored, "enrollment.quiz_scored"),
    ],
)
def test_an_event_is_named_after_its_aggregate_and_its_class(event_class: type, name: str) -> None:
    assert EVENT_TYPES[event_class] == name
    assert EVENT_CLASSES[name] is event_class


def test_every_public_name_belongs_to_a_registered_aggregate() -> None:
    # content.chunked keeps the platform's public name; the workflow aggregate records it
    assert {name.split(".")[0] for name in EVENT_CLASSES} == set(AGGREGATES) | {"content"}
    assert EVENT_CLASSES["content.chunked"] is Workflow.ContentChunked
    assert {cls: name for name, cls in EVENT_CLASSES.items()} == EVENT_TYPES
    assert "user.created" not in EVENT_CLASSES  # the library's unused default creation event


# -- one event at a time ----------------------------------------------------------------------
@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_a_stored_event_decodes_to_the_event_recorded(event_type: str) -> None:
    events = [e for _, history in live_history() for e in history
              if event_type_of(e) == event_type]
    assert events

    for event in events:
        decoded = stored_and_decoded(event)
        assert type(decoded) is type(event)
        assert decoded == event
        assert fields_of(decoded) == fields_of(event)  # UUIDs stay UUIDs, floats stay floats


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_a_payload_holds_the_event_fields_and_no_bookkeeping(event_type: str) -> None:
    events = [e for _, history in live_history() for e in history
              if event_type_of(e) == event_type]

    for event in events:
        assert set(payload_of(event)) == set(type(event).__annotations__)


def test_uuids_are_stored_as_strings() -> None:
    prerequisite = uuid4()
    course = Course(id=uuid4(), instructor_id=uuid4(), title="CQRS", description="",
                    tags=["es"], capacity=1, prerequisites=[prerequisite])
    (created,) = course.collect_events()

    payload = payload_of(created)

    assert payload["instructor_id"] == str(course.instructor_id)
    assert payload["prerequisites"] == [str(prerequisite)]


# -- replay ------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(7), ids=["instructor", "student", "course",
                                                 "finished enrollment", "cancelled enrollment",
                                                 "completed workflow", "failed workflow"])
def test_folding_the_decoded_events_rebuilds_the_live_aggregate(index: int) -> None:
    live, events = live_history()[index]

    rebuilt = fold([stored_and_decoded(e) for e in events])

    assert type(rebuilt) is type(live)
    assert state_of(rebuilt) == state_of(live)


@pytest.mark.parametrize("split", [1, 5, 12])
def test_catching_up_a_fork_of_a_partial_replay_rebuilds_the_live_aggregate(split: int) -> None:
    """What the unit of work does with a cached aggregate the store has moved past."""
    live, events = live_history()[2]
    decoded = [stored_and_decoded(e) for e in events]
    partial = fold(decoded[:split])

    caught_up = fold(decoded[split:], partial.fork())

    assert state_of(caught_up) == state_of(live)
    assert partial.version == split  # the fork was caught up, not the cached original


def test_a_whole_number_score_replays_to_the_same_state() -> None:
    enrollment = Enrollment(id=uuid4(), course_id=uuid4(), student_id=uuid4())
    enrollment.activate()
    enrollment.score_quiz(uuid4(), 3, 4)  # ints, as a JSON client may send them
    events = list(enrollment.collect_events())

    rebuilt = fold([stored_and_decoded(e) for e in events])

    assert state_of(rebuilt) == state_of(enrollment)
