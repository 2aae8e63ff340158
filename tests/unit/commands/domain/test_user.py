"""User: given its history, a command records events or is refused with a stable code."""

from __future__ import annotations

import copy
from uuid import uuid4

import pytest

from commands.domain.errors import Conflict
from commands.domain.user import User


def recorded(user: User) -> list[str]:
    """The public types of the events recorded since the last look."""
    return [user.event_type(type(e)) for e in user.collect_events()]


def given_user(role: str = "student") -> User:
    user = User(id=uuid4(), display_name="Ada", email="ada@example.org", role=role)
    user.collect_events()
    return user


def test_a_new_user_is_registered_and_active() -> None:
    user = User(id=uuid4(), display_name="Ada", email="ada@example.org", role="instructor")

    assert recorded(user) == ["user.registered"]
    assert (user.display_name, user.email, user.role, user.active) == (
        "Ada", "ada@example.org", "instructor", True)


def test_change_role_records_the_new_role() -> None:
    user = given_user("student")

    user.change_role("instructor")

    assert (recorded(user), user.role) == (["user.role_changed"], "instructor")


def test_changing_to_the_same_role_records_nothing() -> None:
    user = given_user("admin")

    user.change_role("admin")

    assert (recorded(user), user.role) == ([], "admin")


def test_a_role_change_on_a_fork_leaves_the_original_untouched() -> None:
    original = given_user("student")
    before = copy.deepcopy(vars(original))
    fork = original.fork()

    fork.change_role("instructor")

    assert recorded(fork) == ["user.role_changed"]
    assert vars(original) == before
    assert original.collect_events() == []


def test_a_deactivated_user_is_inactive_until_reactivated_and_keeps_no_role_changes() -> None:
    user = given_user("student")

    user.deactivate("left the school")
    user.deactivate("again")  # idempotent
    assert (recorded(user), user.active) == (["user.deactivated"], False)
    with pytest.raises(Conflict) as refused:
        user.change_role("instructor")
    user.reactivate()

    assert refused.value.code == "user.deactivated"
    assert (recorded(user), user.active) == (["user.reactivated"], True)
