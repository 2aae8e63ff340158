"""Quizzes as course content: their definition rules and the server's grading (pure).

A quiz belongs to a lesson or a module of its course and holds questions of three kinds:
`multiple_choice` (exactly one correct option), `multiple_answers` (a set of correct
options; an answer scores only when it names that exact set) and `short_answer` (accepted
answers, compared after folding case and whitespace). A quiz passes at `pass_mark` percent
of its points. Definitions and answers are JSON-shaped (ids as text), as events carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commands.domain.errors import RuleViolated

KINDS = ("multiple_choice", "multiple_answers", "short_answer")
SCORE_POLICIES = ("best", "last")


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def check_question(question: dict[str, Any]) -> None:
    """Refuse a question that could not be graded."""
    kind, options = question["kind"], question["options"]
    correct, accepted = question["correct"], question["accepted_answers"]
    if kind not in KINDS:
        raise RuleViolated(f"unknown question kind {kind!r}", "quiz.unknown_kind")
    if kind == "short_answer":
        if options or correct:
            raise RuleViolated("a short answer question has no options",
                               "quiz.invalid_question")
        if not any(normalise(a) for a in accepted):
            raise RuleViolated("a short answer question needs an accepted answer",
                               "quiz.invalid_question")
        return
    if accepted:
        raise RuleViolated("only short answer questions take accepted answers",
                           "quiz.invalid_question")
    if len(options) < 2:
        raise RuleViolated("a choice question needs at least two options",
                           "quiz.invalid_question")
    if len(set(correct)) != len(correct) or any(not 0 <= c < len(options) for c in correct):
        raise RuleViolated("correct options must be distinct indexes of the options",
                           "quiz.invalid_question")
    if kind == "multiple_choice" and len(correct) != 1:
        raise RuleViolated("a multiple choice question has exactly one correct option",
                           "quiz.invalid_question")
    if kind == "multiple_answers" and not correct:
        raise RuleViolated("a multiple answers question needs a correct option",
                           "quiz.invalid_question")


def check_quiz(questions: list[dict[str, Any]], pass_mark: float) -> None:
    if not questions:
        raise RuleViolated("a quiz needs at least one question", "quiz.no_questions")
    ids = [q["question_id"] for q in questions]
    if len(set(ids)) != len(ids):
        raise RuleViolated("question ids must be unique within a quiz",
                           "quiz.duplicate_question")
    if not 0 <= pass_mark <= 100:
        raise RuleViolated("the pass mark is a percentage from 0 to 100",
                           "quiz.invalid_pass_mark")
    for question in questions:
        check_question(question)


@dataclass(frozen=True)
class Grade:
    score: float
    max_score: float
    passed: bool
    correct: tuple[str, ...]  # the question ids answered correctly


def grade(quiz: dict[str, Any], answers: list[dict[str, Any]]) -> Grade:
    """Grade answers against the quiz; unknown or repeated questions are refused."""
    by_question = {q["question_id"]: q for q in quiz["questions"]}
    given: dict[str, dict[str, Any]] = {}
    for answer in answers:
        qid = answer["question_id"]
        if qid not in by_question:
            raise RuleViolated("an answer names a question the quiz does not have",
                               "quiz.unknown_question", question_id=qid)
        if qid in given:
            raise RuleViolated("a question is answered twice", "quiz.duplicate_answer",
                               question_id=qid)
        given[qid] = answer
    score, top, correct = 0.0, 0.0, []
    for qid, question in by_question.items():
        top += question["points"]
        answer = given.get(qid)
        if answer is not None and _is_correct(question, answer):
            score += question["points"]
            correct.append(qid)
    passed = top > 0 and score * 100 >= quiz["pass_mark"] * top
    return Grade(score=score, max_score=top, passed=passed, correct=tuple(correct))


def _is_correct(question: dict[str, Any], answer: dict[str, Any]) -> bool:
    if question["kind"] == "short_answer":
        text = normalise(answer.get("text") or "")
        return bool(text) and text in {normalise(a) for a in question["accepted_answers"]}
    return sorted(set(answer.get("choices") or [])) == sorted(question["correct"])
