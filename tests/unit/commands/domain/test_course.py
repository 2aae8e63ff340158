"""Course: given its history, a command records events or is refused with a stable code."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from commands.domain.course import ARCHIVED, DRAFT, PUBLISHED, READY, Course
from commands.domain.errors import Conflict, Forbidden, NotFound, RuleViolated
from commands.domain.limits import (
    MAX_COURSE_CONTENT_CHARS,
    MAX_LESSONS_PER_COURSE,
    MAX_MODULES_PER_COURSE,
)

Command = Callable[[Course], object]


# -- given -------------------------------------------------------------------------------------
def recorded(course: Course) -> list[str]:
    """The public types of the events recorded since the last look."""
    return [course.event_type(type(e)) for e in course.collect_events()]


def given_draft(capacity: int = 10, lessons: int = 0) -> Course:
    """A draft course with one module holding `lessons` lessons; its history already stored."""
    course = Course(
        id=uuid4(), instructor_id=uuid4(), title="Event sourcing", description="From scratch",
        tags=["cqrs", "python"], capacity=capacity, prerequisites=[],
    )
    if lessons:
        module_id = uuid4()
        course.add_module(module_id, "Basics")
        for n in range(lessons):
            course.add_lesson(module_id, uuid4(), f"Lesson {n}", f"text {n}", [])
    course.collect_events()
    return course


def given_published(capacity: int = 10, lessons: int = 1) -> Course:
    course = given_draft(capacity, lessons)
    course.publish(uuid4())
    course.collect_events()
    return course


def given_ready(capacity: int = 10, lessons: int = 1) -> Course:
    course = given_published(capacity, lessons)
    course.mark_ready(course.content_version, course.workflow_id, chunk_count=4)
    course.collect_events()
    return course


def given_archived() -> Course:
    course = given_ready(lessons=2)
    course.archive()
    course.collect_events()
    return course


def given_seats(course: Course, count: int) -> list[UUID]:
    """Reserve `count` seats; returns the enrollment ids holding them."""
    holders = [uuid4() for _ in range(count)]
    for holder in holders:
        course.reserve_seat(holder, uuid4())
    course.collect_events()
    return holders


def first_module(course: Course) -> UUID:
    return next(iter(course.modules))


# -- creation and lifecycle --------------------------------------------------------------------
def test_a_new_course_is_an_empty_draft() -> None:
    prerequisite = uuid4()
    course = Course(
        id=uuid4(), instructor_id=uuid4(), title="CQRS", description="", tags=["a", "b"],
        capacity=3, prerequisites=[prerequisite],
    )

    assert recorded(course) == ["course.created"]
    assert course.status == DRAFT
    assert (course.tags, course.prerequisites) == (("a", "b"), (prerequisite,))
    assert (course.lesson_ids, course.seats_taken, course.content_version) == ((), 0, 0)
    assert not course.takes_enrollments


def test_the_lifecycle_runs_draft_published_ready_archived() -> None:
    course = given_draft(lessons=1)
    workflow = uuid4()

    course.publish(workflow)
    assert (recorded(course), course.status) == (["course.published"], PUBLISHED)
    assert (course.content_version, course.workflow_id) == (1, workflow)

    course.mark_ready(1, workflow, chunk_count=12)
    assert (recorded(course), course.status) == (["course.ready"], READY)

    course.archive()
    assert (recorded(course), course.status) == (["course.archived"], ARCHIVED)


def reference(lesson_id: UUID, module_id: UUID, title: str, text: str) -> dict[str, object]:
    return {"lesson_id": str(lesson_id), "module_id": str(module_id), "title": title,
            "content": None, "content_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "content_length": len(text)}


def test_published_records_the_lessons_in_course_order_with_their_text_by_reference() -> None:
    course = given_draft()
    basics, advanced = uuid4(), uuid4()
    first, second, third = uuid4(), uuid4(), uuid4()
    course.add_module(basics, "Basics")
    course.add_module(advanced, "Advanced")
    course.add_lesson(advanced, third, "Projections", "fold", [])
    course.add_lesson(basics, first, "Events", "facts", [])
    course.add_lesson(basics, second, "Commands", "intent", [])
    course.collect_events()

    course.publish(uuid4())

    (published,) = course.collect_events()
    assert published.lessons == [
        reference(first, basics, "Events", "facts"),
        reference(second, basics, "Commands", "intent"),
        reference(third, advanced, "Projections", "fold"),
    ]


def test_a_course_cannot_grow_past_its_limits() -> None:
    """Its events must fit in Kafka: the lessons' text together, the lessons, the modules."""
    course = given_draft(lessons=1)
    module = first_module(course)
    big = "x" * 100_000
    for n in range(MAX_COURSE_CONTENT_CHARS // len(big) - 1):
        course.add_lesson(module, uuid4(), f"L{n}", big, [])
    course.collect_events()

    with pytest.raises(RuleViolated) as refused:
        course.add_lesson(module, uuid4(), "One too many", big, [])
    assert refused.value.code == "course.too_large"
    assert refused.value.details["limit"] == MAX_COURSE_CONTENT_CHARS
    with pytest.raises(RuleViolated):
        course.revise_lesson(course.lesson_ids[-1], "Longer", big + "x" * 100_000)
    assert recorded(course) == []

    many = given_draft()
    for _ in range(MAX_MODULES_PER_COURSE):
        many.add_module(uuid4(), "M")
    with pytest.raises(RuleViolated) as refused:
        many.add_module(uuid4(), "One too many")
    assert refused.value.details["limit"] == MAX_MODULES_PER_COURSE
    for _ in range(MAX_LESSONS_PER_COURSE):
        many.add_lesson(first_module(many), uuid4(), "L", "", [])
    with pytest.raises(RuleViolated):
        many.add_lesson(first_module(many), uuid4(), "One too many", "", [])


@pytest.mark.parametrize("modules", [0, 1], ids=["no module", "empty module"])
def test_publish_needs_a_lesson(modules: int) -> None:
    course = given_draft()
    for _ in range(modules):
        course.add_module(uuid4(), "Empty")
    course.collect_events()

    with pytest.raises(RuleViolated) as refused:
        course.publish(uuid4())

    assert refused.value.code == "course.no_lessons"
    assert (recorded(course), course.status) == ([], DRAFT)


def test_publish_needs_a_lesson_even_after_the_last_one_was_removed() -> None:
    course = given_draft(lessons=1)
    course.remove_lesson(course.lesson_ids[0])
    course.collect_events()

    with pytest.raises(RuleViolated) as refused:
        course.publish(uuid4())

    assert refused.value.code == "course.no_lessons"


@pytest.mark.parametrize("given", [given_published, given_ready], ids=["published", "ready"])
def test_republishing_unchanged_content_is_refused(given: Callable[[], Course]) -> None:
    course = given()

    with pytest.raises(Conflict) as refused:
        course.publish(uuid4())

    assert refused.value.code == "course.already_published"
    assert (recorded(course), course.content_version) == ([], 1)


CONTENT_EDITS: dict[str, Command] = {
    "add module": lambda c: c.add_module(uuid4(), "More"),
    "add lesson": lambda c: c.add_lesson(first_module(c), uuid4(), "More", "text", []),
    "revise lesson": lambda c: c.revise_lesson(c.lesson_ids[0], "Renamed", "new text"),
    "remove lesson": lambda c: c.remove_lesson(c.lesson_ids[0]),
}


@pytest.mark.parametrize("edit", CONTENT_EDITS.values(), ids=CONTENT_EDITS.keys())
def test_republishing_changed_content_starts_a_new_content_version(edit: Command) -> None:
    course = given_published(lessons=2)
    edit(course)
    course.collect_events()
    workflow = uuid4()

    course.publish(workflow)

    assert recorded(course) == ["course.published"]
    assert (course.status, course.content_version, course.workflow_id) == (
        PUBLISHED, 2, workflow)


def test_republishing_a_ready_course_keeps_it_ready_while_the_new_version_is_processed() -> None:
    course = given_ready()
    course.revise_lesson(course.lesson_ids[0], "Renamed", "new text")
    course.collect_events()

    course.publish(uuid4())

    assert recorded(course) == ["course.published"]
    assert (course.status, course.content_version) == (READY, 2)


DETAIL_EDITS: dict[str, Command] = {
    "revise details": lambda c: c.revise_details("Renamed", "new", ["x"]),
    "change capacity": lambda c: c.change_capacity(c.capacity + 1),
    "set prerequisites": lambda c: c.set_prerequisites([uuid4()]),
}


@pytest.mark.parametrize("edit", DETAIL_EDITS.values(), ids=DETAIL_EDITS.keys())
def test_detail_edits_are_not_new_content(edit: Command) -> None:
    course = given_published()
    edit(course)
    assert len(recorded(course)) == 1

    with pytest.raises(Conflict) as refused:
        course.publish(uuid4())

    assert refused.value.code == "course.already_published"


def test_mark_ready_with_a_stale_content_version_is_refused() -> None:
    course = given_published(lessons=2)
    old_workflow = course.workflow_id
    course.remove_lesson(course.lesson_ids[1])
    course.publish(uuid4())
    course.collect_events()

    with pytest.raises(Conflict) as refused:
        course.mark_ready(1, old_workflow, chunk_count=3)

    assert refused.value.code == "course.stale_content_version"
    assert (recorded(course), course.status) == ([], PUBLISHED)


@pytest.mark.parametrize("given", [given_draft, given_archived], ids=["draft", "archived"])
def test_only_a_published_course_becomes_ready(given: Callable[[], Course]) -> None:
    course = given()

    with pytest.raises(Conflict) as refused:
        course.mark_ready(course.content_version, uuid4(), chunk_count=3)

    assert refused.value.code == "course.invalid_transition"
    assert recorded(course) == []


def test_a_failed_pipeline_reverts_its_published_course_to_draft() -> None:
    course = given_published()

    course.revert_to_draft(course.workflow_id, "embedding failed")

    assert (recorded(course), course.status) == (["course.reverted_to_draft"], DRAFT)
    assert not course.takes_enrollments
    course.publish(uuid4())  # the reverted content may be published again, as a new version
    assert (recorded(course), course.content_version) == (["course.published"], 2)


def test_an_old_workflow_does_not_revert_a_later_publish() -> None:
    course = given_published(lessons=2)
    old_workflow = course.workflow_id
    course.remove_lesson(course.lesson_ids[1])
    course.publish(uuid4())
    course.collect_events()

    course.revert_to_draft(old_workflow, "late failure report")

    assert (recorded(course), course.status) == ([], PUBLISHED)


@pytest.mark.parametrize(
    "given", [given_draft, given_ready, given_archived], ids=["draft", "ready", "archived"],
)
def test_revert_to_draft_applies_only_to_a_published_course(given: Callable[[], Course]) -> None:
    course = given()
    status = course.status

    course.revert_to_draft(course.workflow_id or uuid4(), "failed")

    assert (recorded(course), course.status) == ([], status)


def test_archiving_twice_records_one_event() -> None:
    course = given_published()
    course.archive()
    course.archive()

    assert recorded(course) == ["course.archived"]


ARCHIVED_EDITS: dict[str, Command] = {
    **DETAIL_EDITS,
    **CONTENT_EDITS,
    "publish": lambda c: c.publish(uuid4()),
}


@pytest.mark.parametrize("edit", ARCHIVED_EDITS.values(), ids=ARCHIVED_EDITS.keys())
def test_an_archived_course_refuses_edits(edit: Command) -> None:
    course = given_archived()

    with pytest.raises(Conflict) as refused:
        edit(course)

    assert refused.value.code == "course.archived"
    assert recorded(course) == []


# -- ownership ---------------------------------------------------------------------------------
def test_only_the_instructor_or_an_admin_may_change_a_course() -> None:
    course = given_draft()

    course.check_owner(course.instructor_id, is_admin=False)
    course.check_owner(uuid4(), is_admin=True)
    with pytest.raises(Forbidden) as refused:
        course.check_owner(uuid4(), is_admin=False)

    assert refused.value.code == "course.not_owner"


# -- details, capacity and prerequisites -------------------------------------------------------
def test_revise_details_records_the_new_details() -> None:
    course = given_draft()

    course.revise_details("Event sourcing, in practice", "Hands-on", ["es"])

    assert recorded(course) == ["course.details_revised"]
    assert (course.title, course.description, course.tags) == (
        "Event sourcing, in practice", "Hands-on", ("es",))


NO_OP_EDITS: dict[str, Command] = {
    "same details": lambda c: c.revise_details(c.title, c.description, list(c.tags)),
    "same capacity": lambda c: c.change_capacity(c.capacity),
    "same prerequisites": lambda c: c.set_prerequisites(list(c.prerequisites)),
    "same lesson text": lambda c: c.revise_lesson(
        c.lesson_ids[0], c.lessons[c.lesson_ids[0]]["title"], c.lessons[c.lesson_ids[0]]["content"]
    ),
    "release a seat not held": lambda c: c.release_seat(uuid4()),
}


@pytest.mark.parametrize("edit", NO_OP_EDITS.values(), ids=NO_OP_EDITS.keys())
def test_an_edit_that_changes_nothing_records_nothing(edit: Command) -> None:
    course = given_published()
    before = copy.deepcopy(vars(course))

    edit(course)

    assert recorded(course) == []
    assert vars(course) == before


def test_capacity_may_drop_to_the_seats_taken_but_not_below() -> None:
    course = given_published(capacity=5)
    given_seats(course, 3)

    with pytest.raises(Conflict) as refused:
        course.change_capacity(2)
    assert refused.value.code == "course.capacity_below_enrollments"
    assert (recorded(course), course.capacity) == ([], 5)

    course.change_capacity(3)
    assert (recorded(course), course.capacity) == (["course.capacity_changed"], 3)


def test_set_prerequisites_records_them_in_order() -> None:
    course = given_draft()
    first, second = uuid4(), uuid4()

    course.set_prerequisites([first, second])

    assert (recorded(course), course.prerequisites) == (["course.prerequisites_set"],
                                                        (first, second))


def test_a_course_cannot_be_its_own_prerequisite() -> None:
    course = given_draft()

    with pytest.raises(RuleViolated) as refused:
        course.set_prerequisites([uuid4(), course.id])

    assert refused.value.code == "course.self_prerequisite"
    assert (recorded(course), course.prerequisites) == ([], ())


# -- modules and lessons -----------------------------------------------------------------------
def test_modules_and_lessons_keep_their_order() -> None:
    course = given_draft()
    basics, advanced = uuid4(), uuid4()
    first, second, third = uuid4(), uuid4(), uuid4()

    course.add_module(basics, "Basics")
    course.add_module(advanced, "Advanced")
    course.add_lesson(advanced, third, "Projections", "fold", [])
    course.add_lesson(basics, first, "Events", "facts", [])
    course.add_lesson(basics, second, "Commands", "intent", [])

    events = course.collect_events()
    assert [(course.event_type(type(e)), e.index) for e in events] == [
        ("course.module_added", 0), ("course.module_added", 1),
        ("course.lesson_added", 0), ("course.lesson_added", 0), ("course.lesson_added", 1),
    ]
    assert course.lesson_ids == (first, second, third)  # modules first, then lessons within
    assert course.module_titles == {basics: "Basics", advanced: "Advanced"}


def test_add_lesson_records_its_module_and_assets() -> None:
    course = given_draft(lessons=1)
    module_id, lesson_id = first_module(course), uuid4()
    assets = [{"kind": "video", "url": "https://example.org/v.mp4", "seconds": 90}]

    course.add_lesson(module_id, lesson_id, "Snapshots", "when replay is slow", assets)

    assert recorded(course) == ["course.lesson_added"]
    assert course.lessons[lesson_id] == {
        "module_id": module_id, "title": "Snapshots", "content": "when replay is slow",
        "assets": assets,
    }
    assert course.lesson_ids[-1] == lesson_id


def test_a_module_is_added_once() -> None:
    course = given_draft(lessons=1)

    with pytest.raises(Conflict) as refused:
        course.add_module(first_module(course), "Again")

    assert refused.value.code == "course.module_exists"
    assert recorded(course) == []


def test_the_same_module_or_lesson_added_again_is_a_no_op() -> None:
    """A client retrying after a timeout: the addition already took effect."""
    course = given_draft(lessons=1)
    module, lesson = first_module(course), course.lesson_ids[0]
    added = course.lessons[lesson]

    course.add_module(module, course.module_titles[module])
    course.add_lesson(added["module_id"], lesson, added["title"], added["content"],
                      added["assets"])

    assert recorded(course) == []
    with pytest.raises(Conflict) as refused:
        course.add_lesson(added["module_id"], lesson, added["title"], "other text", [])
    assert refused.value.code == "course.lesson_exists"


def test_a_lesson_goes_into_an_existing_module() -> None:
    course = given_draft()

    with pytest.raises(NotFound) as refused:
        course.add_lesson(uuid4(), uuid4(), "Orphan", "text", [])

    assert refused.value.code == "course.module_not_found"
    assert recorded(course) == []


def test_a_lesson_id_is_used_once_across_modules() -> None:
    course = given_draft(lessons=1)
    other_module = uuid4()
    course.add_module(other_module, "Other")
    course.collect_events()

    with pytest.raises(Conflict) as refused:
        course.add_lesson(other_module, course.lesson_ids[0], "Twin", "text", [])

    assert refused.value.code == "course.lesson_exists"
    assert recorded(course) == []


def test_revise_lesson_changes_its_text_and_keeps_its_place() -> None:
    course = given_draft(lessons=2)
    first, second = course.lesson_ids
    module_id = first_module(course)

    course.revise_lesson(first, "Events, revisited", "facts, again")

    assert recorded(course) == ["course.lesson_revised"]
    assert course.lessons[first] == {
        "module_id": module_id, "title": "Events, revisited", "content": "facts, again",
        "assets": [],
    }
    assert course.lesson_ids == (first, second)


def test_remove_lesson_takes_it_out_of_its_module() -> None:
    course = given_draft(lessons=3)
    first, second, third = course.lesson_ids

    course.remove_lesson(second)

    assert recorded(course) == ["course.lesson_removed"]
    assert course.lesson_ids == (first, third)
    assert second not in course.lessons


@pytest.mark.parametrize(
    "edit",
    [lambda c: c.revise_lesson(uuid4(), "t", "c"), lambda c: c.remove_lesson(uuid4())],
    ids=["revise", "remove"],
)
def test_an_unknown_lesson_cannot_be_revised_or_removed(edit: Command) -> None:
    course = given_draft(lessons=1)

    with pytest.raises(NotFound) as refused:
        edit(course)

    assert refused.value.code == "course.lesson_not_found"
    assert recorded(course) == []


# -- seats -------------------------------------------------------------------------------------
def test_seats_are_reserved_up_to_the_capacity_then_refused() -> None:
    course = given_published(capacity=3)

    for _ in range(3):
        course.reserve_seat(uuid4(), uuid4())
    assert recorded(course) == ["course.seat_reserved"] * 3

    with pytest.raises(Conflict) as refused:
        course.reserve_seat(uuid4(), uuid4())
    assert refused.value.code == "enrollment.seat_cap_reached"
    assert (recorded(course), course.seats_taken) == ([], 3)


def test_reserving_the_same_enrollment_twice_is_a_no_op_even_when_full() -> None:
    course = given_published(capacity=1)
    (holder,) = given_seats(course, 1)

    course.reserve_seat(holder, uuid4())

    assert (recorded(course), course.seats) == ([], frozenset({holder}))


def test_a_released_seat_can_be_taken_again() -> None:
    course = given_ready(capacity=1)
    (holder,) = given_seats(course, 1)

    course.release_seat(holder)
    assert (recorded(course), course.seats_taken) == (["course.seat_released"], 0)

    newcomer = uuid4()
    course.reserve_seat(newcomer, uuid4())
    assert (recorded(course), course.seats) == (["course.seat_reserved"], frozenset({newcomer}))


@pytest.mark.parametrize(("given", "code"), [
    (given_draft, "enrollment.course_not_open"), (given_archived, "enrollment.course_archived"),
], ids=["draft", "archived"])
def test_a_course_that_is_not_open_takes_no_enrollments(given: Callable[[], Course],
                                                        code: str) -> None:
    course = given()

    with pytest.raises(Conflict) as refused:
        course.reserve_seat(uuid4(), uuid4())

    assert refused.value.code == code
    assert recorded(course) == []


def test_a_student_holds_at_most_one_seat_and_a_cancelled_one_may_take_another() -> None:
    course, student = given_published(lessons=1), uuid4()
    first, second = uuid4(), uuid4()
    course.reserve_seat(first, student)

    with pytest.raises(Conflict) as duplicate:
        course.reserve_seat(second, student)
    assert duplicate.value.code == "enrollment.duplicate"

    course.release_seat(first)
    course.reserve_seat(second, student)
    assert (course.enrollment_of(student), course.attempts[student]) == (second, 2)
    assert course.seats == frozenset({second})


@pytest.mark.parametrize("given", [given_published, given_ready], ids=["published", "ready"])
def test_a_published_or_ready_course_takes_enrollments(given: Callable[[], Course]) -> None:
    course = given()
    enrollment_id = uuid4()

    course.reserve_seat(enrollment_id, uuid4())

    assert (recorded(course), course.seats) == (["course.seat_reserved"],
                                                frozenset({enrollment_id}))


# -- forks: a command runs on a copy and leaves the committed state alone -----------------------
def with_seat(course: Course) -> Course:
    given_seats(course, 1)
    return course


def a_quiz(course: Course) -> dict[str, object]:
    return {"quiz_id": "8b0e7e5e-0000-4000-8000-000000000001", "title": "Check",
            "lesson_id": str(next(iter(course.lessons))), "module_id": None,
            "pass_mark": 50.0, "max_attempts": 0, "questions": [
                {"question_id": "q", "kind": "multiple_choice", "prompt": "?",
                 "options": ["a", "b"], "correct": [0], "accepted_answers": [],
                 "points": 1.0}]}


def with_quiz(course: Course) -> Course:
    course.add_quiz(a_quiz(course))
    course.collect_events()
    return course


def with_two_modules() -> Course:
    course = given_published(lessons=2)
    course.add_module(uuid4(), "Second")
    course.collect_events()
    return course


ASSET = uuid4()


def with_asset(course: Course) -> Course:
    course.store_asset(course.lesson_ids[0], ASSET, "k/0", "a.txt", "text/plain", 5, "a" * 64)
    course.collect_events()
    return course


FORKED_COMMANDS: dict[str, tuple[Callable[[], Course], Command]] = {
    "revise details": (given_published, DETAIL_EDITS["revise details"]),
    "change capacity": (given_published, DETAIL_EDITS["change capacity"]),
    "set prerequisites": (given_published, DETAIL_EDITS["set prerequisites"]),
    "set start": (given_published, lambda c: c.set_start("2027-01-11T09:00:00+00:00")),
    "add module": (given_published, CONTENT_EDITS["add module"]),
    "add lesson": (given_published, CONTENT_EDITS["add lesson"]),
    "revise lesson": (given_published, CONTENT_EDITS["revise lesson"]),
    "remove lesson": (given_published, CONTENT_EDITS["remove lesson"]),
    "publish": (lambda: given_draft(lessons=2), lambda c: c.publish(uuid4())),
    "mark ready": (given_published, lambda c: c.mark_ready(1, c.workflow_id, chunk_count=2)),
    "revert to draft": (given_published, lambda c: c.revert_to_draft(c.workflow_id, "failed")),
    "archive": (given_ready, lambda c: c.archive()),
    "reserve seat": (given_published, lambda c: c.reserve_seat(uuid4(), uuid4())),
    "release seat": (lambda: with_seat(given_published()),
                     lambda c: c.release_seat(next(iter(c.seats)))),
    "rename module": (given_published, lambda c: c.rename_module(first_module(c), "New")),
    "remove module": (given_published, lambda c: c.remove_module(first_module(c))),
    "reorder modules": (with_two_modules, lambda c: c.reorder_modules(list(c.modules)[::-1])),
    "move lesson": (lambda: given_published(lessons=2),
                    lambda c: c.move_lesson(c.lesson_ids[1], first_module(c), 0)),
    "revise assets": (given_published, lambda c: c.revise_lesson_assets(
        c.lesson_ids[0], [{"name": "a", "url": "https://x.test/a"}])),
    "add quiz": (given_published, lambda c: c.add_quiz(a_quiz(c))),
    "revise quiz": (lambda: with_quiz(given_published()),
                    lambda c: c.revise_quiz({**a_quiz(c), "title": "Again"})),
    "remove quiz": (lambda: with_quiz(given_published()),
                    lambda c: c.remove_quiz(str(a_quiz(c)["quiz_id"]))),
    "set quiz rules": (given_published, lambda c: c.set_quiz_rules("last", True)),
    "restore": (given_archived, lambda c: c.restore()),
    "delete": (given_draft, lambda c: c.delete()),
    "request asset upload": (given_published, lambda c: c.request_asset_upload(
        c.lesson_ids[0], ASSET, "k/1", "a.pdf", "application/pdf", 5, "a" * 64)),
    "store asset": (given_published, lambda c: c.store_asset(
        c.lesson_ids[0], ASSET, "k/1", "a.txt", "text/plain", 5, "a" * 64)),
    "remove asset": (lambda: with_asset(given_published()),
                     lambda c: c.remove_asset(c.lesson_ids[0], ASSET)),
}


@pytest.mark.parametrize(("given", "command"), FORKED_COMMANDS.values(),
                         ids=FORKED_COMMANDS.keys())
def test_a_command_on_a_fork_leaves_the_original_untouched(
    given: Callable[[], Course], command: Command,
) -> None:
    original = given()
    before = copy.deepcopy(vars(original))
    fork = original.fork()

    command(fork)

    assert recorded(fork)  # the fork did change
    assert fork.version > original.version
    assert vars(original) == before
    assert original.collect_events() == []


def test_the_fork_cases_cover_every_course_event() -> None:
    produced = set()
    for given, command in FORKED_COMMANDS.values():
        fork = given().fork()
        command(fork)
        produced.update(recorded(fork))

    assert produced == set(Course.event_classes()) - {"course.created"}
