"""Handlers of the assistant's commands. Who may ask is a write-side rule: enrolled
students (not cancelled), the course's instructor, admins. Study-material drafts are the
course's instructor's and admins' only (and the platform's, which regenerates them)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from assistant.domain.draft import Draft, draft_id, quiz_id
from assistant.domain.enhancement import InvalidItem, Material, check_content, quiz_questions
from assistant.domain.thread import Thread
from assistant.messages import (
    AcceptDraft,
    AskQuestion,
    DiscardDraft,
    EditDraft,
    MarkDraftStale,
    RecordAnswer,
    RecordDraft,
)
from commands.domain.course import Course
from commands.domain.enrollment import CANCELLED, Enrollment
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.ids import enrollment_id
from commands.messages import Actor
from commands.unit_of_work import CommandResult, UnitOfWork


async def check_may_ask(uow: UnitOfWork, actor: Actor, course_id: Any) -> None:
    course = await uow.find(Course, course_id)
    if course is None:
        raise NotFound("no such course", "course.not_found")
    if actor.is_admin or course.instructor_id == actor.user_id:
        return
    enrollment = await uow.find(Enrollment, enrollment_id(course_id, actor.user_id))
    if enrollment is None or enrollment.state == CANCELLED:
        raise Forbidden("only students enrolled in the course, its instructor and admins "
                        "may ask about it", "ai.not_enrolled")


async def ask_question(cmd: AskQuestion, actor: Actor, uow: UnitOfWork) -> CommandResult:
    await check_may_ask(uow, actor, cmd.course_id)
    thread = await uow.find(Thread, cmd.thread_id)
    if thread is None:
        thread = Thread(id=cmd.thread_id, course_id=cmd.course_id, owner_id=actor.user_id)
        uow.add(thread)
    else:
        thread.check_participant(actor.user_id, cmd.course_id, actor.is_admin)
    thread.request(cmd.question_id, cmd.module_id, cmd.question)
    return await uow.commit(thread)


async def record_answer(cmd: RecordAnswer, actor: Actor, uow: UnitOfWork) -> CommandResult:
    thread = await uow.get(Thread, cmd.thread_id)
    thread.check_participant(actor.user_id, cmd.course_id, actor.is_admin)
    thread.complete(cmd.question_id, cmd.outcome)
    return await uow.commit(thread)


async def authored_course(uow: UnitOfWork, actor: Actor, course_id: UUID) -> Course:
    """The course, if the actor may make study material of it (NotFound/Forbidden)."""
    course = await uow.find(Course, course_id)
    if course is None or course.deleted:
        raise NotFound("no such course", "course.not_found")
    if not actor.is_admin and course.instructor_id != actor.user_id:
        raise Forbidden("only the course's instructor and admins may make study material "
                        "of its lessons", "enhancement.not_instructor")
    return course


def material_of(course: Course, lesson_id: UUID) -> Material:
    """The lesson as the write side knows it now, with the course's other lessons."""
    lesson = course.lessons.get(lesson_id)
    if lesson is None:
        raise NotFound("no such lesson in this course", "course.lesson_not_found")
    others = tuple(course.lessons[other]["content"] for other in course.lesson_ids
                   if other != lesson_id and other in course.lessons)
    return Material(course.id, lesson_id, lesson["title"], lesson["content"], others)


async def _draft(uow: UnitOfWork, actor: Actor, draft: UUID) -> tuple[Draft, Course]:
    found = await uow.find(Draft, draft)
    if found is None:
        raise NotFound("no such draft", "enhancement.not_found")
    return found, await authored_course(uow, actor, found.course_id)


async def record_draft(cmd: RecordDraft, actor: Actor, uow: UnitOfWork) -> CommandResult:
    course = await authored_course(uow, actor, cmd.course_id)
    material = material_of(course, cmd.lesson_id)
    if material.source_hash != cmd.source_hash:
        raise Conflict("the lesson changed while its study material was generated; "
                       "generate again", "enhancement.lesson_changed")
    the_id = draft_id(cmd.course_id, cmd.lesson_id)
    draft = await uow.find(Draft, the_id)
    c = cmd.content
    if draft is None:
        draft = Draft(id=the_id, course_id=cmd.course_id, lesson_id=cmd.lesson_id,
                      source_hash=cmd.source_hash, lesson_title=cmd.lesson_title,
                      provider=cmd.provider, summary=c.summary,
                      summary_passages=list(c.summary_passages), objectives=list(c.objectives),
                      questions=list(c.questions))
        uow.add(draft)
    else:
        draft.regenerate(c, cmd.source_hash, cmd.lesson_title, cmd.provider, cmd.reason,
                         cmd.cause_position)
    return await uow.commit(draft)


async def mark_draft_stale(cmd: MarkDraftStale, actor: Actor, uow: UnitOfWork) -> CommandResult:
    await authored_course(uow, actor, cmd.course_id)
    draft = await uow.get(Draft, draft_id(cmd.course_id, cmd.lesson_id))
    draft.go_stale(cmd.lesson_hash, cmd.cause_position)
    return await uow.commit(draft)


async def edit_draft(cmd: EditDraft, actor: Actor, uow: UnitOfWork) -> CommandResult:
    draft, course = await _draft(uow, actor, cmd.draft_id)
    try:
        content = check_content(cmd.content, material_of(course, draft.lesson_id))
    except InvalidItem as error:
        raise RuleViolated(f"the edited draft is not usable: {error}",
                           "enhancement.invalid_content") from None
    draft.edit(content)
    return await uow.commit(draft)


async def accept_draft(cmd: AcceptDraft, actor: Actor, uow: UnitOfWork) -> CommandResult:
    """The draft's acceptance and its quiz commit together (one transaction): the quiz is
    added, or revised when an earlier acceptance made it, by the course's own quiz rules."""
    draft, course = await _draft(uow, actor, cmd.draft_id)
    material = material_of(course, draft.lesson_id)
    if not draft.accept(material.source_hash, cmd.pass_mark, cmd.max_attempts):
        return await uow.commit(draft)
    quiz = {"quiz_id": str(quiz_id(draft.id)), "title": cmd.title,
            "lesson_id": str(draft.lesson_id), "module_id": None,
            "pass_mark": float(cmd.pass_mark), "max_attempts": cmd.max_attempts,
            "questions": quiz_questions(draft.content.questions)}
    if quiz["quiz_id"] in course.quizzes:
        course.revise_quiz(quiz)
    else:
        course.add_quiz(quiz)
    return await uow.commit(draft)


async def discard_draft(cmd: DiscardDraft, actor: Actor, uow: UnitOfWork) -> CommandResult:
    draft, _ = await _draft(uow, actor, cmd.draft_id)
    draft.discard(cmd.reason)
    return await uow.commit(draft)


HANDLERS: dict[type, Any] = {
    AskQuestion: ask_question, RecordAnswer: record_answer, RecordDraft: record_draft,
    MarkDraftStale: mark_draft_stale, EditDraft: edit_draft, AcceptDraft: accept_draft,
    DiscardDraft: discard_draft,
}
