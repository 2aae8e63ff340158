"""The consent gate asked before a notification is requested.

Transactional messages (welcome, reminder, certificate) need no consent; `marketing` needs
the user's recorded consent (`user.consent_given`, privacy's commands); an erased user gets
nothing at all. The rules are privacy's (`privacy.consent.allows`), over the User aggregate
the handler has already loaded.
"""

from __future__ import annotations

from uuid import UUID

from privacy.consent import allows


def consent_allows(user_id: UUID, category: str, user: object | None = None) -> bool:
    return user is not None and allows(user, category)
