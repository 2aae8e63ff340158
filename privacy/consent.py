"""Consent: what optional processing a user agreed to, for every consumer that must honour it.

The interface for consumers: `allows(user, purpose_or_category)` over the User aggregate (the
write side loads it), and `CONSENT_PURPOSES`. Transactional categories need no consent;
the optional purposes (`analytics` beyond the minimum, `marketing`) need the user's consent;
an erased user allows nothing.
"""

from __future__ import annotations

from typing import Any

from commands.domain.user import CONSENT_PURPOSES

__all__ = ["CONSENT_PURPOSES", "allows"]


def allows(user: Any, purpose: str) -> bool:
    if getattr(user, "erased", False):
        return False
    if purpose in CONSENT_PURPOSES:
        return purpose in getattr(user, "consents", frozenset())
    return True  # a transactional message (welcome, reminder, certificate)
