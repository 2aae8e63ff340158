"""Handlers through the command bus on an in-memory store: who may do what, and the rules
that span aggregates (seat cap under concurrency, prerequisites, no duplicate enrollments)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from commands import messages as m
from commands.adapters.event_store import Metadata
from commands.bus import CommandBus
from commands.domain.base import AggregateRoot
from commands.domain.course import Course
from commands.domain.enrollment import Enrollment
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.ids import enrollment_id
from commands.messages import Actor
from commands.unit_of_work import AggregateCache, CommandResult, UnitOfWork
from tests.unit.commands.fake_event_store import FakeEventStore

A = TypeVar("A", bound=AggregateRoot)


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body to completion (no asyncio plugin is installed)."""
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return sync


def person(role: str) -> Actor:
    return Actor(user_id=uuid4(), role=role)


@dataclass(frozen=True)
class CourseIds:
    id: UUID
    module: UUID
    lessons: list[UUID]


class Platform:
    """A command bus on a fake store, and a way to author courses through it."""

    def __init__(self, store: FakeEventStore | None = None) -> None:
        self.store = store or FakeEventStore()
        self.bus = CommandBus(self.store)  # the fake stands in for the PostgreSQL store
        self.system = person("system")

    async def do(self, command: Any, actor: Actor) -> CommandResult:
        return await self.bus.execute(command, actor)

    async def course(
        self, owner: Actor, *, capacity: int = 10, lessons: int = 1, publish: bool = True,
        prerequisites: tuple[UUID, ...] = (),
    ) -> CourseIds:
        ids = CourseIds(uuid4(), uuid4(), [uuid4() for _ in range(lessons)])
        await self.do(m.CreateCourse(ids.id, "Event sourcing", capacity=capacity,
                                     prerequisites=list(prerequisites)), owner)
        await self.do(m.AddModule(ids.id, ids.module, "Basics"), owner)
        for n, lesson in enumerate(ids.lessons):
            await self.do(m.AddLesson(ids.id, ids.module, lesson, f"Lesson {n}", "text"), owner)
        if publish:
            await self.do(m.PublishCourse(ids.id, uuid4()), owner)
        return ids

    async def committed(self, cls: type[A], aggregate_id: UUID) -> A:
        """The aggregate as the store has it, rebuilt with a cold cache."""
        uow = UnitOfWork(self.store, AggregateCache(), Metadata(None, uuid4()),
                         personal=self.bus.personal)  # the same data keys
        return await uow.get(cls, aggregate_id)

    def event_types(self, aggregate_id: UUID) -> list[str]:
        return [e.event_type for e in self.store.events if e.aggregate_id == aggregate_id]


# -- users -------------------------------------------------------------------------------------
@run
async def test_a_person_registers_themself_as_a_student() -> None:
    platform, newcomer = Platform(), person("student")

    result = await platform.do(
        m.RegisterUser(newcomer.user_id, "Ada", "ada@example.org", "student"), newcomer)

    assert (result.aggregate_id, result.changed) == (newcomer.user_id, True)
    assert platform.event_types(newcomer.user_id) == ["user.registered"]


@pytest.mark.parametrize("role", ["instructor", "admin"])
@run
async def test_only_an_admin_registers_staff(role: str) -> None:
    platform, newcomer, admin = Platform(), person("student"), person("admin")
    command = m.RegisterUser(newcomer.user_id, "Grace", "grace@example.org", role)

    with pytest.raises(Forbidden) as refused:
        await platform.do(command, newcomer)
    assert refused.value.code == "auth.role_required"

    assert (await platform.do(command, admin)).changed


@run
async def test_a_student_does_not_register_someone_else() -> None:
    platform, student = Platform(), person("student")

    with pytest.raises(Forbidden) as refused:
        await platform.do(m.RegisterUser(uuid4(), "Eve", "eve@example.org", "student"), student)

    assert refused.value.code == "auth.role_required"
    assert platform.store.events == []


