"""User: registered with a role. Personal data is kept to a display name and an email."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import Conflict, RuleViolated

ROLES = ("student", "instructor", "admin")
# Optional processing a user may agree to (and withdraw from) at any time.
CONSENT_PURPOSES = ("analytics", "marketing")
# What an erased user's personal fields read as (privacy/sealing.py opens them so too).
ERASED = "[erased]"


class User(AggregateRoot):
    type_name = "user"

    @event("Registered")
    def __init__(self, id: UUID, display_name: str, email: str, role: str) -> None:  # noqa: A002
        self.display_name = display_name
        self.email = email
        self.role = role
        self.active = True
        self.erased = False
        self.consents: frozenset[str] = frozenset()

    def change_role(self, role: str) -> None:
        if not self.active:
            raise Conflict("the user is deactivated", "user.deactivated")
        if role != self.role:
            self._change_role(role=role)

    @event("RoleChanged")
    def _change_role(self, role: str) -> None:
        self.role = role

    # -- privacy: erasure (crypto-shredding, privacy/sealing.py) and consent ---------------
    def erase(self, reason: str) -> None:
        """Record the erasure; the handler then deletes the user's data key. Repeating it
        records nothing (the key's deletion is repeated, which completes an interrupted one)."""
        if not self.erased:
            self._erase(reason=reason)

    @event("Erased")
    def _erase(self, reason: str) -> None:
        self.display_name = ERASED
        self.email = ERASED
        self.erased = True
        self.active = False
        self.consents = frozenset()

    def give_consent(self, purpose: str) -> None:
        self._check_purpose(purpose)
        if purpose not in self.consents:
            self._give_consent(purpose=purpose)

    @event("ConsentGiven")
    def _give_consent(self, purpose: str) -> None:
        self.consents = self.consents | {purpose}

    def withdraw_consent(self, purpose: str) -> None:
        self._check_purpose(purpose)
        if purpose in self.consents:
            self._withdraw_consent(purpose=purpose)

    @event("ConsentWithdrawn")
    def _withdraw_consent(self, purpose: str) -> None:
        self.consents = self.consents - {purpose}

    def _check_purpose(self, purpose: str) -> None:
        if self.erased:
            raise Conflict("the user was erased", "user.erased")
        if purpose not in CONSENT_PURPOSES:
            raise RuleViolated(f"unknown purpose {purpose!r} (known: "
                               f"{', '.join(CONSENT_PURPOSES)})", "consent.unknown_purpose")
