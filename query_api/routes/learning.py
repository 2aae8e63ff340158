"""Learning reads: lesson content and assets, a course's quizzes, a student's attempts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path
from psycopg import AsyncConnection

from commands.domain.errors import NotFound
from commands.messages import Actor
from query_api import access
from query_api import positions as p
from query_api.deps import CurrentUser, MaybeUser, Reader, reading
from query_api.models import (
    CourseDetail,
    CourseQuizzes,
    CourseVersions,
    EnrollmentQuizzes,
    LessonContent,
    VersionDiff,
    read_responses,
)
from query_api.reads import course_detail, learning

router = APIRouter(tags=["learning"])

LearningReader = Annotated[Reader, Depends(reading(p.COURSE_DETAIL, p.COURSE_CATALOG,
                                                   p.STUDENT_ENROLLMENTS))]
AttemptsReader = Annotated[Reader, Depends(reading(p.QUIZ_ATTEMPTS))]


async def _course_for_learner(conn: AsyncConnection, course_id: UUID,
                              user: Actor | None) -> CourseDetail:
    course = await course_detail.course_detail(conn, course_id)
    if course is None:
        raise NotFound("no such course", "course.not_found")
    access.ensure_course_visible(user, course.instructor_id, course.status,
                                 course.content_version)
    state = None if user is None else await learning.enrollment_state(conn, course_id,
                                                                     user.user_id)
    access.ensure_may_learn(user, course.instructor_id, state)
    return course


@router.get("/courses/{course_id}/lessons/{lesson_id}",
            responses=read_responses(401, 403, 404))
async def get_lesson(course_id: UUID, lesson_id: UUID, user: MaybeUser,
                     read: LearningReader) -> LessonContent:
    """A lesson's text and assets: for students enrolled (active or completed), as last
    published (a draft of the next version stays the instructor's), and for the course's
    instructor and admins, as it is now."""
    async with read() as snap:
        course = await _course_for_learner(snap.conn, course_id, user)
        authors = access.may_author(user, course.instructor_id)
        version = None if authors else course.content_version
        found = await learning.lesson(snap.conn, course_id, lesson_id, version)
    if found is None:
        raise NotFound("no such lesson in this course", "course.lesson_not_found")
    return found


@router.get("/courses/{course_id}/quizzes", responses=read_responses(401, 403, 404))
async def get_quizzes(course_id: UUID, user: MaybeUser, read: LearningReader) -> CourseQuizzes:
    """The course's quizzes. Students see the questions and options, never the correct
    options or accepted answers (those are for the course's instructor and admins)."""
    async with read() as snap:
        course = await _course_for_learner(snap.conn, course_id, user)
        authors = access.may_author(user, course.instructor_id)
        found = await learning.quizzes(snap.conn, course_id, with_answers=authors)
    return CourseQuizzes(course_id=course_id, score_policy=course.score_policy,
                         require_passing_quizzes=course.require_passing_quizzes,
                         quizzes=found)


@router.get("/enrollments/{enrollment_id}/quizzes", responses=read_responses(401, 403, 404))
async def get_quiz_results(enrollment_id: UUID, user: CurrentUser,
                           read: AttemptsReader) -> EnrollmentQuizzes:
    """The enrollment's quiz results (the score that counts, attempts, passed) and every
    graded attempt: its student and admins."""
    async with read() as snap:
        owner = await learning.attempts_owner(snap.conn, enrollment_id)
        if owner is None:
            raise NotFound("no such enrollment", "enrollment.not_found")
        access.ensure_self_or_admin(user, owner, "quiz attempts")
        results, attempts = await learning.results(snap.conn, enrollment_id)
    return EnrollmentQuizzes(enrollment_id=enrollment_id, results=results, attempts=attempts)


@router.get("/courses/{course_id}/versions", responses=read_responses(401, 403, 404))
async def get_versions(course_id: UUID, user: MaybeUser, read: LearningReader
                       ) -> CourseVersions:
    """The course's published content versions (each kept as it was published)."""
    async with read() as snap:
        await _course_for_learner(snap.conn, course_id, user)
        found = await learning.versions(snap.conn, course_id)
    return CourseVersions(course_id=course_id, versions=found)


@router.get("/courses/{course_id}/versions/{from_version}/diff/{to_version}",
            responses=read_responses(401, 403, 404))
async def get_version_diff(
    course_id: UUID, user: MaybeUser, read: LearningReader,
    from_version: Annotated[int, Path(ge=1, le=1_000_000)],
    to_version: Annotated[int, Path(ge=1, le=1_000_000)],
) -> VersionDiff:
    """Lessons added, removed or changed (title, content, assets, place) from one published
    version to another."""
    async with read() as snap:
        await _course_for_learner(snap.conn, course_id, user)
        known = {v.content_version for v in await learning.versions(snap.conn, course_id)}
        for version in (from_version, to_version):
            if version not in known:
                raise NotFound(f"no published version {version} of this course",
                               "course.version_not_found")
        before = await learning.version_lessons(snap.conn, course_id, from_version)
        after = await learning.version_lessons(snap.conn, course_id, to_version)
    return VersionDiff(course_id=course_id, from_version=from_version, to_version=to_version,
                       lessons=learning.diff(before, after))