@run
async def test_a_user_registers_once_with_a_known_role() -> None:
    platform, newcomer = Platform(), person("student")
    await platform.do(m.RegisterUser(newcomer.user_id, "Ada", "a@example.org", "student"), newcomer)

    with pytest.raises(Conflict) as again:
        await platform.do(m.RegisterUser(newcomer.user_id, "Ada", "a@example.org", "student"),
                          newcomer)
    with pytest.raises(RuleViolated) as unknown:
        await platform.do(m.RegisterUser(uuid4(), "Bob", "b@example.org", "wizard"),
                          person("admin"))

    assert (again.value.code, unknown.value.code) == ("user.exists", "user.unknown_role")


@run
async def test_an_email_belongs_to_one_account_whatever_its_case() -> None:
    platform, ada, eve = Platform(), person("student"), person("student")
    await platform.do(m.RegisterUser(ada.user_id, "Ada", "Ada@Example.org", "student"), ada)

    with pytest.raises(Conflict) as taken:
        await platform.do(m.RegisterUser(eve.user_id, "Eve", " ada@EXAMPLE.org", "student"),
                          eve)

    assert taken.value.code == "user.email_taken"
    assert platform.event_types(eve.user_id) == []


@run
async def test_concurrent_registrations_with_one_email_register_one_account() -> None:
    platform = Platform()
    people = [person("student") for _ in range(10)]

    outcomes = await asyncio.gather(*(
        platform.do(m.RegisterUser(p.user_id, "Twin", "twin@example.org", "student"), p)
        for p in people), return_exceptions=True)

    registered = [o for o in outcomes if isinstance(o, CommandResult)]
    refused = {o.code for o in outcomes if isinstance(o, Conflict)}
    assert (len(registered), refused) == (1, {"user.email_taken"})


@run
async def test_admins_change_roles_and_deactivate_others_but_not_themselves() -> None:
    platform, admin, ada = Platform(), person("admin"), person("student")
    await platform.do(m.RegisterUser(ada.user_id, "Ada", "ada@example.org", "student"), ada)

    with pytest.raises(Forbidden):
        await platform.do(m.ChangeRole(ada.user_id, "admin"), ada)
    await platform.do(m.ChangeRole(ada.user_id, "instructor"), admin)
    await platform.do(m.DeactivateUser(ada.user_id, "left"), admin)
    with pytest.raises(RuleViolated) as own:
        await platform.do(m.DeactivateUser(admin.user_id), admin)
    await platform.do(m.ReactivateUser(ada.user_id), admin)

    assert own.value.code == "user.cannot_deactivate_self"
    assert platform.event_types(ada.user_id) == [
        "user.registered", "user.role_changed", "user.deactivated", "user.reactivated"]


# -- authoring ---------------------------------------------------------------------------------
@run
async def test_a_student_does_not_author_courses() -> None:
    platform = Platform()

    with pytest.raises(Forbidden) as refused:
        await platform.do(m.CreateCourse(uuid4(), "Mine"), person("student"))

    assert refused.value.code == "auth.role_required"
    assert platform.store.events == []


@run
async def test_a_course_is_created_once() -> None:
    platform, owner = Platform(), person("instructor")
    course = await platform.course(owner, publish=False)

    with pytest.raises(Conflict) as refused:
        await platform.do(m.CreateCourse(course.id, "Again"), owner)

    assert refused.value.code == "course.exists"


@run
async def test_a_retried_creation_of_the_same_course_answers_success_without_an_event() -> None:
    platform, owner = Platform(), person("instructor")
    course_id = uuid4()
    first = await platform.do(m.CreateCourse(course_id, "Once"), owner)
    events = len(platform.store.events)

    again = await platform.do(m.CreateCourse(course_id, "Once"), owner)

    assert (again.changed, again.aggregate_id, again.position) == (False, course_id,
                                                                   first.position)
    assert len(platform.store.events) == events


@run
async def test_a_retried_lesson_completion_after_the_enrollment_completed_is_a_no_op() -> None:
    platform, owner, student = Platform(), person("instructor"), person("student")
    course = await platform.course(owner, lessons=1)
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), platform.system)
    done = await platform.do(m.CompleteLesson(enrolled.aggregate_id, course.lessons[0]), student)
    events = len(platform.store.events)

    again = await platform.do(m.CompleteLesson(enrolled.aggregate_id, course.lessons[0]),
                              student)

    assert (done.state, again.state, again.changed) == ("COMPLETED", "COMPLETED", False)
    assert len(platform.store.events) == events


