"""Quiz definitions and the server's grading: exact, and strict about what it is given."""

from __future__ import annotations

from typing import Any

import pytest

from commands.domain.errors import RuleViolated
from commands.domain.quiz import check_quiz, grade


def question(qid: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"question_id": qid, "kind": kind, "prompt": f"{qid}?", "options": [],
            "correct": [], "accepted_answers": [], "points": 1.0, **fields}


QUIZ = {"pass_mark": 60.0, "questions": [
    question("one", "multiple_choice", options=["a", "b", "c"], correct=[2]),
    question("many", "multiple_answers", options=["a", "b", "c", "d"], correct=[0, 3],
             points=2.0),
    question("text", "short_answer", accepted_answers=["Event Sourcing", "ES"]),
]}


def test_every_kind_is_graded_exactly() -> None:
    graded = grade(QUIZ, [
        {"question_id": "one", "choices": [2], "text": ""},
        {"question_id": "many", "choices": [3, 0], "text": ""},
        {"question_id": "text", "choices": [], "text": "  event   SOURCING "},
    ])
    assert (graded.score, graded.max_score, graded.passed) == (4.0, 4.0, True)
    assert set(graded.correct) == {"one", "many", "text"}


def test_a_partly_right_multiple_answers_question_scores_nothing() -> None:
    graded = grade(QUIZ, [{"question_id": "many", "choices": [0], "text": ""},
                          {"question_id": "one", "choices": [2], "text": ""}])
    assert (graded.score, graded.max_score, graded.passed) == (1.0, 4.0, False)
    assert graded.correct == ("one",)


def test_the_pass_mark_is_reached_at_exactly_its_percentage() -> None:
    quiz = {**QUIZ, "pass_mark": 75.0}
    graded = grade(quiz, [{"question_id": "many", "choices": [0, 3], "text": ""},
                          {"question_id": "one", "choices": [2], "text": ""}])
    assert (graded.score, graded.passed) == (3.0, True)


@pytest.mark.parametrize(("answers", "code"), [
    ([{"question_id": "nope", "choices": [], "text": ""}], "quiz.unknown_question"),
    ([{"question_id": "one", "choices": [1], "text": ""}] * 2, "quiz.duplicate_answer"),
])
def test_answers_to_unknown_or_repeated_questions_are_refused(
    answers: list[dict[str, Any]], code: str
) -> None:
    with pytest.raises(RuleViolated) as refused:
        grade(QUIZ, answers)
    assert refused.value.code == code


@pytest.mark.parametrize(("questions", "code"), [
    ([], "quiz.no_questions"),
    ([question("a", "essay")], "quiz.unknown_kind"),
    ([question("a", "multiple_choice", options=["x", "y"], correct=[0, 1])],
     "quiz.invalid_question"),
    ([question("a", "multiple_choice", options=["x", "y"], correct=[2])],
     "quiz.invalid_question"),
    ([question("a", "multiple_answers", options=["x"], correct=[0])], "quiz.invalid_question"),
    ([question("a", "short_answer", accepted_answers=["  "])], "quiz.invalid_question"),
    ([question("a", "short_answer", accepted_answers=["x"]),
      question("a", "short_answer", accepted_answers=["y"])], "quiz.duplicate_question"),
])
def test_a_quiz_that_could_not_be_graded_is_refused(
    questions: list[dict[str, Any]], code: str
) -> None:
    with pytest.raises(RuleViolated) as refused:
        check_quiz(questions, 50.0)
    assert refused.value.code == code
