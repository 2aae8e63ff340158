"""What a learner reads: a lesson's content and assets (`course_lessons`), a course's quizzes
(`course_quizzes`, answers kept for their authors), a student's attempts (`quiz_attempts`,
`quiz_results`) and whether a student may read the course (`student_enrollments`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from commands.domain.ids import enrollment_id
from query_api.models import (
    ContentVersion,
    LessonChange,
    LessonContent,
    QuizAttempt,
    QuizQuestion,
    QuizResult,
    QuizView,
    StoredAsset,
)

LESSON = """
SELECT l.lesson_id, l.module_id, l.title, l.content, l.assets, l.files, l.updated_at,
       coalesce(array_agg(q.quiz_id ORDER BY q.title, q.quiz_id)
                FILTER (WHERE q.quiz_id IS NOT NULL), '{}') AS quiz_ids
FROM read_models.course_lessons l
LEFT JOIN read_models.course_quizzes q ON q.course_id = l.course_id AND q.lesson_id = l.lesson_id
WHERE l.course_id = %s AND l.lesson_id = %s
GROUP BY l.lesson_id, l.module_id, l.title, l.content, l.assets, l.files, l.updated_at
"""
PUBLISHED_LESSON = """
SELECT l.lesson_id, l.module_id, l.title, l.content, l.assets, l.files,
       l.published_at AS updated_at,
       coalesce((SELECT array_agg(q.quiz_id ORDER BY q.title, q.quiz_id)
                 FROM read_models.course_quizzes q
                 WHERE q.course_id = l.course_id AND q.lesson_id = l.lesson_id), '{}')
           AS quiz_ids