@run
async def test_an_admin_creates_a_course_on_an_instructors_behalf() -> None:
    platform, admin, instructor = Platform(), person("admin"), person("instructor")
    course_id = uuid4()

    await platform.do(m.CreateCourse(course_id, "Delegated", instructor_id=instructor.user_id),
                      admin)
    edited = await platform.do(m.ChangeCapacity(course_id, 5), instructor)

    assert edited.changed
    assert (await platform.committed(Course, course_id)).instructor_id == instructor.user_id


@run
async def test_prerequisites_must_name_existing_courses() -> None:
    platform, owner = Platform(), person("instructor")

    with pytest.raises(NotFound) as on_create:
        await platform.do(m.CreateCourse(uuid4(), "Advanced", prerequisites=[uuid4()]), owner)
    course = await platform.course(owner)
    with pytest.raises(NotFound) as on_set:
        await platform.do(m.SetPrerequisites(course.id, [uuid4()]), owner)
    with pytest.raises(RuleViolated) as itself:
        await platform.do(m.SetPrerequisites(course.id, [course.id]), owner)

    assert (on_create.value.code, on_set.value.code, itself.value.code) == (
        "course.not_found", "course.not_found", "course.self_prerequisite")


OWNER_COMMANDS: dict[str, Callable[[CourseIds, UUID], Any]] = {
    "revise details": lambda c, _: m.ReviseCourseDetails(c.id, "Renamed", "new", ["x"]),
    "change capacity": lambda c, _: m.ChangeCapacity(c.id, 42),
    "set prerequisites": lambda c, other: m.SetPrerequisites(c.id, [other]),
    "add module": lambda c, _: m.AddModule(c.id, uuid4(), "More"),
    "add lesson": lambda c, _: m.AddLesson(c.id, c.module, uuid4(), "More", "text"),
    "revise lesson": lambda c, _: m.ReviseLesson(c.id, c.lessons[0], "Renamed", "new text"),
    "remove lesson": lambda c, _: m.RemoveLesson(c.id, c.lessons[0]),
    "publish": lambda c, _: m.PublishCourse(c.id, uuid4()),
    "archive": lambda c, _: m.ArchiveCourse(c.id),
}


@pytest.mark.parametrize("command", OWNER_COMMANDS.values(), ids=OWNER_COMMANDS.keys())
@run
async def test_another_instructor_may_not_change_a_course(
    command: Callable[[CourseIds, UUID], Any],
) -> None:
    platform, owner = Platform(), person("instructor")
    course = await platform.course(owner, publish=False)
    other = await platform.course(owner, publish=False)
    before = list(platform.store.events)

    with pytest.raises(Forbidden) as refused:
        await platform.do(command(course, other.id), person("instructor"))

    assert refused.value.code == "course.not_owner"
    assert platform.store.events == before


@pytest.mark.parametrize("role", ["instructor", "admin"], ids=["the owner", "an admin"])
@pytest.mark.parametrize("command", OWNER_COMMANDS.values(), ids=OWNER_COMMANDS.keys())
@run
async def test_the_owner_or_an_admin_changes_a_course(
    command: Callable[[CourseIds, UUID], Any], role: str,
) -> None:
    platform, owner = Platform(), person("instructor")
    course = await platform.course(owner, publish=False)
    other = await platform.course(owner, publish=False)
    actor = owner if role == "instructor" else person("admin")

    result = await platform.do(command(course, other.id), actor)

    assert (result.aggregate_id, result.changed) == (course.id, True)
    assert platform.store.events[-1].aggregate_id == course.id
    assert platform.store.events[-1].actor == str(actor.user_id)


@pytest.mark.parametrize("role", ["instructor", "student"])
@run
async def test_only_the_platform_marks_a_course_ready_or_reverts_it(role: str) -> None:
    platform, owner = Platform(), person("instructor")
    course = await platform.course(owner, publish=False)
    workflow = uuid4()
    await platform.do(m.PublishCourse(course.id, workflow), owner)
    actor = owner if role == "instructor" else person("student")

    with pytest.raises(Forbidden) as ready:
        await platform.do(m.MarkCourseReady(course.id, 1, workflow, chunk_count=3), actor)
    with pytest.raises(Forbidden) as revert:
        await platform.do(m.RevertCourseToDraft(course.id, workflow, "failed"), actor)

    assert (ready.value.code, revert.value.code) == ("auth.role_required", "auth.role_required")
    result = await platform.do(m.MarkCourseReady(course.id, 1, workflow, 3), platform.system)
    assert (result.changed, result.state) == (True, "READY")


