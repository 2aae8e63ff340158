"""Errors of authentication and access, under the platform's one error base."""

from __future__ import annotations

from commands.domain.errors import Forbidden, SmartCourseError


class Unauthorized(SmartCourseError):
    """No credentials, or credentials that prove nothing (401 with WWW-Authenticate)."""

    code = "auth.unauthorized"


class AccountRefused(Forbidden):
    """The credentials are genuine but the account may not act (deactivated)."""

    code = "auth.account_deactivated"


class TooManyRequests(SmartCourseError):
    """A rate limit was reached; `retry_after` seconds until the next attempt may pass."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class OAuthError(SmartCourseError):
    """An RFC 6749 §5.2 token-endpoint error: `{"error": code, "error_description": …}`
    beside the platform's envelope, so OAuth2 clients and ours both read it."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description, f"oauth.{error}")
        self.oauth_error = error
        self.status = status


class UnsafeConfiguration(RuntimeError):
    """A server was asked to start with development secrets outside development."""
