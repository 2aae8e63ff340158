"""Who may read what: catalog scopes, draft visibility, rosters, own data."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.domain.errors import Forbidden, NotFound
from commands.messages import Actor
from identity.errors import Unauthorized
from query_api import access

ME = Actor(uuid4(), "instructor")
ADMIN = Actor(uuid4(), "admin")
STUDENT = Actor(uuid4(), "student")


@pytest.mark.parametrize("actor", [None, STUDENT, ME, ADMIN])
def test_everyone_lists_published_and_ready_courses(actor: Actor | None) -> None:
    assert access.catalog_scope(actor, None, None).statuses == ("PUBLISHED", "READY")
    assert access.catalog_scope(actor, "READY", None).statuses == ("READY",)


def test_an_instructor_lists_only_their_own_drafts() -> None:
    assert access.catalog_scope(ME, "DRAFT", None) == access.CatalogScope(("DRAFT",), ME.user_id)
    with pytest.raises(Forbidden):
        access.catalog_scope(ME, "DRAFT", uuid4())


def test_admins_list_any_drafts_and_others_none() -> None:
    other = uuid4()
    assert access.catalog_scope(ADMIN, "ARCHIVED", other) == access.CatalogScope(
        ("ARCHIVED",), other)
    with pytest.raises(Forbidden):
        access.catalog_scope(STUDENT, "DRAFT", None)
    with pytest.raises(Unauthorized):
        access.catalog_scope(None, "DRAFT", None)


def test_a_draft_course_does_not_exist_for_others() -> None:
    access.ensure_course_visible(ME, ME.user_id, "DRAFT", 0)
    access.ensure_course_visible(ADMIN, ME.user_id, "DRAFT", 0)
    access.ensure_course_visible(None, ME.user_id, "PUBLISHED", 1)
    access.ensure_course_visible(None, ME.user_id, "ARCHIVED", 1)
    for actor, status in [(None, "DRAFT"), (STUDENT, "DRAFT"), (None, "ARCHIVED")]:
        with pytest.raises(NotFound):
            access.ensure_course_visible(actor, ME.user_id, status, 0)


def test_rosters_and_own_data() -> None:
    access.ensure_course_owner(ME, ME.user_id)
    access.ensure_course_owner(ADMIN, ME.user_id)
    with pytest.raises(Forbidden):
        access.ensure_course_owner(Actor(uuid4(), "instructor"), ME.user_id)
    access.ensure_self_or_admin(STUDENT, STUDENT.user_id, "enrollments")
    with pytest.raises(Forbidden):
        access.ensure_self_or_admin(STUDENT, uuid4(), "enrollments")
    access.ensure_instructor_self(ME, ME.user_id)
    with pytest.raises(Forbidden):
        access.ensure_instructor_self(STUDENT, STUDENT.user_id)