@run
async def test_a_failed_pipeline_reverts_the_course_and_it_can_be_republished() -> None:
    platform, owner = Platform(), person("instructor")
    course = await platform.course(owner, publish=False)
    workflow = uuid4()
    await platform.do(m.PublishCourse(course.id, workflow), owner)

    reverted = await platform.do(m.RevertCourseToDraft(course.id, workflow, "embedding failed"),
                                 platform.system)
    republished = await platform.do(m.PublishCourse(course.id, uuid4()), owner)

    assert (reverted.state, republished.state) == ("DRAFT", "PUBLISHED")
    assert (await platform.committed(Course, course.id)).content_version == 2


# -- enrolling ---------------------------------------------------------------------------------
@run
async def test_a_student_enrolls_themself() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))

    result = await platform.do(m.EnrollStudent(course.id, student.user_id), student)

    expected = enrollment_id(course.id, student.user_id)
    assert (result.aggregate_id, result.changed, result.state) == (expected, True, "PENDING")
    assert platform.event_types(expected) == ["enrollment.created"]
    assert platform.event_types(course.id)[-1] == "course.seat_reserved"


@pytest.mark.parametrize("role", ["student", "instructor"])
@run
async def test_only_an_admin_enrolls_someone_else(role: str) -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    before = list(platform.store.events)

    with pytest.raises(Forbidden) as refused:
        await platform.do(m.EnrollStudent(course.id, student.user_id), person(role))
    assert refused.value.code == "auth.role_required"
    assert platform.store.events == before

    result = await platform.do(m.EnrollStudent(course.id, student.user_id), person("admin"))
    assert (await platform.committed(Enrollment, result.aggregate_id)).student_id == \
        student.user_id


@run
async def test_a_repeated_enroll_returns_the_same_enrollment_unchanged() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    first = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    before = list(platform.store.events)

    again = await platform.do(m.EnrollStudent(course.id, student.user_id), student)

    assert (again.aggregate_id, again.position, again.changed) == (
        first.aggregate_id, first.position, False)
    assert platform.store.events == before


@run
async def test_an_enroll_commits_the_seat_and_the_enrollment_together() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    correlation = uuid4()

    result = await platform.bus.execute(m.EnrollStudent(course.id, student.user_id), student,
                                        correlation_id=correlation)

    seat, created = [e for e in platform.store.events if e.correlation_id == correlation]
    assert (seat.event_type, created.event_type) == ("course.seat_reserved", "enrollment.created")
    assert created.position == seat.position + 1 == result.position
    assert seat.payload == {"enrollment_id": str(result.aggregate_id),
                            "student_id": str(student.user_id)}
    assert {seat.actor, created.actor} == {str(student.user_id)}


@run
async def test_a_draft_or_unknown_course_takes_no_enrollments() -> None:
    platform, student = Platform(), person("student")
    draft = await platform.course(person("instructor"), publish=False)

    with pytest.raises(Conflict) as not_open:
        await platform.do(m.EnrollStudent(draft.id, student.user_id), student)
    with pytest.raises(NotFound) as unknown:
        await platform.do(m.EnrollStudent(uuid4(), student.user_id), student)

    assert (not_open.value.code, unknown.value.code) == (
        "enrollment.course_not_open", "course.not_found")


