"""The consent gate asked before a notification is requested.

The hook for the privacy area's consent events: today every category is allowed unless the
user's own preferences say otherwise (checked beside this). Replace the body with a lookup
of the user's consent aggregate (write side: `uow.find`) when consent events exist; keep the
signature, which `commands.workflow_handlers.request_notification` calls.
"""

from __future__ import annotations

from uuid import UUID


def consent_allows(user_id: UUID, category: str) -> bool:
    return True
