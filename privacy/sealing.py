"""Crypto-shredding: personal fields are stored sealed with their user's data key, and erasing
a user deletes the key, which makes every copy of those fields unreadable at once (the event
store, Kafka, backups of both) without rewriting a single event.

A sealed value is the text `sc1:` + base64url(12-byte nonce + AES-256-GCM ciphertext and tag),
so the Avro contracts keep their `string` fields (BACKWARD compatible) and a sealed value is
recognisable. The associated data binds a ciphertext to its user, event type and field: it
cannot be moved to another user's event. Keys live in PostgreSQL (`privacy.data_keys`), never
in an event, Kafka or ClickHouse. An erased user's fields open as `ERASED`.

Cost: AES-GCM of a short field is a few microseconds; keys are cached per process. Only the
event types with personal fields (privacy/personal.py) pay anything at all.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.personal import personal_event_types

PREFIX = "sc1:"
ERASED = "[erased]"
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyStore(Protocol):
    """Per-user data keys (privacy/keys.py holds the PostgreSQL one)."""

    async def get(self, subject: UUID) -> bytes | None: ...

    async def get_or_create(self, subject: UUID) -> bytes | None:
        """The subject's key, created if it never had one; None once it was erased."""

    async def shred(self, subject: UUID) -> bool:
        """Delete the key for good (True if one was deleted); later `get_or_create`s give None."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _aad(subject: UUID, event_type: str, field: str) -> bytes:
    return b"%s|%s|%s" % (subject.bytes, event_type.encode(), field.encode())


def seal_value(key: bytes, value: str, subject: UUID, event_type: str, field: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(subject, event_type, field))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_value(key: bytes | None, token: str, subject: UUID, event_type: str,
               field: str) -> str:
    """The plain value; ERASED without a key. A value stored before sealing existed (no
    prefix) is returned as it is."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        return token
    if key is None:
        return ERASED
    raw = base64.urlsafe_b64decode(token[len(PREFIX):])
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                    _aad(subject, event_type, field))
    except InvalidTag:
        raise ValueError(f"{event_type}.{field}: the sealed value does not open with its "
                         "subject's key (tampered, or moved from another event)") from None
    return plain.decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class PersonalData:
    """Seals the personal fields of new events and opens them again (the write side's and
    the export's view of a user's data)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._types = personal_event_types()

    def has_personal_fields(self, event_type: str) -> bool:
        return event_type in self._types

    def subject(self, event_type: str, aggregate_id: UUID, payload: Mapping[str, Any]) -> UUID:
        field = self._types[event_type].subject_field
        if field is None:
            return aggregate_id
        value = payload[field]
        return value if isinstance(value, UUID) else UUID(str(value))

    async def seal(self, event_type: str, aggregate_id: UUID,
                   payload: dict[str, Any]) -> dict[str, Any]:
        """The payload with its personal fields sealed (the same dict for other types)."""
        spec = self._types.get(event_type)
        if spec is None:
            return payload
        subject = self.subject(event_type, aggregate_id, payload)
        key = await self.keys.get_or_create(subject)
        if key is None:
            from commands.domain.errors import Conflict
            raise Conflict("this user's personal data was erased", "user.erased")
        return {name: seal_value(key, value, subject, event_type, name)
                if name in spec.fields and isinstance(value, str) and not is_sealed(value)
                else value for name, value in payload.items()}

    async def open(self, event_type: str, aggregate_id: UUID,
                   payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload with its personal fields readable, or ERASED."""
        spec = self._types.get(event_type)
        if spec is None:
            return dict(payload)
        subject = self.subject(event_type, aggregate_id, payload)
        key = await self.keys.get(subject)
        return {name: open_value(key, value, subject, event_type, name)
                if name in spec.fields else value for name, value in payload.items()}

    async def shred(self, subject: UUID) -> bool:
        return await self.keys.shred(subject)


class MemoryKeys:
    """Keys in a dict: for unit tests of pure logic, and the fake write side."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes] = {}
        self.erased: set[UUID] = set()

    async def get(self, subject: UUID) -> bytes | None:
        return self.keys.get(subject)

    async def get_or_create(self, subject: UUID) -> bytes | None:
        if subject in self.erased:
            return None
        return self.keys.setdefault(subject, new_key())

    async def shred(self, subject: UUID) -> bool:
        self.erased.add(subject)
        return self.keys.pop(subject, None) is not None
