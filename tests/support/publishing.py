"""Helpers for the publishing workflow's tests: authoring courses through the CommandBus,
encoders to inject (counting, failing), and reading back what the workflow left behind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import numpy as np
import weaviate

from commands import messages as m
from commands.adapters.event_store import EventStore, Metadata, StoredEvent
from commands.bus import CommandBus
from commands.domain.course import Course
from commands.unit_of_work import AggregateCache, UnitOfWork
from projections.content.embeddings import Encoder
from smartcourse.settings import Settings


@dataclass
class CountingEncoder:
    """The real model, counting what it is asked to embed."""

    inner: Encoder
    calls: int = 0
    texts: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += list(texts)
        return self.inner.encode(texts)


@dataclass
class FailingEncoder:
    """An encoder whose backend is down: every call raises."""

    name: str
    calls: int = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        raise ConnectionError("the embedding backend is unreachable")


@dataclass
class AuthoredCourse:
    course_id: UUID
    module_id: UUID
    lesson_ids: list[UUID]
    teacher: m.Actor


async def author(bus: CommandBus, lessons: Sequence[tuple[str, str]]) -> AuthoredCourse:
    teacher = m.Actor(uuid4(), "instructor")
    course = AuthoredCourse(uuid4(), uuid4(), [uuid4() for _ in lessons], teacher)
    await bus.execute(m.CreateCourse(course.course_id, "Mixed topics"), teacher)
    await bus.execute(m.AddModule(course.course_id, course.module_id, "All"), teacher)
    for lesson_id, (title, text) in zip(course.lesson_ids, lessons, strict=True):
        await bus.execute(m.AddLesson(course.course_id, course.module_id, lesson_id, title, text),
                          teacher)
    return course


async def publish(bus: CommandBus, store: EventStore, course: AuthoredCourse) -> StoredEvent:
    """Publish through the bus; the course.published it recorded, as the store holds it."""
    await bus.execute(m.PublishCourse(course.course_id, uuid4()), course.teacher)
    return (await events_of(store, course.course_id, "course.published"))[-1]


async def events_of(store: EventStore, aggregate_id: UUID,
                    *types: str) -> list[StoredEvent]:
    return [e for e in await store.load(aggregate_id) if not types or e.event_type in types]


async def course_state(store: EventStore, course_id: UUID) -> Course:
    """The course as the event store has it (a cold cache)."""
    return await UnitOfWork(store, AggregateCache(), Metadata(None, uuid4())).get(Course, course_id)


def drop_index(settings: Settings) -> None:
    """Remove a test alias and every collection behind it."""
    with weaviate.connect_to_local(host=settings.host, port=settings.weaviate_port,
                                   grpc_port=settings.weaviate_grpc_port) as client:
        client.alias.delete(alias_name=settings.weaviate_collection)
        for name in client.collections.list_all(simple=True):
            if name.startswith(f"{settings.weaviate_collection}_v"):
                client.collections.delete(name)


def objects(settings: Settings, course_id: UUID) -> list[dict[str, Any]]:
    """Every chunk object of a course (any version), with its id, through the alias."""
    with weaviate.connect_to_local(host=settings.host, port=settings.weaviate_port,
                                   grpc_port=settings.weaviate_grpc_port) as client:
        if not client.alias.exists(alias_name=settings.weaviate_collection):
            return []  # nothing was indexed yet
        collection = client.collections.use(settings.weaviate_collection)
        found = collection.query.fetch_objects(
            filters=weaviate.classes.query.Filter.by_property("course_id").equal(course_id),
            limit=10_000)
        return [{"id": UUID(str(o.uuid)), **o.properties} for o in found.objects]
