"""Admins only: a login form whose password goes to the identity room's password grant (the
command API's /auth/token), the access token kept in an HttpOnly, SameSite=Strict cookie,
every page checking it against the account registry, and a CSRF token on every form that
acts (docs/adr/0035).

The CSRF token of a session is an HMAC of its access token: a page of another site cannot
read the cookie, so it cannot compute the token, and SameSite=Strict keeps the browser from
sending the cookie with a cross-site request in the first place. The login form has a
double-submit token of its own (a random value in a cookie and in the form)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from identity.actor import Actor
from identity.errors import Unauthorized

SESSION_COOKIE = "smartcourse_console"
LOGIN_COOKIE = "smartcourse_console_login"


class LoginRequired(Exception):
    """No session, or one that expired: the browser goes to the login form."""


class AdminsOnly(Exception):
    """A valid session of someone who is not an admin: refused (403)."""


class CsrfRefused(Exception):
    """An acting form without this session's CSRF token: refused (403)."""


def csrf_token(access_token: str) -> str:
    return hmac.new(access_token.encode(), b"smartcourse-console-csrf",
                    hashlib.sha256).hexdigest()


def login_nonce() -> str:
    return secrets.token_urlsafe(24)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


async def admin_of(request: Request) -> tuple[Actor, str]:
    """The admin whose session cookie came, and its access token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        actor = await request.app.state.identity.actor(token)
    except Unauthorized as error:
        raise LoginRequired() from error
    if not actor.is_admin:
        raise AdminsOnly()
    return actor, token


def check_csrf(token: str, sent: str | None) -> None:
    if not same(csrf_token(token), sent):
        raise CsrfRefused()


def cookie_options(secure: bool, max_age: int) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/",
            "max_age": max_age}
