"""What operators do from the command line (`smartcourse users`, `smartcourse keys`): create
the first admin, rotate and retire signing keys. Entry points call these; so do tests that
need an admin, the same way an operator gets one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4, uuid5

from commands.domain.errors import SmartCourseError
from commands.domain.ids import NAMESPACE
from commands.messages import RegisterUser
from identity.actor import Actor
from identity.adapters import keys
from identity.adapters.stores import Credentials
from identity.emails import normalise_email
from identity.passwords import check_password_rules

OPERATOR = Actor(user_id=uuid5(NAMESPACE, "actor:operator-cli"), role="system")


@dataclass(frozen=True)
class Created:
    user_id: UUID
    position: int


async def create_account(settings: object, email: str, password: str, display_name: str,
                         role: str = "admin") -> Created:
    """Register an account with any role, as the operator (no HTTP, no token needed)."""
    from smartcourse.bootstrap import open_write_side, password_hasher

    normalised = normalise_email(email)
    check_password_rules(password, normalised)
    side = await open_write_side(settings)  # type: ignore[arg-type]
    try:
        credentials = Credentials(side.pool)
        user_id = uuid4()
        hashed = await asyncio.to_thread(password_hasher(settings).hash, password)  # type: ignore[arg-type]
        await credentials.put(user_id, hashed)
        try:
            result = await side.bus.execute(
                RegisterUser(user_id, display_name, normalised, role), OPERATOR)
        except SmartCourseError:
            await credentials.delete(user_id)
            raise
        return Created(user_id, result.position)
    finally:
        await side.close()


def rotate_key(folder: Path) -> str:
    """A new signing key: it signs from the next token on; older keys keep verifying."""
    kid = keys.new_kid(dev=False)
    keys.write_key(folder, kid)
    return kid


def retire_keys(folder: Path, older_than_seconds: float) -> list[str]:
    """Delete keys other than the newest that were superseded more than `older_than_seconds`
    ago (at least the access token lifetime, so no valid token loses its key)."""
    paths = sorted(folder.glob(f"*{keys.SUFFIX}"), key=lambda p: p.stat().st_mtime)
    retired = []
    for older, newer in zip(paths, paths[1:], strict=False):
        if time.time() - newer.stat().st_mtime > older_than_seconds:
            older.unlink()
            retired.append(older.name.removesuffix(keys.SUFFIX))
    return retired
