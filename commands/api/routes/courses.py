"""Course authoring and publishing."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import APIRouter

from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import (
    AddLessonBody,
    AddModuleBody,
    CapacityBody,
    CourseDetailsBody,
    CourseStartBody,
    CourseWritten,
    CreateCourseBody,
    LessonAssetsBody,
    LessonWritten,
    ModuleOrderBody,
    ModuleWritten,
    MoveLessonBody,
    PrerequisitesBody,
    PublishAccepted,
    RenameModuleBody,
    ReviseLessonBody,
    utc_iso,
)
from commands.unit_of_work import CommandResult

router = APIRouter(prefix="/courses", tags=["courses"])


def course_written(result: CommandResult) -> dict[str, object]:
    return {"course_id": str(result.aggregate_id), "status": result.state}


@router.post("", status_code=201, response_model=CourseWritten)
async def create_course(body: CreateCourseBody, commands: Commands):
    """Create a draft course (instructors; admins may name the instructor)."""
    command = m.CreateCourse(
        course_id=body.course_id or uuid4(), title=body.title, description=body.description,
        tags=body.tags, capacity=body.capacity, prerequisites=body.prerequisites,
        instructor_id=body.instructor_id, starts_at=utc_iso(body.starts_at),
    )
    return await commands.run(command, course_written, status_code=201)


@router.put("/{course_id}/details", response_model=CourseWritten)
async def revise_details(course_id: UUID, body: CourseDetailsBody, commands: Commands):
    command = m.ReviseCourseDetails(course_id, body.title, body.description, body.tags)
    return await commands.run(command, course_written)


@router.put("/{course_id}/start", response_model=CourseWritten)
async def set_start(course_id: UUID, body: CourseStartBody, commands: Commands):
    """Set, move or clear (null) the course's start date; enrolled students' "starting
    soon" reminders move with it."""
    return await commands.run(m.SetCourseStart(course_id, utc_iso(body.starts_at)),
                              course_written)


@router.put("/{course_id}/capacity", response_model=CourseWritten)
async def change_capacity(course_id: UUID, body: CapacityBody, commands: Commands):
    """Change the seat cap; it cannot drop below the seats already taken."""
    return await commands.run(m.ChangeCapacity(course_id, body.capacity), course_written)


@router.put("/{course_id}/prerequisites", response_model=CourseWritten)
async def set_prerequisites(course_id: UUID, body: PrerequisitesBody, commands: Commands):
    """Courses a student must have completed before enrolling."""
    return await commands.run(m.SetPrerequisites(course_id, body.prerequisites), course_written)


@router.post("/{course_id}/modules", status_code=201, response_model=ModuleWritten)
async def add_module(course_id: UUID, body: AddModuleBody, commands: Commands):
    module_id = body.module_id or uuid4()
    return await commands.run(m.AddModule(course_id, module_id, body.title),
                              lambda r: {"module_id": str(module_id)}, status_code=201)


@router.put("/{course_id}/modules/{module_id}", response_model=ModuleWritten)
async def rename_module(course_id: UUID, module_id: UUID, body: RenameModuleBody,
                        commands: Commands):
    return await commands.run(m.RenameModule(course_id, module_id, body.title),
                              lambda r: {"module_id": str(module_id)})


@router.delete("/{course_id}/modules/{module_id}", response_model=ModuleWritten)
async def remove_module(course_id: UUID, module_id: UUID, commands: Commands):
    """Remove a module with its lessons and the quizzes attached to them."""
    return await commands.run(m.RemoveModule(course_id, module_id),
                              lambda r: {"module_id": str(module_id)})


@router.put("/{course_id}/module-order", response_model=CourseWritten)
async def reorder_modules(course_id: UUID, body: ModuleOrderBody, commands: Commands):
    """Put the course's modules in a new order (every module, once)."""
    return await commands.run(m.ReorderModules(course_id, body.module_ids), course_written)


@router.post("/{course_id}/modules/{module_id}/lessons", status_code=201,
             response_model=LessonWritten)
async def add_lesson(course_id: UUID, module_id: UUID, body: AddLessonBody, commands: Commands):
    lesson_id = body.lesson_id or uuid4()
    command = m.AddLesson(course_id, module_id, lesson_id, body.title, body.content,
                          [a.model_dump() for a in body.assets])
    return await commands.run(command, lambda r: {"lesson_id": str(lesson_id)}, status_code=201)


@router.put("/{course_id}/lessons/{lesson_id}", response_model=LessonWritten)
async def revise_lesson(course_id: UUID, lesson_id: UUID, body: ReviseLessonBody,
                        commands: Commands):
    command = m.ReviseLesson(course_id, lesson_id, body.title, body.content)
    return await commands.run(command, lambda r: {"lesson_id": str(lesson_id)})


@router.put("/{course_id}/lessons/{lesson_id}/place", response_model=LessonWritten)
async def move_lesson(course_id: UUID, lesson_id: UUID, body: MoveLessonBody,
                      commands: Commands):
    """Move a lesson within its module (reorder) or to another module, at `index`."""
    command = m.MoveLesson(course_id, lesson_id, body.module_id, body.index)
    return await commands.run(command, lambda r: {"lesson_id": str(lesson_id)})


@router.put("/{course_id}/lessons/{lesson_id}/assets", response_model=LessonWritten)
async def revise_lesson_assets(course_id: UUID, lesson_id: UUID, body: LessonAssetsBody,
                               commands: Commands):
    """Replace the lesson's assets (metadata) with this list."""
    command = m.ReviseLessonAssets(course_id, lesson_id, [a.model_dump() for a in body.assets])
    return await commands.run(command, lambda r: {"lesson_id": str(lesson_id)})


@router.delete("/{course_id}/lessons/{lesson_id}", response_model=LessonWritten)
async def remove_lesson(course_id: UUID, lesson_id: UUID, commands: Commands):
    return await commands.run(m.RemoveLesson(course_id, lesson_id),
                              lambda r: {"lesson_id": str(lesson_id)})


@router.post("/{course_id}/publish", status_code=202, response_model=PublishAccepted)
async def publish(course_id: UUID, commands: Commands):
    """Publish the current content: the publishing workflow chunks, embeds and indexes it,
    then marks the course READY. Track it with the returned workflow id."""
    workflow_id = uuid4()
    return await commands.run(m.PublishCourse(course_id, workflow_id),
                              lambda r: {"workflow_id": str(workflow_id), "status": "QUEUED"},
                              status_code=202)


@router.post("/{course_id}/archive", response_model=CourseWritten)
async def archive(course_id: UUID, commands: Commands):
    return await commands.run(m.ArchiveCourse(course_id), course_written)


@router.post("/{course_id}/restore", response_model=CourseWritten)
async def restore(course_id: UUID, commands: Commands):
    """Un-archive: READY again if its last published version was ready, else DRAFT."""
    return await commands.run(m.RestoreCourse(course_id), course_written)


@router.delete("/{course_id}", response_model=CourseWritten)
async def delete(course_id: UUID, commands: Commands):
    """Delete a draft that was never published (a published course is archived instead)."""
    return await commands.run(m.DeleteCourse(course_id), course_written)
