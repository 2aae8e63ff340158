"""Which payload fields are personal data: marked in the Avro contracts (`"personal": true` on
a field), so a new event type declares its personal fields where its shape is declared.

Personal fields are stored sealed (privacy/sealing.py), never reach ClickHouse (the analytics
row drops them) and are opened only where a user's own data is shown (the export).
A record may name the payload field that holds the user the data is about
(`"personal_subject": "student_id"`); by default it is the aggregate (a user's own events).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from commands.adapters.avro_contracts import contract_event_types, payload_fields, schema_of


@dataclass(frozen=True)
class PersonalFields:
    fields: frozenset[str]
    subject_field: str | None  # None: the aggregate id is the subject


@cache
def _all() -> dict[str, PersonalFields]:
    found: dict[str, PersonalFields] = {}
    for event_type in contract_event_types():
        schema = schema_of(event_type)
        names = frozenset(f["name"] for f in payload_fields(schema) if f.get("personal"))
        if names:
            found[event_type] = PersonalFields(names, schema.get("personal_subject"))
    return found


def personal_fields(event_type: str) -> frozenset[str]:
    """The payload fields of `event_type` that hold personal data (empty for most types)."""
    found = _all().get(event_type)
    return found.fields if found is not None else frozenset()


def personal_event_types() -> dict[str, PersonalFields]:
    """Every event type with personal fields (a dict looked up per event on hot paths)."""
    return _all()
