"""user_profiles: each user's role, consents and personal fields, as the export shows them.

Personal fields are kept exactly as the events carry them: sealed with the user's data key
(privacy/sealing.py). The fold never opens them (it does no I/O); the export opens them with
the key, so a deleted key makes this table unreadable at once, and `user.erased` then clears
the columns for good (the row stays, marked erased, so the erasure itself is visible).
"""

from __future__ import annotations

from commands.adapters.event_store import StoredEvent
from projections.base import Change, Projection, Statement, touch

DDL = """
CREATE TABLE {s}.user_profiles (
    user_id        uuid PRIMARY KEY,
    role           text NOT NULL,
    display_name   text,          -- sealed (sc1:...), NULL once erased
    email          text,          -- sealed (sc1:...), NULL once erased
    consents       text[] NOT NULL DEFAULT '{}',
    registered_at  timestamptz NOT NULL,
    erased_at      timestamptz,
    updated_at     timestamptz NOT NULL,
    last_position  bigint NOT NULL
);
"""

REGISTERED = Statement("profiles.registered", """
INSERT INTO {s}.user_profiles (user_id, role, display_name, email, registered_at, updated_at,
    last_position)
VALUES (%(id)s, %(role)s, %(display_name)s, %(email)s, %(at)s, %(at)s, %(pos)s)
""")
ROLE = Statement("profiles.role", """
UPDATE {s}.user_profiles SET role = %(role)s, updated_at = %(at)s, last_position = %(pos)s
WHERE user_id = %(id)s
""")
ERASED = Statement("profiles.erased", """
UPDATE {s}.user_profiles SET display_name = NULL, email = NULL, consents = '{}',
    erased_at = %(at)s, updated_at = %(at)s, last_position = %(pos)s
WHERE user_id = %(id)s
""")
CONSENT_GIVEN = Statement("profiles.consent_given", """
UPDATE {s}.user_profiles SET consents = array(
        SELECT DISTINCT unnest(consents || %(purpose)s::text) ORDER BY 1),
    updated_at = %(at)s, last_position = %(pos)s
WHERE user_id = %(id)s
""")
CONSENT_WITHDRAWN = Statement("profiles.consent_withdrawn", """
UPDATE {s}.user_profiles SET consents = array_remove(consents, %(purpose)s::text),
    updated_at = %(at)s, last_position = %(pos)s
WHERE user_id = %(id)s
""")


def fold(event: StoredEvent) -> list[Change]:
    p, kind = event.payload, event.event_type
    base = {"id": event.aggregate_id, **touch(event)}
    if kind == "user.registered":
        return [Change(REGISTERED, {**base, "role": p["role"],
                                    "display_name": p["display_name"], "email": p["email"]})]
    if kind == "user.role_changed":
        return [Change(ROLE, {**base, "role": p["role"]})]
    if kind == "user.erased":
        return [Change(ERASED, base)]
    if kind == "user.consent_given":
        return [Change(CONSENT_GIVEN, {**base, "purpose": p["purpose"]})]
    if kind == "user.consent_withdrawn":
        return [Change(CONSENT_WITHDRAWN, {**base, "purpose": p["purpose"]})]
    return []


PROJECTION = Projection(
    name="user_profiles", aggregate_types=("user",), ddl=DDL, views=("user_profiles",),
    fold=fold,
)