@run
async def test_prerequisites_must_be_completed_before_enrolling() -> None:
    platform, owner, student = Platform(), person("instructor"), person("student")
    basics = await platform.course(owner, lessons=2)
    advanced = await platform.course(owner, prerequisites=(basics.id,))

    with pytest.raises(RuleViolated) as not_enrolled:
        await platform.do(m.EnrollStudent(advanced.id, student.user_id), student)
    assert not_enrolled.value.code == "enrollment.prerequisites_missing"
    assert not_enrolled.value.details == {"missing": str(basics.id)}

    enrolled = await platform.do(m.EnrollStudent(basics.id, student.user_id), student)
    await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), platform.system)
    await platform.do(m.CompleteLesson(enrolled.aggregate_id, basics.lessons[0]), student)
    with pytest.raises(RuleViolated) as not_completed:
        await platform.do(m.EnrollStudent(advanced.id, student.user_id), student)
    assert not_completed.value.code == "enrollment.prerequisites_missing"

    done = await platform.do(m.CompleteLesson(enrolled.aggregate_id, basics.lessons[1]), student)
    assert done.state == "COMPLETED"
    result = await platform.do(m.EnrollStudent(advanced.id, student.user_id), student)
    assert (result.changed, result.state) == (True, "PENDING")


@run
async def test_fifty_students_racing_for_ten_seats_get_exactly_ten() -> None:
    """Two buses on one store, as two API processes: in-process commands chain on each
    other's pending state, the two processes race and the loser retries on fresh state."""
    platform = Platform()
    course = await platform.course(person("instructor"), capacity=10)
    students = [person("student") for _ in range(50)]
    buses = [platform.bus, CommandBus(platform.store)]

    results = await asyncio.gather(
        *(buses[n % 2].execute(m.EnrollStudent(course.id, s.user_id), s)
          for n, s in enumerate(students)),
        return_exceptions=True,
    )

    enrolled = [r for r in results if isinstance(r, CommandResult)]
    refused = [r for r in results if not isinstance(r, CommandResult)]
    assert len(enrolled) == 10 and all(r.changed for r in enrolled)
    assert len(refused) == 40
    assert {(type(e), getattr(e, "code", None)) for e in refused} == {
        (Conflict, "enrollment.seat_cap_reached")}
    assert platform.store.conflicts > 0  # the commands really raced and were retried
    committed = await platform.committed(Course, course.id)
    assert committed.seats == {r.aggregate_id for r in enrolled}
    assert platform.event_types(course.id).count("course.seat_reserved") == 10


@run
async def test_racing_repeats_of_one_enroll_take_one_seat() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"), capacity=10)

    results = await asyncio.gather(
        *(platform.do(m.EnrollStudent(course.id, student.user_id), student) for _ in range(5)))

    assert {r.aggregate_id for r in results} == {enrollment_id(course.id, student.user_id)}
    assert sorted(r.changed for r in results) == [False, False, False, False, True]
    assert (await platform.committed(Course, course.id)).seats_taken == 1


@run
async def test_cancelling_frees_the_seat_for_good() -> None:
    platform, first, second = Platform(), person("student"), person("student")
    course = await platform.course(person("instructor"), capacity=1)
    taken = await platform.do(m.EnrollStudent(course.id, first.user_id), first)
    with pytest.raises(Conflict) as full:
        await platform.do(m.EnrollStudent(course.id, second.user_id), second)
    assert full.value.code == "enrollment.seat_cap_reached"

    cancelled = await platform.do(m.CancelEnrollment(taken.aggregate_id, "moving"), first)
    assert (cancelled.state, platform.event_types(course.id)[-1]) == (
        "CANCELLED", "course.seat_released")
    assert (await platform.do(m.EnrollStudent(course.id, second.user_id), second)).changed

    with pytest.raises(Conflict) as full_again:  # the freed seat went to the second student
        await platform.do(m.EnrollStudent(course.id, first.user_id), first)
    assert full_again.value.code == "enrollment.seat_cap_reached"


@run
async def test_a_cancelled_student_re_enrolls_as_a_new_enrollment_keeping_history() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"), capacity=1)
    first = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    await platform.do(m.CancelEnrollment(first.aggregate_id, "moving"), student)

    again = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    repeat = await platform.do(m.EnrollStudent(course.id, student.user_id), student)

    assert again.aggregate_id == enrollment_id(course.id, student.user_id, 1) != first.aggregate_id
    assert (again.changed, again.state, repeat.aggregate_id, repeat.changed) == (
        True, "PENDING", again.aggregate_id, False)
    assert (await platform.committed(Enrollment, first.aggregate_id)).state == "CANCELLED"
    assert (await platform.committed(Enrollment, again.aggregate_id)).attempt == 1
    assert (await platform.committed(Course, course.id)).seats == {again.aggregate_id}


