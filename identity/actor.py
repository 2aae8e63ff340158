"""Who issues a command or a read: a user with the role the registry gives them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

ROLES = ("student", "instructor", "admin")


@dataclass(frozen=True)
class Actor:
    """A user with a role, or the platform's own workflows (role `system`)."""

    user_id: UUID
    role: str  # student | instructor | admin | system

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "system")