FROM read_models.course_version_lessons l
WHERE l.course_id = %s AND l.content_version = %s AND l.lesson_id = %s
"""
VERSION = """
SELECT lesson_id, module_id, module_title, title, module_index, lesson_index, content, assets
FROM read_models.course_version_lessons WHERE course_id = %s AND content_version = %s
ORDER BY module_index, lesson_index, lesson_id
"""
VERSIONS = """
SELECT content_version, min(published_at) AS published_at, count(*) AS lesson_count
FROM read_models.course_version_lessons WHERE course_id = %s
GROUP BY content_version ORDER BY content_version
"""
QUIZZES = """
SELECT quiz_id, title, lesson_id, module_id, pass_mark, max_attempts, questions, updated_at
FROM read_models.course_quizzes WHERE course_id = %s ORDER BY title, quiz_id
"""
ENROLLMENT_STATE = "SELECT state FROM read_models.student_enrollments WHERE enrollment_id = %s"
ATTEMPTS = """
SELECT quiz_id, attempt, score, max_score, passed, answers, attempted_at
FROM read_models.quiz_attempts WHERE enrollment_id = %s ORDER BY quiz_id, attempt
"""
RESULTS = """
SELECT quiz_id, score, max_score, attempts, passed FROM read_models.quiz_results
WHERE enrollment_id = %s ORDER BY quiz_id
"""
OWNER = "SELECT student_id FROM read_models.quiz_enrollments WHERE enrollment_id = %s"


async def _lesson_row(conn: AsyncConnection, course_id: UUID, lesson_id: UUID,
                      version: int | None) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        if version is None:
            await cur.execute(LESSON, [course_id, lesson_id])
        else:
            await cur.execute(PUBLISHED_LESSON, [course_id, version, lesson_id])
        return await cur.fetchone()


async def lesson(conn: AsyncConnection, course_id: UUID, lesson_id: UUID,
                 version: int | None = None) -> LessonContent | None:
    """The lesson as it is now (`version` None: its authors' draft) or as published in
    `version`."""
    row = await _lesson_row(conn, course_id, lesson_id, version)
    if row is None:
        return None
    return LessonContent(
        course_id=course_id, lesson_id=row["lesson_id"], module_id=row["module_id"],
        title=row["title"], content=row["content"], assets=list(row["assets"] or []),
        files=[stored_asset(course_id, row["lesson_id"], f) for f in row["files"] or []],
        quiz_ids=list(row["quiz_ids"]), updated_at=row["updated_at"])


def stored_asset(course_id: UUID, lesson_id: UUID, file: dict[str, Any]) -> StoredAsset:
    return StoredAsset(
        asset_id=file["asset_id"], name=file["name"], mime_type=file["mime_type"],
        size_bytes=file["size_bytes"], sha256=file["sha256"],
        download_path=f"/courses/{course_id}/lessons/{lesson_id}/assets/{file['asset_id']}")


async def lesson_file(conn: AsyncConnection, course_id: UUID, lesson_id: UUID,
                      asset_id: UUID, version: int | None) -> dict[str, Any] | None:
    """One stored asset of the lesson (with its object key), as `lesson` reads it."""
    row = await _lesson_row(conn, course_id, lesson_id, version)
    if row is None:
        return None
    return next((f for f in row["files"] or [] if f["asset_id"] == str(asset_id)), None)


async def quizzes(conn: AsyncConnection, course_id: UUID, with_answers: bool) -> list[QuizView]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUIZZES, [course_id])
        rows = await cur.fetchall()
    return [quiz_view(row, with_answers) for row in rows]


def quiz_view(row: dict[str, Any], with_answers: bool) -> QuizView:
    """A quiz as its reader may see it: correct options and accepted answers only for its
    authors, never for students."""
    questions = [
        QuizQuestion(
            question_id=q["question_id"], kind=q["kind"], prompt=q["prompt"],
            options=list(q["options"]), points=q["points"],
            correct=list(q["correct"]) if with_answers else None,
            accepted_answers=list(q["accepted_answers"]) if with_answers else None)
        for q in row["questions"]
    ]
    return QuizView(quiz_id=row["quiz_id"], title=row["title"], lesson_id=row["lesson_id"],
                    module_id=row["module_id"], pass_mark=row["pass_mark"],
                    max_attempts=row["max_attempts"], questions=questions,
                    updated_at=row["updated_at"])


async def enrollment_state(conn: AsyncConnection, course_id: UUID, student_id: UUID
                           ) -> str | None:
    cur = await conn.execute(ENROLLMENT_STATE, [enrollment_id(course_id, student_id)])
    row = await cur.fetchone()
    return row[0] if row else None


async def attempts_owner(conn: AsyncConnection, enrollment: UUID) -> UUID | None:
    cur = await conn.execute(OWNER, [enrollment])
    row = await cur.fetchone()
    return row[0] if row else None


async def results(conn: AsyncConnection, enrollment: UUID
                  ) -> tuple[list[QuizResult], list[QuizAttempt]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(RESULTS, [enrollment])
        kept = [QuizResult(**row) for row in await cur.fetchall()]
        await cur.execute(ATTEMPTS, [enrollment])
        tried = [QuizAttempt(**row) for row in await cur.fetchall()]
    return kept, tried


async def versions(conn: AsyncConnection, course_id: UUID) -> list[ContentVersion]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(VERSIONS, [course_id])
        return [ContentVersion(**row) for row in await cur.fetchall()]


async def version_lessons(conn: AsyncConnection, course_id: UUID, version: int
                          ) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(VERSION, [course_id, version])
        return list(await cur.fetchall())


def diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[LessonChange]:
    """What changed between two versions' lessons, in the later version's order (removed
    lessons last): added, removed, or which of title, content, assets and place changed."""
    old = {row["lesson_id"]: row for row in before}
    new = {row["lesson_id"]: row for row in after}
    changes = []
    for lesson_id, row in new.items():
        was = old.get(lesson_id)
        if was is None:
            changes.append(LessonChange(lesson_id=lesson_id, title=row["title"],
                                        change="added", fields=[]))
            continue
        fields = [f for f in ("title", "content", "assets") if was[f] != row[f]]
        if (was["module_id"], was["module_index"], was["lesson_index"]) != (
                row["module_id"], row["module_index"], row["lesson_index"]):
            fields.append("place")
        if fields:
            changes.append(LessonChange(lesson_id=lesson_id, title=row["title"],
                                        change="changed", fields=fields))
    changes += [LessonChange(lesson_id=lesson_id, title=row["title"], change="removed",
                             fields=[]) for lesson_id, row in old.items() if lesson_id not in new]
    return changes