@run
async def test_racing_re_enrolls_after_a_cancel_open_exactly_one_enrollment() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"), capacity=10)
    first = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    await platform.do(m.CancelEnrollment(first.aggregate_id, "moving"), student)
    buses = [platform.bus, CommandBus(platform.store)]

    results = await asyncio.gather(*(
        buses[n % 2].execute(m.EnrollStudent(course.id, student.user_id), student)
        for n in range(6)))

    assert {r.aggregate_id for r in results} == {enrollment_id(course.id, student.user_id, 1)}
    assert sum(r.changed for r in results) == 1
    assert (await platform.committed(Course, course.id)).seats_taken == 1


@run
async def test_an_archived_course_says_it_is_archived_even_with_prerequisites() -> None:
    platform, owner, student = Platform(), person("instructor"), person("student")
    basics = await platform.course(owner)
    advanced = await platform.course(owner, prerequisites=(basics.id,))
    await platform.do(m.ArchiveCourse(advanced.id), owner)
    before = list(platform.store.events)

    with pytest.raises(Conflict) as refused:
        await platform.do(m.EnrollStudent(advanced.id, student.user_id), student)

    assert refused.value.code == "enrollment.course_archived"
    assert platform.store.events == before


@run
async def test_a_student_never_activates_their_own_enrollment() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)

    with pytest.raises(Forbidden) as refused:
        await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), student)
    assert refused.value.code == "auth.role_required"

    activated = await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), platform.system)
    assert activated.state == "ACTIVE"


@run
async def test_a_second_bus_sees_what_the_first_committed() -> None:
    """Each bus caches aggregates; every load catches up with the shared store."""
    first_bus = Platform()
    second_bus = Platform(first_bus.store)
    owner, early, late = person("instructor"), person("student"), person("student")
    course = await first_bus.course(owner, capacity=1)
    await first_bus.do(m.EnrollStudent(course.id, early.user_id), early)

    with pytest.raises(Conflict) as full:
        await second_bus.do(m.EnrollStudent(course.id, late.user_id), late)
    assert full.value.code == "enrollment.seat_cap_reached"

    await second_bus.do(m.ChangeCapacity(course.id, 2), owner)
    assert (await first_bus.do(m.EnrollStudent(course.id, late.user_id), late)).changed


@run
async def test_a_command_built_on_a_failed_commit_fails_with_it() -> None:
    """Process A chains two enrolls on its cached course while process B has already taken
    a seat. A's first commit fails; the second expects the very version B's commit created,
    so versions alone would accept it, built on a seat that was never taken. Every
    enrollment must end with its seat."""
    here = Platform()
    elsewhere = Platform(here.store)
    course = await here.course(person("instructor"), capacity=10)
    first = person("student")
    await here.do(m.EnrollStudent(course.id, first.user_id), first)  # A caches the course
    other = person("student")
    await elsewhere.do(m.EnrollStudent(course.id, other.user_id), other)

    racing = [person("student") for _ in range(3)]
    results = await asyncio.gather(*(here.do(m.EnrollStudent(course.id, s.user_id), s)
                                     for s in racing))

    assert all(r.changed for r in results)
    enrolled = {e.aggregate_id for e in here.store.events
                if e.event_type == "enrollment.created"
                and e.payload["course_id"] == str(course.id)}
    assert (await here.committed(Course, course.id)).seats == enrolled
    assert len(enrolled) == 5


@run
async def test_news_of_another_process_spares_the_lost_race() -> None:
    """A bus told (by the store follower) that another process changed an aggregate catches
    up before deciding; without the news it decides on stale state and is refused once."""
    for told, refusals in ((False, 1), (True, 0)):
        here = Platform()
        elsewhere = Platform(here.store)
        owner, student = person("instructor"), person("student")
        course = await here.course(owner, capacity=5)
        await elsewhere.do(m.ReviseCourseDetails(course.id, "Renamed", "", []), owner)
        if told:
            here.bus.cache.saw({course.id: (await elsewhere.committed(Course, course.id)).version})
        conflicts_before = here.store.conflicts

        assert (await here.do(m.EnrollStudent(course.id, student.user_id), student)).changed

        assert here.store.conflicts - conflicts_before == refusals
        assert (await here.committed(Course, course.id)).title == "Renamed"


