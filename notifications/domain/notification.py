"""Notification: one message the platform owes a user, and what became of it.

Requested by a workflow (its id derives from the causing event and the template, so a
redelivered event asks for the same notification), then SENT, FAILED (after retries) or
SUPPRESSED (the user opted out). The request carries everything the sender needs (address,
locale, template variables), so the sender looks nothing up. A sent notification is never
sent again: that is the deduplication a redelivered event meets.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot

REQUESTED, SENT, FAILED, SUPPRESSED = "REQUESTED", "SENT", "FAILED", "SUPPRESSED"


class Notification(AggregateRoot):
    type_name = "notification"

    @event("Requested")
    def __init__(self, id: UUID, user_id: UUID, template: str, channel: str,  # noqa: A002
                 address: str, locale: str, category: str,
                 variables: dict[str, str]) -> None:
        self.user_id = user_id
        self.template = template
        self.channel = channel
        self.address = address
        self.locale = locale
        self.category = category
        self.variables = variables
        self.state = REQUESTED
        self.attempts = 0

    def record_sent(self, attempts: int, provider_id: str) -> None:
        if self.state == SENT:
            return
        self._sent(attempts=attempts, provider_id=provider_id, channel=self.channel)

    @event("Sent")
    def _sent(self, attempts: int, provider_id: str, channel: str) -> None:
        self.state = SENT
        self.attempts = attempts

    def record_failed(self, attempts: int, reason: str) -> None:
        """After the last retry; a later success (a redrive) still records `sent`."""
        if self.state in (SENT, FAILED):
            return
        self._failed(attempts=attempts, reason=reason, channel=self.channel)

    @event("Failed")
    def _failed(self, attempts: int, reason: str, channel: str) -> None:
        self.state = FAILED
        self.attempts = attempts

    def suppress(self, reason: str) -> None:
        if self.state != REQUESTED:
            return
        self._suppressed(reason=reason)

    @event("Suppressed")
    def _suppressed(self, reason: str) -> None:
        self.state = SUPPRESSED
