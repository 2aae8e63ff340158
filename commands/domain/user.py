"""User: registered with a role. Personal data is kept to a display name and an email."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict

ROLES = ("student", "instructor", "admin")


class User(AggregateRoot):
    type_name = "user"

    @event("Registered")
    def __init__(self, id: UUID, display_name: str, email: str, role: str) -> None:  # noqa: A002
        self.display_name = display_name
        self.email = email
        self.role = role
        self.active = True

    def change_role(self, role: str) -> None:
        if not self.active:
            raise Conflict("the user is deactivated", "user.deactivated")
        if role != self.role:
            self._change_role(role=role)

    @event("RoleChanged")
    def _change_role(self, role: str) -> None:
        self.role = role
