"""EmailClaim: one stream per normalised email, so an email belongs to one user at most.

Its id is derived from the normalised address (commands.domain.ids.email_claim_id), so two
registrations with the same email, however concurrent, create the same stream: the store's
version check lets one of them commit and the other then finds the claim taken, the way
enrollments claim seats. The payload holds the user id only, never the address.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot


class EmailClaim(AggregateRoot):
    type_name = "email_claim"

    @event("Claimed")
    def __init__(self, id: UUID, user_id: UUID) -> None:  # noqa: A002
        self.user_id = user_id