# -- progress ----------------------------------------------------------------------------------
STUDENT_COMMANDS: dict[str, Callable[[UUID, CourseIds], Any]] = {
    "complete lesson": lambda e, c: m.CompleteLesson(e, c.lessons[0]),
    "submit quiz answers": lambda e, _: m.SubmitQuizAnswers(e, uuid4(), []),
    "cancel": lambda e, _: m.CancelEnrollment(e, "not mine to cancel"),
}


@pytest.mark.parametrize("command", STUDENT_COMMANDS.values(), ids=STUDENT_COMMANDS.keys())
@run
async def test_a_student_acts_only_on_their_own_enrollment(
    command: Callable[[UUID, CourseIds], Any],
) -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    before = list(platform.store.events)

    with pytest.raises(Forbidden) as refused:
        await platform.do(command(enrolled.aggregate_id, course), person("student"))

    assert refused.value.code == "enrollment.not_owner"
    assert platform.store.events == before


@run
async def test_progress_is_recorded_per_lesson_until_the_course_is_completed() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"), lessons=2)
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    with pytest.raises(Conflict) as pending:
        await platform.do(m.CompleteLesson(enrolled.aggregate_id, course.lessons[0]), student)
    assert pending.value.code == "enrollment.invalid_transition"
    await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), platform.system)

    await platform.do(m.CompleteLesson(enrolled.aggregate_id, course.lessons[0]), student)
    with pytest.raises(NotFound) as unknown:
        await platform.do(m.CompleteLesson(enrolled.aggregate_id, uuid4()), student)
    assert unknown.value.code == "course.lesson_not_found"
    done = await platform.do(m.CompleteLesson(enrolled.aggregate_id, course.lessons[1]), student)

    assert done.state == "COMPLETED"
    progress = [(e.event_type, e.payload.get("completed_count"), e.payload.get("total_lessons"))
                for e in platform.store.events if e.aggregate_id == enrolled.aggregate_id]
    assert progress == [
        ("enrollment.created", None, None), ("enrollment.activated", None, None),
        ("enrollment.progressed", 1, 2), ("enrollment.progressed", 2, 2),
        ("enrollment.completed", None, None),
    ]



# -- notifications -----------------------------------------------------------------------------
@run
async def test_a_welcome_goes_to_the_student_and_to_every_webhook_subscribed_to_it() -> None:
    from commands.domain.ids import notification_id
    from notifications.domain.notification import Notification

    platform, student, admin = Platform(), person("student"), person("admin")
    course = await platform.course(person("instructor"))
    await platform.do(m.RegisterUser(student.user_id, "Ada", "ada@example.org", "student"),
                      student)
    hook, other = uuid4(), uuid4()
    with pytest.raises(Forbidden):
        await platform.do(m.RegisterWebhook(hook, "https://h.example/a", ["welcome"]), student)
    await platform.do(m.RegisterWebhook(hook, "https://h.example/a", ["welcome"]), admin)
    await platform.do(m.RegisterWebhook(other, "https://h.example/b", ["reminder"]), admin)
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    welcome = m.NotifyAboutEnrollment(notification_id(uuid4(), "welcome"),
                                      enrolled.aggregate_id, "welcome")

    await platform.do(welcome, platform.system)
    before = list(platform.store.events)
    await platform.do(welcome, platform.system)  # redelivered: nothing new

    requested = [e for e in platform.store.events if e.event_type == "notification.requested"]
    # Addresses are personal fields: sealed in the store, opened with the user's data key.
    opened = [await platform.bus.personal.open(e.event_type, e.aggregate_id, e.payload)
              for e in requested]
    assert sorted((p["channel"], p["address"]) for p in opened) == [
        ("email", "ada@example.org"), ("webhook", "https://h.example/a")]
    assert platform.store.events == before
    email = await platform.committed(Notification, welcome.notification_id)
    assert (email.state, email.variables["course_title"]) == ("REQUESTED", "Event sourcing")


