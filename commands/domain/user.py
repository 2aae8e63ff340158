"""User: registered with a role. Personal data is kept to a display name and an email.

A user can be deactivated (every token of theirs is then refused) and reactivated; role
changes and password changes are recorded as facts (the password hash itself is never in an
event: it lives in identity's credentials table).
"""

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

    def deactivate(self, reason: str) -> None:
        """Idempotent: deactivating a deactivated user records nothing."""
        if self.active:
            self._deactivate(reason=reason)

    @event("Deactivated")
    def _deactivate(self, reason: str) -> None:
        self.active = False

    def reactivate(self) -> None:
        if not self.active:
            self._reactivate()

    @event("Reactivated")
    def _reactivate(self) -> None:
        self.active = True

    def record_password_change(self) -> None:
        if not self.active:
            raise Conflict("the user is deactivated", "user.deactivated")
        self._password_changed()

    @event("PasswordChanged")
    def _password_changed(self) -> None:
        pass
