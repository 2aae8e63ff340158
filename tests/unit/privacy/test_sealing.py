"""Crypto-shredding's pure parts: sealing, opening, erasing, and the write side using them."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from commands import messages as m
from commands.bus import CommandBus
from commands.domain.errors import Conflict, Forbidden
from commands.domain.user import User
from privacy.personal import personal_fields
from privacy.sealing import (
    ERASED,
    MemoryKeys,
    PersonalData,
    is_sealed,
    new_key,
    open_value,
    seal_value,
)
from tests.unit.commands.fake_event_store import FakeEventStore


def test_the_contracts_mark_the_personal_fields() -> None:
    assert personal_fields("user.registered") == {"display_name", "email"}
    assert personal_fields("enrollment.created") == frozenset()


def test_a_sealed_value_opens_with_its_key_only_for_its_own_place() -> None:
    key, subject = new_key(), uuid4()
    token = seal_value(key, "ada@example.org", subject, "user.registered", "email")
    assert is_sealed(token) and "ada" not in token
    assert open_value(key, token, subject, "user.registered", "email") == "ada@example.org"
    assert open_value(None, token, subject, "user.registered", "email") == ERASED
    with pytest.raises(ValueError, match="does not open"):
        open_value(key, token, uuid4(), "user.registered", "email")  # another user's event
    with pytest.raises(ValueError, match="does not open"):
        open_value(key, token, subject, "user.registered", "display_name")  # another field
    with pytest.raises(ValueError, match="does not open"):
        open_value(new_key(), token, subject, "user.registered", "email")


def test_plain_values_from_before_sealing_open_as_they_are() -> None:
    assert open_value(new_key(), "ada@example.org", uuid4(), "user.registered",
                      "email") == "ada@example.org"


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(coroutine)


async def _register_and_erase() -> tuple[FakeEventStore, MemoryKeys, CommandBus, m.Actor]:
    store, keys = FakeEventStore(), MemoryKeys()
    bus = CommandBus(store, personal=PersonalData(keys))
    ada = m.Actor(uuid4(), "student")
    await bus.execute(m.RegisterUser(ada.user_id, "Ada Lovelace", "ada@example.org",
                                     "student"), ada)
    return store, keys, bus, ada


def test_the_store_holds_personal_fields_sealed_and_erasure_shreds_the_key() -> None:
    async def scenario() -> None:
        store, keys, bus, ada = await _register_and_erase()
        (registered,) = [e for e in store.events if e.event_type == "user.registered"]
        assert is_sealed(registered.payload["email"])
        assert is_sealed(registered.payload["display_name"])
        assert "Ada" not in str(registered.payload) and "example" not in str(registered.payload)
        assert ada.user_id in keys.keys

        with pytest.raises(Forbidden):
            await bus.execute(m.EraseUser(ada.user_id), m.Actor(uuid4(), "student"))
        await bus.execute(m.EraseUser(ada.user_id, "asked"), ada)
        assert ada.user_id not in keys.keys
        assert [e.event_type for e in store.events][-1] == "user.erased"

        # A fresh process (empty cache) rebuilds the user from the store: erased.
        fresh = CommandBus(store, personal=PersonalData(keys))
        with pytest.raises(Conflict, match="erased"):
            await fresh.execute(m.GiveConsent(ada.user_id, "analytics"), ada)
        opened = await PersonalData(keys).open("user.registered", ada.user_id,
                                               registered.payload)
        assert opened["email"] == ERASED and opened["display_name"] == ERASED

        repeated = await fresh.execute(m.EraseUser(ada.user_id), ada)  # idempotent
        assert repeated.changed is False

    run(scenario())


def test_consent_is_given_by_the_user_and_withdrawn_by_them_or_an_admin() -> None:
    async def scenario() -> None:
        store, _, bus, ada = await _register_and_erase()
        admin = m.Actor(uuid4(), "admin")
        with pytest.raises(Forbidden):
            await bus.execute(m.GiveConsent(ada.user_id, "analytics"), admin)
        await bus.execute(m.GiveConsent(ada.user_id, "analytics"), ada)
        again = await bus.execute(m.GiveConsent(ada.user_id, "analytics"), ada)
        assert again.changed is False
        await bus.execute(m.WithdrawConsent(ada.user_id, "analytics"), admin)
        kinds = [e.event_type for e in store.events]
        assert kinds[-2:] == ["user.consent_given", "user.consent_withdrawn"]

    run(scenario())


def test_an_erased_user_keeps_no_personal_state() -> None:
    user = User(id=uuid4(), display_name="Ada", email="ada@example.org", role="student")
    user.give_consent("marketing")
    user.erase("asked")
    assert (user.display_name, user.email, user.consents, user.active) == (
        ERASED, ERASED, frozenset(), False)
