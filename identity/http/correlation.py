"""Correlation ids as clients send them (`X-Correlation-ID`): a UUID is used as is; any other
reasonable string (printable ASCII without spaces, up to 128 characters, such as
`audit-trace-1`) names the UUID derived from it (uuid5), so the store, whose correlation ids
are UUIDs, and the client's own tracing agree without the client knowing our format."""

from __future__ import annotations

import re
from uuid import UUID, uuid4, uuid5

from commands.domain.errors import RuleViolated

NAMESPACE = UUID("0e6a3f1c-8d2b-4f4e-b6a1-5c9d2e7f3a40")
REASONABLE = re.compile(r"[!-~]{1,128}")  # visible ASCII: what a header may carry safely


def correlation_id_of(given: str | None) -> UUID:
    if not given:
        return uuid4()
    try:
        return UUID(given)
    except ValueError:
        pass
    if not REASONABLE.fullmatch(given):
        raise RuleViolated("X-Correlation-ID must be 1 to 128 visible ASCII characters",
                           "request.invalid_correlation_id")
    return uuid5(NAMESPACE, given)
