"""The errors the write side raises; each carries a stable, machine-readable code.

They are mapped to HTTP statuses in exactly one place (commands/api/errors.py).
"""

from __future__ import annotations


class SmartCourseError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details


class NotFound(SmartCourseError):
    code = "not_found"


class Conflict(SmartCourseError):
    """The command contradicts the current state: duplicate, seat cap, invalid transition."""

    code = "conflict"


class RuleViolated(SmartCourseError):
    """The command is well-formed but breaks a business rule (e.g. missing prerequisites)."""

    code = "rule_violated"


class Forbidden(SmartCourseError):
    code = "forbidden"


class ConcurrencyConflict(Conflict):
    """Another writer appended to the aggregate first; the handler reloads and retries."""

    code = "concurrency_conflict"
