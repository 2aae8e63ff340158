"""Quizzes: authored on a course by its instructor, answered by enrolled students and graded
by the server."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter

from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import (
    CourseWritten,
    EnrollmentWritten,
    QuizAnswersBody,
    QuizBody,
    QuizRulesBody,
    QuizWritten,
)
from commands.api.routes.courses import course_written
from commands.api.routes.enrollments import enrollment_written

router = APIRouter(tags=["quizzes"])


def quiz_definition(quiz_id: UUID, body: QuizBody) -> dict[str, Any]:
    """The quiz as the course's events carry it (JSON-shaped: ids as text)."""
    return {
        "quiz_id": str(quiz_id), "title": body.title,
        "lesson_id": str(body.lesson_id) if body.lesson_id else None,
        "module_id": str(body.module_id) if body.module_id else None,
        "pass_mark": float(body.pass_mark), "max_attempts": body.max_attempts,
        "questions": [
            {"question_id": str(q.question_id or uuid4()), "kind": q.kind, "prompt": q.prompt,
             "options": list(q.options), "correct": list(q.correct),
             "accepted_answers": list(q.accepted_answers), "points": float(q.points)}
            for q in body.questions
        ],
    }


@router.post("/courses/{course_id}/quizzes", status_code=201, response_model=QuizWritten)
async def add_quiz(course_id: UUID, body: QuizBody, commands: Commands):
    """Add a quiz to a lesson or a module of the course."""
    quiz_id = body.quiz_id or uuid4()
    return await commands.run(m.AddQuiz(course_id, quiz_definition(quiz_id, body)),
                              lambda r: {"quiz_id": str(quiz_id)}, status_code=201)


@router.put("/courses/{course_id}/quizzes/{quiz_id}", response_model=QuizWritten)
async def revise_quiz(course_id: UUID, quiz_id: UUID, body: QuizBody, commands: Commands):
    """Replace the quiz's definition (the body's quiz_id, if any, is ignored)."""
    return await commands.run(m.ReviseQuiz(course_id, quiz_definition(quiz_id, body)),
                              lambda r: {"quiz_id": str(quiz_id)})


@router.delete("/courses/{course_id}/quizzes/{quiz_id}", response_model=QuizWritten)
async def remove_quiz(course_id: UUID, quiz_id: UUID, commands: Commands):
    return await commands.run(m.RemoveQuiz(course_id, quiz_id),
                              lambda r: {"quiz_id": str(quiz_id)})


@router.put("/courses/{course_id}/quiz-rules", response_model=CourseWritten)
async def set_quiz_rules(course_id: UUID, body: QuizRulesBody, commands: Commands):
    """Which attempt counts (best or last), and whether completing the course needs every
    quiz passed."""
    command = m.SetQuizRules(course_id, body.score_policy, body.require_passing_quizzes)
    return await commands.run(command, course_written)


@router.post("/enrollments/{enrollment_id}/quizzes/{quiz_id}/attempts",
             response_model=EnrollmentWritten)
async def submit_answers(enrollment_id: UUID, quiz_id: UUID, body: QuizAnswersBody,
                         commands: Commands):
    """Submit answers: the server grades them and records the attempt (its score and
    whether it passed show in the query API)."""
    answers = [{"question_id": str(a.question_id), "choices": list(a.choices),
                "text": a.text} for a in body.answers]
    return await commands.run(m.SubmitQuizAnswers(enrollment_id, quiz_id, answers),
                              enrollment_written)
