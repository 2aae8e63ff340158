"""One handler per command: authorize, load, let the aggregate decide, commit.

Authorization that depends on state (an instructor changes only their own courses, a
student acts only on their own enrollments) lives here, so every entry point gets it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from commands import messages as m
from commands.domain.course import Course
from commands.domain.email_claim import EmailClaim
from commands.domain.enrollment import COMPLETED, Enrollment
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.ids import email_claim_id, enrollment_id
from commands.domain.quiz import grade
from commands.domain.user import ROLES, User
from commands.domain.workflow import CANCELLED_STEP, RUNNING, Workflow
from commands.unit_of_work import CommandResult, UnitOfWork
from identity.emails import normalise_email

Handler = Callable[[Any, m.Actor, UnitOfWork], Awaitable[CommandResult]]


def _require_role(actor: m.Actor, *roles: str) -> None:
    if actor.role not in roles and not actor.is_admin:
        raise Forbidden(f"this needs the role {' or '.join(roles)}", "auth.role_required")


async def register_user(cmd: m.RegisterUser, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    """One account per email: the email's claim stream is created in the same commit, so a
    concurrent registration with the same email loses the race and then finds it taken."""
    if cmd.role not in ROLES:
        raise RuleViolated(f"unknown role {cmd.role!r}", "user.unknown_role")
    if cmd.role != "student" or actor.user_id != cmd.user_id:
        _require_role(actor, "admin")  # only admins create staff or other people's accounts
    email = normalise_email(cmd.email)
    if await uow.find(User, cmd.user_id) is not None:
        raise Conflict("the user is already registered", "user.exists")
    claim_id = email_claim_id(email)
    if await uow.find(EmailClaim, claim_id) is not None:
        raise Conflict("an account with this email exists", "user.email_taken")
    user = User(id=cmd.user_id, display_name=cmd.display_name, email=email, role=cmd.role)
    uow.add(user)
    uow.add(EmailClaim(id=claim_id, user_id=cmd.user_id))
    return await uow.commit(user)


async def change_role(cmd: m.ChangeRole, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    _require_role(actor, "admin")
    if cmd.role not in ROLES:
        raise RuleViolated(f"unknown role {cmd.role!r}", "user.unknown_role")
    user = await uow.get(User, cmd.user_id)
    user.change_role(cmd.role)
    return await uow.commit(user)


async def deactivate_user(cmd: m.DeactivateUser, actor: m.Actor,
                          uow: UnitOfWork) -> CommandResult:
    """Admins deactivate anyone but themselves (the last admin could lock everyone out);
    users may close their own account."""
    if actor.user_id != cmd.user_id:
        _require_role(actor, "admin")
    elif actor.role == "admin":
        raise RuleViolated("an admin cannot deactivate their own account",
                           "user.cannot_deactivate_self")
    user = await uow.get(User, cmd.user_id)
    user.deactivate(cmd.reason)
    return await uow.commit(user)


async def reactivate_user(cmd: m.ReactivateUser, actor: m.Actor,
                          uow: UnitOfWork) -> CommandResult:
    _require_role(actor, "admin")
    user = await uow.get(User, cmd.user_id)
    user.reactivate()
    return await uow.commit(user)


async def record_password_change(cmd: m.RecordPasswordChange, actor: m.Actor,
                                 uow: UnitOfWork) -> CommandResult:
    if actor.user_id != cmd.user_id:
        _require_role(actor, "admin")
    user = await uow.get(User, cmd.user_id)
    user.record_password_change()
    return await uow.commit(user)


async def erase_user(cmd: m.EraseUser, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    """Record `user.erased`, then delete the user's data key: every sealed personal field of
    theirs, in every store and every copy, reads as erased from then on."""
    if actor.user_id != cmd.user_id:
        _require_role(actor, "admin")
    user = await uow.get(User, cmd.user_id)
    user.erase(cmd.reason)
    result = await uow.commit(user)
    await uow.personal.shred(user.id)  # after the event: a crash in between is repeated
    return result


async def give_consent(cmd: m.GiveConsent, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    if actor.user_id != cmd.user_id:  # consent is the user's own act
        raise Forbidden("only the user gives their consent", "consent.not_yours")
    user = await uow.get(User, cmd.user_id)
    user.give_consent(cmd.purpose)
    return await uow.commit(user)


async def withdraw_consent(cmd: m.WithdrawConsent, actor: m.Actor,
                           uow: UnitOfWork) -> CommandResult:
    if actor.user_id != cmd.user_id:
        _require_role(actor, "admin")  # an admin may withdraw on a user's written request
    user = await uow.get(User, cmd.user_id)
    user.withdraw_consent(cmd.purpose)
    return await uow.commit(user)


async def create_course(cmd: m.CreateCourse, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    _require_role(actor, "instructor")
    instructor = cmd.instructor_id if actor.is_admin and cmd.instructor_id else actor.user_id
    existing = await uow.find(Course, cmd.course_id)
    if existing is not None:
        if (existing.instructor_id, existing.title) == (instructor, cmd.title):
            return await uow.commit(existing)  # a retried creation: it already took effect
        raise Conflict("the course already exists", "course.exists")
    course = Course(
        id=cmd.course_id, instructor_id=instructor, title=cmd.title,
        description=cmd.description, tags=list(cmd.tags), capacity=cmd.capacity,
        prerequisites=[], starts_at=cmd.starts_at,
    )
    if cmd.prerequisites:
        await _check_courses_exist(uow, cmd.prerequisites)
        course.set_prerequisites(list(cmd.prerequisites))
    uow.add(course)
    return await uow.commit(course)


async def _course(uow: UnitOfWork, course_id: Any) -> Course:
    """The course, unless it does not exist or was deleted."""
    course = await uow.get(Course, course_id)
    if course.deleted:
        raise NotFound(f"no course {course_id}", "course.not_found")
    return course


async def _check_courses_exist(uow: UnitOfWork, course_ids: list[Any]) -> None:
    for course_id in course_ids:
        await _course(uow, course_id)


async def _check_no_prerequisite_cycle(uow: UnitOfWork, course: Course,
                                       prerequisites: list[Any]) -> None:
    """Refuse prerequisites that lead back to the course (A needs B, B needs A): nobody
    could ever join either. Every course on the way is read in this unit of work, so a
    concurrent change to one of them makes the commit fail and the check run again."""
    parent: dict[Any, Any] = {}
    todo = [(p, course.id) for p in prerequisites]
    while todo:
        current, via = todo.pop()
        if current in parent:
            continue
        parent[current] = via
        found = await uow.find(Course, current)
        for further in found.prerequisites if found is not None else ():
            if further == course.id:
                chain = [current]
                while chain[-1] != course.id:
                    chain.append(parent[chain[-1]])
                raise RuleViolated(
                    "these prerequisites would make a cycle: no student could join any of "
                    "its courses", "course.prerequisite_cycle",
                    cycle=[str(c) for c in [*reversed(chain), course.id]])
            todo.append((further, current))


async def _owned_course(uow: UnitOfWork, course_id: Any, actor: m.Actor) -> Course:
    course = await _course(uow, course_id)
    course.check_owner(actor.user_id, actor.is_admin)
    return course


async def revise_course_details(
    cmd: m.ReviseCourseDetails, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.revise_details(cmd.title, cmd.description, list(cmd.tags))
    return await uow.commit(course)


async def set_course_start(cmd: m.SetCourseStart, actor: m.Actor,
                           uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.set_start(cmd.starts_at)
    return await uow.commit(course)


async def change_capacity(cmd: m.ChangeCapacity, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.change_capacity(cmd.capacity)
    return await uow.commit(course)


async def set_prerequisites(
    cmd: m.SetPrerequisites, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    others = [p for p in cmd.prerequisites if p != course.id]
    await _check_courses_exist(uow, others)
    course.set_prerequisites(list(cmd.prerequisites))
    await _check_no_prerequisite_cycle(uow, course, others)
    return await uow.commit(course)


async def add_module(cmd: m.AddModule, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.add_module(cmd.module_id, cmd.title)
    return await uow.commit(course)


async def add_lesson(cmd: m.AddLesson, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.add_lesson(cmd.module_id, cmd.lesson_id, cmd.title, cmd.content, list(cmd.assets))
    return await uow.commit(course)


async def revise_lesson(cmd: m.ReviseLesson, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.revise_lesson(cmd.lesson_id, cmd.title, cmd.content)
    return await uow.commit(course)


async def remove_lesson(cmd: m.RemoveLesson, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.remove_lesson(cmd.lesson_id)
    return await uow.commit(course)


async def rename_module(cmd: m.RenameModule, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.rename_module(cmd.module_id, cmd.title)
    return await uow.commit(course)


async def remove_module(cmd: m.RemoveModule, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.remove_module(cmd.module_id)
    return await uow.commit(course)


async def reorder_modules(
    cmd: m.ReorderModules, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.reorder_modules(list(cmd.module_ids))
    return await uow.commit(course)


async def move_lesson(cmd: m.MoveLesson, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.move_lesson(cmd.lesson_id, cmd.module_id, cmd.index)
    return await uow.commit(course)


async def revise_lesson_assets(
    cmd: m.ReviseLessonAssets, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.revise_lesson_assets(cmd.lesson_id, list(cmd.assets))
    return await uow.commit(course)


async def check_asset_target(
    cmd: m.CheckAssetTarget, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.check_asset_target(cmd.lesson_id, cmd.asset_id)
    return await uow.commit(course)


async def request_asset_upload(
    cmd: m.RequestAssetUpload, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.request_asset_upload(cmd.lesson_id, cmd.asset_id, cmd.key, cmd.name, cmd.mime_type,
                                cmd.size_bytes, cmd.sha256)
    return await uow.commit(course)


async def store_lesson_asset(
    cmd: m.StoreLessonAsset, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.store_asset(cmd.lesson_id, cmd.asset_id, cmd.key, cmd.name, cmd.mime_type,
                       cmd.size_bytes, cmd.sha256)
    return await uow.commit(course)


async def confirm_asset_upload(
    cmd: m.ConfirmAssetUpload, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.confirm_asset_upload(cmd.lesson_id, cmd.asset_id, cmd.key, cmd.size_bytes,
                                cmd.sha256)
    return await uow.commit(course)


async def remove_lesson_asset(
    cmd: m.RemoveLessonAsset, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.remove_asset(cmd.lesson_id, cmd.asset_id)
    return await uow.commit(course)


async def delete_course(cmd: m.DeleteCourse, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.delete()
    return await uow.commit(course)


async def restore_course(cmd: m.RestoreCourse, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.restore()
    return await uow.commit(course)


async def add_quiz(cmd: m.AddQuiz, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.add_quiz(dict(cmd.quiz))
    return await uow.commit(course)


async def revise_quiz(cmd: m.ReviseQuiz, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.revise_quiz(dict(cmd.quiz))
    return await uow.commit(course)


async def remove_quiz(cmd: m.RemoveQuiz, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.remove_quiz(str(cmd.quiz_id))
    return await uow.commit(course)


async def set_quiz_rules(cmd: m.SetQuizRules, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.set_quiz_rules(cmd.score_policy, cmd.require_passing_quizzes)
    return await uow.commit(course)


async def publish_course(cmd: m.PublishCourse, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.publish(cmd.workflow_id)
    return await uow.commit(course)


async def mark_course_ready(
    cmd: m.MarkCourseReady, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    _require_role(actor, "system")
    course = await _course(uow, cmd.course_id)
    course.mark_ready(cmd.content_version, cmd.workflow_id, cmd.chunk_count)
    return await uow.commit(course)


async def revert_course_to_draft(
    cmd: m.RevertCourseToDraft, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    _require_role(actor, "system")
    course = await _course(uow, cmd.course_id)
    course.revert_to_draft(cmd.workflow_id, cmd.reason)
    return await uow.commit(course)


async def archive_course(cmd: m.ArchiveCourse, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    course = await _owned_course(uow, cmd.course_id, actor)
    course.archive()
    return await uow.commit(course)


async def enroll_student(cmd: m.EnrollStudent, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    """Seat cap, prerequisites and no duplicate open enrollment, all checked in the recording
    transaction (the course's version check serialises them, also across processes)."""
    if actor.user_id != cmd.student_id:
        _require_role(actor, "admin")
    course = await _course(uow, cmd.course_id)
    if course.holds_seat(cmd.student_id):
        existing = await uow.find(Enrollment, course.enrollment_of(cmd.student_id))
        if existing is not None:
            return await uow.commit(existing)  # a repeated enroll returns the same enrollment
    course.check_open()
    for prerequisite in course.prerequisites:
        if not await _completed(uow, prerequisite, cmd.student_id):
            raise RuleViolated(
                "complete the prerequisite courses first", "enrollment.prerequisites_missing",
                missing=str(prerequisite),
            )
    attempt = course.attempts.get(cmd.student_id, 0)  # after a cancellation: a new enrollment
    eid = enrollment_id(cmd.course_id, cmd.student_id, attempt)
    course.reserve_seat(eid, cmd.student_id)
    enrollment = Enrollment(id=eid, course_id=cmd.course_id, student_id=cmd.student_id,
                            attempt=attempt)
    uow.add(enrollment)
    return await uow.commit(enrollment)


async def _completed(uow: UnitOfWork, course_id: Any, student_id: Any) -> bool:
    """Whether the student's latest enrollment in the course is completed."""
    course = await uow.find(Course, course_id)
    latest = course.enrollment_of(student_id) if course is not None else None
    if latest is None:
        return False
    done = await uow.find(Enrollment, latest)
    return done is not None and done.state == COMPLETED


async def _own_enrollment(uow: UnitOfWork, enrollment: Any, actor: m.Actor) -> Enrollment:
    found = await uow.get(Enrollment, enrollment)
    if found.student_id != actor.user_id and not actor.is_admin:
        raise Forbidden("this is another student's enrollment", "enrollment.not_owner")
    return found


async def activate_enrollment(
    cmd: m.ActivateEnrollment, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    """The enrollment workflow's last step (admins may too); never the student."""
    _require_role(actor, "system")
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    enrollment.activate()
    return await uow.commit(enrollment)


async def complete_lesson(cmd: m.CompleteLesson, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    enrollment = await _own_enrollment(uow, cmd.enrollment_id, actor)
    course = await uow.get(Course, enrollment.course_id)
    enrollment.complete_lesson(cmd.lesson_id, course.lesson_ids,
                               requirements_met=completion_requirements_met(course, enrollment))
    return await uow.commit(enrollment)


def _required(course: Course) -> frozenset[UUID]:
    return frozenset(UUID(q) for q in course.required_quiz_ids)


def completion_requirements_met(course: Course, enrollment: Enrollment) -> bool:
    """What a course requires beyond its lessons before an enrollment completes: every quiz
    passed, when the course's quiz rules say so (`require_passing_quizzes`)."""
    return enrollment.quizzes_passed(_required(course))


async def score_quiz(cmd: m.ScoreQuiz, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    """Scores come from the server's grading; only the platform records one directly."""
    _require_role(actor, "system")
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    enrollment.score_quiz(cmd.quiz_id, cmd.score, cmd.max_score)
    return await uow.commit(enrollment)


async def submit_quiz_answers(
    cmd: m.SubmitQuizAnswers, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    """Grade a student's answers against the course's quiz and record the attempt."""
    enrollment = await _own_enrollment(uow, cmd.enrollment_id, actor)
    course = await uow.get(Course, enrollment.course_id)
    quiz = course.quiz(str(cmd.quiz_id))
    answers = [dict(a) for a in cmd.answers]
    enrollment.attempt_quiz(cmd.quiz_id, answers, grade(quiz, answers), quiz["max_attempts"],
                            course.score_policy, course.lesson_ids, _required(course))
    return await uow.commit(enrollment)


async def cancel_enrollment(
    cmd: m.CancelEnrollment, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    enrollment = await _own_enrollment(uow, cmd.enrollment_id, actor)
    enrollment.cancel(cmd.reason)
    course = await uow.get(Course, enrollment.course_id)
    course.release_seat(enrollment.id)
    return await uow.commit(enrollment)


async def start_workflow(cmd: m.StartWorkflow, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    """Idempotent: a process manager re-issues it after a restart."""
    _require_role(actor, "system")
    existing = await uow.find(Workflow, cmd.workflow_id)
    if existing is not None:
        return await uow.commit(existing)
    workflow = Workflow(id=cmd.workflow_id, kind=cmd.kind, course_id=cmd.course_id,
                        content_version=cmd.content_version)
    uow.add(workflow)
    return await uow.commit(workflow)


async def record_content_chunked(
    cmd: m.RecordContentChunked, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    _require_role(actor, "system")
    workflow = await uow.get(Workflow, cmd.workflow_id)
    workflow.record_chunks(cmd.chunker, cmd.chunk_count, cmd.content_hash, list(cmd.lessons))
    return await uow.commit(workflow)


async def fail_workflow(cmd: m.FailWorkflow, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    _require_role(actor, "system")
    workflow = await uow.get(Workflow, cmd.workflow_id)
    workflow.fail(cmd.step, cmd.reason, cmd.attempts)
    return await uow.commit(workflow)


async def cancel_workflow(cmd: m.CancelWorkflow, actor: m.Actor,
                          uow: UnitOfWork) -> CommandResult:
    """The run's end and the publish's undo, in one commit: whatever a worker does next with
    the run is refused, and it sees the run ended (streams/workflows/runner.py)."""
    _require_role(actor, "admin")
    workflow = await uow.get(Workflow, cmd.workflow_id)
    if workflow.state != RUNNING:
        raise Conflict(f"the workflow is {workflow.state}, not running",
                       "workflow.not_running", state=workflow.state)
    reason = f"cancelled by an operator: {cmd.reason}".strip().rstrip(":")
    course = await _course(uow, workflow.course_id)
    workflow.fail(CANCELLED_STEP, reason[:500], 0)
    course.revert_to_draft(cmd.workflow_id, reason[:500])
    return await uow.commit(workflow)


async def complete_workflow(
    cmd: m.CompleteWorkflow, actor: m.Actor, uow: UnitOfWork
) -> CommandResult:
    _require_role(actor, "system")
    workflow = await uow.get(Workflow, cmd.workflow_id)
    workflow.complete(cmd.chunk_count)
    return await uow.commit(workflow)


HANDLERS: dict[type, Handler] = {
    m.RegisterUser: register_user,
    m.ChangeRole: change_role,
    m.DeactivateUser: deactivate_user,
    m.ReactivateUser: reactivate_user,
    m.RecordPasswordChange: record_password_change,
    m.EraseUser: erase_user,
    m.GiveConsent: give_consent,
    m.WithdrawConsent: withdraw_consent,
    m.CreateCourse: create_course,
    m.ReviseCourseDetails: revise_course_details,
    m.SetCourseStart: set_course_start,
    m.ChangeCapacity: change_capacity,
    m.SetPrerequisites: set_prerequisites,
    m.AddModule: add_module,
    m.AddLesson: add_lesson,
    m.ReviseLesson: revise_lesson,
    m.RemoveLesson: remove_lesson,
    m.RenameModule: rename_module,
    m.RemoveModule: remove_module,
    m.ReorderModules: reorder_modules,
    m.MoveLesson: move_lesson,
    m.ReviseLessonAssets: revise_lesson_assets,
    m.CheckAssetTarget: check_asset_target,
    m.RequestAssetUpload: request_asset_upload,
    m.StoreLessonAsset: store_lesson_asset,
    m.ConfirmAssetUpload: confirm_asset_upload,
    m.RemoveLessonAsset: remove_lesson_asset,
    m.DeleteCourse: delete_course,
    m.RestoreCourse: restore_course,
    m.AddQuiz: add_quiz,
    m.ReviseQuiz: revise_quiz,
    m.RemoveQuiz: remove_quiz,
    m.SetQuizRules: set_quiz_rules,
    m.SubmitQuizAnswers: submit_quiz_answers,
    m.PublishCourse: publish_course,
    m.MarkCourseReady: mark_course_ready,
    m.RevertCourseToDraft: revert_course_to_draft,
    m.ArchiveCourse: archive_course,
    m.EnrollStudent: enroll_student,
    m.ActivateEnrollment: activate_enrollment,
    m.CompleteLesson: complete_lesson,
    m.ScoreQuiz: score_quiz,
    m.CancelEnrollment: cancel_enrollment,
    m.StartWorkflow: start_workflow,
    m.RecordContentChunked: record_content_chunked,
    m.FailWorkflow: fail_workflow,
    m.CancelWorkflow: cancel_workflow,
    m.CompleteWorkflow: complete_workflow,
}



def _workflow_handlers() -> dict[type, Handler]:
    from commands.workflow_handlers import HANDLERS as WORKFLOW_HANDLERS

    return WORKFLOW_HANDLERS  # type: ignore[return-value]


HANDLERS.update(_workflow_handlers())

# The assistant room's commands (ai.* events) go through the same bus.
from assistant.handlers import HANDLERS as _ASSISTANT_HANDLERS  # noqa: E402

HANDLERS.update(_ASSISTANT_HANDLERS)
