"""Accounts: registration with a password, roles, deactivation, password changes.

The password hash is written to identity's credentials table before `user.registered` is
appended (and removed if the registration is refused), so an account never exists without
its password, and the hash never enters an event."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from fastapi import APIRouter, Request

from commands import messages as m
from commands.api.execution import CommandRunner, Commands
from commands.api.models import (
    ChangePasswordBody,
    DeactivateBody,
    RegisterUserBody,
    RoleBody,
    UserWritten,
)
from commands.domain.errors import Forbidden, RuleViolated
from identity.actor import Actor
from identity.emails import normalise_email
from identity.errors import Unauthorized
from identity.http.deps import CurrentActor, MaybeActor, identity_of
from identity.http.routes import client_ip
from identity.passwords import check_password_rules

router = APIRouter(tags=["users"])


def user_written(result) -> dict[str, object]:  # noqa: ANN001 - a CommandResult
    return {"user_id": str(result.aggregate_id)}


@router.post("/users", status_code=201, response_model=UserWritten,
             responses={409: {"description": "an account with this email exists"},
                        422: {"description": "the password or the email breaks a rule"}})
async def register_user(body: RegisterUserBody, request: Request, caller: MaybeActor):
    """Register an account with an email and a password (anyone; the account is a student).
    Admins may register accounts with another role."""
    identity = identity_of(request)
    await request.app.state.throttle.login(client_ip(request), None)
    email = normalise_email(body.email)
    check_password_rules(body.password, email)
    admin = caller is not None and caller.is_admin
    if body.user_id is not None and not admin:
        raise Forbidden("only admins choose an account's id", "auth.role_required")
    user_id = (body.user_id if admin else None) or uuid4()
    actor = caller if admin else Actor(user_id, "student")
    credentials = identity.credentials
    assert credentials is not None and identity.passwords is not None
    await credentials.put(user_id, await asyncio.to_thread(identity.passwords.hash,
                                                           body.password))
    command = m.RegisterUser(user_id, body.display_name, email, body.role)
    try:
        reply = await CommandRunner(request, actor).run(command, user_written, status_code=201)
    except BaseException:
        await credentials.delete(user_id)
        raise
    if reply.status_code >= 300 or reply.headers.get("Idempotent-Replayed"):
        await credentials.delete(user_id)  # refused, or another request's account
    return reply


@router.put("/users/{user_id}/role", response_model=UserWritten)
async def change_role(user_id: UUID, body: RoleBody, commands: Commands):
    """Admins only: the new role applies to the user's very next request."""
    return await commands.run(m.ChangeRole(user_id, body.role), user_written)


@router.post("/users/{user_id}/deactivate", response_model=UserWritten)
async def deactivate(user_id: UUID, commands: Commands, request: Request,
                     body: DeactivateBody | None = None):
    """Admins deactivate anyone (but themselves); a user may close their own account. Every
    token of the user is refused from then on and their logins are revoked."""
    reply = await commands.run(m.DeactivateUser(user_id, body.reason if body else ""),
                               user_written)
    if reply.status_code < 300:
        await _revoke_logins(request, user_id)
    return reply


@router.post("/users/{user_id}/reactivate", response_model=UserWritten)
async def reactivate(user_id: UUID, commands: Commands):
    """Admins only."""
    return await commands.run(m.ReactivateUser(user_id), user_written)


@router.put("/users/me/password", response_model=UserWritten,
            responses={401: {"description": "the current password is wrong"}})
async def change_password(body: ChangePasswordBody, request: Request, actor: CurrentActor):
    """Change your password (the current one is required); your other logins end."""
    identity = identity_of(request)
    assert identity.passwords is not None and identity.credentials is not None
    await request.app.state.throttle.login(client_ip(request), str(actor.user_id))
    stored = await identity.credentials.get(actor.user_id)
    if not await asyncio.to_thread(identity.passwords.verify, stored, body.current_password):
        raise Unauthorized("the current password is wrong", "auth.wrong_password")
    if body.new_password == body.current_password:
        raise RuleViolated("the new password is the current one", "user.password_unchanged")
    check_password_rules(body.new_password)
    await identity.credentials.put(
        actor.user_id, await asyncio.to_thread(identity.passwords.hash, body.new_password))
    await _revoke_logins(request, actor.user_id)
    return await CommandRunner(request, actor).run(m.RecordPasswordChange(actor.user_id),
                                                   user_written)


async def _revoke_logins(request: Request, user_id: UUID) -> None:
    refresh = identity_of(request).refresh
    if refresh is not None:
        await refresh.revoke_user(user_id)

