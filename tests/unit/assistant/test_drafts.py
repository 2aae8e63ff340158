"""Study-material drafts through the command bus on the in-memory store: who may generate,
edit and accept; acceptance makes a server-graded quiz; a lesson edit outdates the draft and
the regenerator makes it again, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from assistant.domain.draft import ACCEPTED, DISCARDED, DRAFT, STALE, Draft, draft_id, quiz_id
from assistant.domain.enhancement import Content, lesson_hash
from assistant.enhancements import Regenerator, Request, UnusableOutput, generate
from assistant.messages import AcceptDraft, DiscardDraft, EditDraft, MarkDraftStale, RecordDraft
from assistant.providers.base import Usage
from assistant.providers.chain import ProviderChain
from assistant.providers.extractive import ExtractiveProvider
from commands import messages as m
from commands.bus import CommandBus
from commands.domain.course import Course
from commands.domain.errors import Conflict, Forbidden, RuleViolated
from commands.domain.ids import enrollment_id
from commands.messages import Actor
from tests.unit.commands.fake_event_store import FakeEventStore
from tests.unit.projections.history import LOG_MORE, LOG_TEXT

CHAIN = ProviderChain([ExtractiveProvider()])
OTHER = ("A tag names one commit, usually a release such as version two. Annotated tags "
         "store the tagger and a message. Lightweight tags are plain names for commits.")


class Platform:
    def __init__(self) -> None:
        self.store = FakeEventStore()
        self.bus = CommandBus(self.store)
        self.instructor = Actor(uuid4(), "instructor")
        self.course_id, self.module, self.lesson, self.other = uuid4(), uuid4(), uuid4(), uuid4()

    async def author(self) -> None:
        i = self.instructor
        await self.bus.execute(m.CreateCourse(self.course_id, "Logs"), i)
        await self.bus.execute(m.AddModule(self.course_id, self.module, "Basics"), i)
        await self.bus.execute(m.AddLesson(self.course_id, self.module, self.lesson, "Logs",
                                           LOG_TEXT), i)
        await self.bus.execute(m.AddLesson(self.course_id, self.module, self.other, "Tags",
                                           OTHER), i)
        await self.bus.execute(m.PublishCourse(self.course_id, uuid4()), i)

    async def generate(self, actor: Actor | None = None,
                       chain: ProviderChain = CHAIN) -> list[tuple[str, dict[str, Any]]]:
        return [e async for e in generate(self.bus, chain, actor or self.instructor,
                                          Request(self.course_id, self.lesson), uuid4())]

    async def draft(self) -> Draft:
        found = await self.bus.peek(Draft, draft_id(self.course_id, self.lesson))
        assert found is not None
        return found

    async def course(self) -> Course:
        found = await self.bus.peek(Course, self.course_id)
        assert found is not None
        return found

    def types(self, aggregate_id: UUID) -> list[str]:
        return [e.event_type for e in self.store.events if e.aggregate_id == aggregate_id]


def run(body: Any) -> None:
    asyncio.run(body())


def test_generating_streams_checked_items_then_records_the_draft() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        events = await p.generate()
        names = [name for name, _ in events]
        assert names[0] == "meta" and names[-1] == "final"
        kinds = [data["type"] for name, data in events if name == "item"]
        assert kinds[0] == "summary" and "objective" in kinds and "question" in kinds
        final = events[-1][1]
        assert final["status"] == DRAFT and final["provider"] == "extractive"
        assert final["source_hash"] == lesson_hash("Logs", LOG_TEXT)
        draft = await p.draft()
        assert draft.content.questions == final["questions"]
        assert p.types(draft.id) == ["enhancement.drafted"]
        again = await p.generate()  # the same text: nothing new to record
        assert again[-1][1]["changed"] is False
        assert p.types(draft.id) == ["enhancement.drafted"]
    run(body)


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_only_the_course_s_instructor_and_admins_generate(role: str) -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        someone = Actor(uuid4(), role)  # another instructor, or a student (even enrolled)
        await p.bus.execute(m.EnrollStudent(p.course_id, someone.user_id), someone)
        stream = generate(p.bus, CHAIN, someone, Request(p.course_id, p.lesson), uuid4())
        with pytest.raises(Forbidden) as refused:
            await anext(stream)  # before any event: no lesson text leaves
        assert refused.value.code == "enhancement.not_instructor"
        assert await p.bus.peek(Draft, draft_id(p.course_id, p.lesson)) is None
        admin = Actor(uuid4(), "admin")
        assert (await p.generate(admin))[-1][0] == "final"
    run(body)


class Garbage:
    name = "openai"

    async def stream(self, prompt: Any, usage: Usage) -> AsyncIterator[str]:
        yield "Sure! Here is a summary of the lesson.\n"
        yield json.dumps({"type": "question", "prompt": "Which is right?", "options": ["a"],
                          "correct": 0, "explanation": "", "passage": 1, "quote": "x"})


def test_a_provider_s_unusable_output_is_refused_and_nothing_is_kept() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        with pytest.raises(UnusableOutput) as refused:
            await p.generate(chain=ProviderChain([Garbage()]))
        assert "no summary and no valid question" in refused.value.message
        assert "line 1: not a JSON object" in refused.value.message
        assert await p.bus.peek(Draft, draft_id(p.course_id, p.lesson)) is None
    run(body)


def test_a_draft_made_from_an_older_text_is_not_recorded() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        command = RecordDraft(p.course_id, p.lesson, lesson_hash("Logs", "old text"), "Logs",
                              "extractive", Content("A summary that is long enough.", [1]))
        with pytest.raises(Conflict) as refused:
            await p.bus.execute(command, p.instructor)
        assert refused.value.code == "enhancement.lesson_changed"
    run(body)


def test_accepting_makes_a_quiz_of_the_lesson_that_the_server_grades() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        await p.generate()
        draft = await p.draft()
        student = Actor(uuid4(), "student")
        with pytest.raises(Forbidden):
            await p.bus.execute(AcceptDraft(draft.id, "Quiz", 50.0, 0), student)

        result = await p.bus.execute(AcceptDraft(draft.id, "About logs", 50.0, 0), p.instructor)

        assert result.state == ACCEPTED
        quiz = (await p.course()).quizzes[str(quiz_id(draft.id))]
        assert quiz["lesson_id"] == str(p.lesson) and quiz["title"] == "About logs"
        assert [q["correct"] for q in quiz["questions"]] == [
            [q["correct"]] for q in draft.content.questions]
        enrollment = enrollment_id(p.course_id, student.user_id)
        await p.bus.execute(m.EnrollStudent(p.course_id, student.user_id), student)
        await p.bus.execute(m.ActivateEnrollment(enrollment), Actor(uuid4(), "system"))
        answers = [{"question_id": q["question_id"], "choices": q["correct"], "text": ""}
                   for q in quiz["questions"]]
        await p.bus.execute(m.SubmitQuizAnswers(enrollment, quiz_id(draft.id), answers), student)
        scored = [e for e in p.store.events if e.event_type == "enrollment.quiz_attempted"]
        assert scored[-1].payload["score"] == len(answers) and scored[-1].payload["passed"]
        again = await p.bus.execute(AcceptDraft(draft.id, "About logs", 50.0, 0), p.instructor)
        assert again.changed is False  # accepted already, as it is
    run(body)


def test_an_edit_is_checked_and_an_accepted_draft_edited_revises_its_quiz() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        await p.generate()
        draft = await p.draft()
        await p.bus.execute(AcceptDraft(draft.id, "About logs", 50.0, 0), p.instructor)
        fewer = {**draft.content.as_dict(), "questions": draft.content.questions[:1]}
        with pytest.raises(RuleViolated) as refused:
            await p.bus.execute(EditDraft(draft.id, {**fewer, "summary": ""}), p.instructor)
        assert refused.value.code == "enhancement.invalid_content"

        edited = await p.bus.execute(EditDraft(draft.id, fewer), p.instructor)
        assert edited.state == DRAFT
        await p.bus.execute(AcceptDraft(draft.id, "About logs", 50.0, 0), p.instructor)
        quiz = (await p.course()).quizzes[str(quiz_id(draft.id))]
        assert len(quiz["questions"]) == 1
        assert p.types(p.course_id).count("course.quiz_revised") == 1
    run(body)


def test_a_lesson_edit_outdates_the_draft_and_it_is_regenerated_once() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        await p.generate()
        draft = await p.draft()
        await p.bus.execute(AcceptDraft(draft.id, "About logs", 50.0, 0), p.instructor)
        await p.bus.execute(m.ReviseCourseDetails(p.course_id, "Logs!", "", []), p.instructor)
        await p.bus.execute(m.ReviseLesson(p.course_id, p.lesson, "Logs",
                                           f"{LOG_TEXT} {LOG_MORE}"), p.instructor)
        revised = p.store.events[-1]
        regenerator = Regenerator(p.bus, CHAIN)

        assert await regenerator.handle(revised) == "regenerated"
        assert await regenerator.handle(revised) == "unchanged"  # a redelivery

        after = await p.draft()
        assert p.types(draft.id)[-2:] == ["enhancement.went_stale", "enhancement.regenerated"]
        assert after.status == DRAFT
        assert after.source_hash == lesson_hash("Logs", f"{LOG_TEXT} {LOG_MORE}")
        assert after.cause_position == revised.position
        with pytest.raises(Conflict):  # accepting the draft of the old text: refused
            draft.accept(after.source_hash, 50.0, 0)
    run(body)


def test_a_run_cut_short_after_going_stale_regenerates_on_redelivery() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        await p.generate()
        text = f"{LOG_MORE} {LOG_TEXT}"
        await p.bus.execute(m.ReviseLesson(p.course_id, p.lesson, "Logs", text), p.instructor)
        revised = p.store.events[-1]
        draft = await p.draft()
        assert draft.outdated_by(lesson_hash("Logs", text), revised.position)
        # the consumer's first command went through, then the worker died
        await p.bus.execute(MarkDraftStale(p.course_id, p.lesson, lesson_hash("Logs", text),
                                           revised.position), Actor(uuid4(), "system"))
        assert (await p.draft()).status == STALE
        with pytest.raises(Conflict) as refused:
            await p.bus.execute(AcceptDraft(draft.id, "Quiz", 50.0, 0), p.instructor)
        assert refused.value.code == "enhancement.stale"

        assert await Regenerator(p.bus, CHAIN).handle(revised) == "regenerated"
        after = await p.draft()
        assert after.status == DRAFT and after.source_hash == lesson_hash("Logs", text)
    run(body)


def test_removing_the_lesson_discards_its_draft_and_edits_no_longer_regenerate() -> None:
    async def body() -> None:
        p = Platform()
        await p.author()
        await p.generate()
        draft = await p.draft()
        await p.bus.execute(DiscardDraft(draft.id, "not now"), p.instructor)
        await p.bus.execute(m.ReviseLesson(p.course_id, p.lesson, "Logs", OTHER), p.instructor)
        assert await Regenerator(p.bus, CHAIN).handle(p.store.events[-1]) == "unchanged"
        assert (await p.draft()).status == DISCARDED

        await p.generate()  # asked for again: it comes back
        assert (await p.draft()).status == DRAFT
        await p.bus.execute(m.RemoveLesson(p.course_id, p.lesson), p.instructor)
        assert await Regenerator(p.bus, CHAIN).handle(p.store.events[-1]) == "removed"
        assert (await p.draft()).status == DISCARDED
    run(body)
