"""Handlers of the assistant's commands. Who may ask is a write-side rule: enrolled
students (not cancelled), the course's instructor, admins."""

from __future__ import annotations

from typing import Any

from assistant.domain.thread import Thread
from assistant.messages import AskQuestion, RecordAnswer
from commands.domain.course import Course
from commands.domain.enrollment import CANCELLED, Enrollment
from commands.domain.errors import Forbidden, NotFound
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


HANDLERS: dict[type, Any] = {AskQuestion: ask_question, RecordAnswer: record_answer}