@run
async def test_an_unsubscribed_or_unknown_student_gets_a_suppressed_notification() -> None:
    from commands.domain.ids import notification_id
    from notifications.domain.notification import Notification

    platform, known, unknown = Platform(), person("student"), person("student")
    course = await platform.course(person("instructor"))
    await platform.do(m.RegisterUser(known.user_id, "Ada", "ada@example.org", "student"), known)
    await platform.do(m.Unsubscribe(known.user_id, "welcome"), known)
    with pytest.raises(Forbidden):
        await platform.do(m.Unsubscribe(known.user_id, "all"), unknown)
    results = {}
    for who in (known, unknown):
        enrolled = await platform.do(m.EnrollStudent(course.id, who.user_id), who)
        nid = notification_id(uuid4(), "welcome")
        await platform.do(m.NotifyAboutEnrollment(nid, enrolled.aggregate_id, "welcome"),
                          platform.system)
        results[who.user_id] = await platform.committed(Notification, nid)

    assert {n.state for n in results.values()} == {"SUPPRESSED"}


# -- "course starting soon" --------------------------------------------------------------------
@run
async def test_the_course_start_reminder_follows_the_courses_start_date() -> None:
    from commands.domain.enrollment import Enrollment

    platform, teacher, student = Platform(), person("instructor"), person("student")
    course = await platform.course(teacher)
    start = "2027-01-11T09:00:00+00:00"
    await platform.do(m.SetCourseStart(course.id, start), teacher)
    with pytest.raises(Forbidden):
        await platform.do(m.SetCourseStart(course.id, None), person("instructor"))
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    eid = enrolled.aggregate_id
    await platform.do(m.ActivateEnrollment(eid), platform.system)
    first, moved, late = uuid4(), uuid4(), uuid4()

    await platform.do(m.ScheduleCourseStartReminder(eid, first, 48 * 3600,
                                                    "2027-01-01T00:00:00+00:00"), platform.system)
    enrollment = await platform.committed(Enrollment, eid)
    assert enrollment.reminders["course_start"] == (first, "2027-01-09T09:00:00+00:00")

    # Moved: the new reminder replaces the first, which no longer fires.
    await platform.do(m.SetCourseStart(course.id, "2027-02-01T09:00:00+00:00"), teacher)
    await platform.do(m.ScheduleCourseStartReminder(eid, moved, 48 * 3600,
                                                    "2027-01-02T00:00:00+00:00"), platform.system)
    enrollment = await platform.committed(Enrollment, eid)
    assert enrollment.reminders["course_start"] == (moved, "2027-01-30T09:00:00+00:00")
    before = len(platform.store.events)
    await platform.do(m.FireReminder(eid, first, "2027-01-09T09:00:00+00:00"), platform.system)
    assert len(platform.store.events) == before  # replaced: not fired

    # A start already past schedules nothing, and a reminder due after the start is refused.
    await platform.do(m.ScheduleCourseStartReminder(eid, late, 48 * 3600,
                                                    "2027-02-02T00:00:00+00:00"), platform.system)
    assert (await platform.committed(Enrollment, eid)).reminders["course_start"][0] == moved
    with pytest.raises(Conflict) as started:
        await platform.do(m.FireReminder(eid, moved, "2027-02-01T09:00:00+00:00"),
                          platform.system)
    assert started.value.code == "reminder.course_started"
    await platform.do(m.FireReminder(eid, moved, "2027-01-30T09:00:00+00:00"), platform.system)
    await platform.do(m.FireReminder(eid, moved, "2027-01-30T09:05:00+00:00"), platform.system)
    fired = [e for e in platform.store.events if e.event_type == "enrollment.reminder_fired"]
    assert [(e.payload["reminder_id"], e.payload["kind"]) for e in fired] == [
        (str(moved), "course_start")]


@run
async def test_a_course_without_a_start_date_schedules_no_start_reminder() -> None:
    platform, student = Platform(), person("student")
    course = await platform.course(person("instructor"))
    enrolled = await platform.do(m.EnrollStudent(course.id, student.user_id), student)
    await platform.do(m.ActivateEnrollment(enrolled.aggregate_id), platform.system)
    before = len(platform.store.events)

    await platform.do(m.ScheduleCourseStartReminder(enrolled.aggregate_id, uuid4(), 3600,
                                                    "2027-01-01T00:00:00+00:00"), platform.system)

    assert len(platform.store.events) == before
