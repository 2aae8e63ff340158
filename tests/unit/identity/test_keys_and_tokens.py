"""Signing keys and access tokens: rotation keeps old tokens valid, dev keys are refused
outside dev, tampered or foreign tokens are refused (no services: a temporary folder)."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import jwt
import pytest

from identity.adapters.keys import Keyring, open_keyring, write_key
from identity.errors import Unauthorized, UnsafeConfiguration
from identity.tokens import TokenIssuer


def issuer(keyring: Keyring, ttl: int = 900) -> TokenIssuer:
    return TokenIssuer(keyring, "smartcourse", "smartcourse", ttl)


def test_outside_dev_no_configured_keys_refuse_to_start(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration):
        open_keyring(None, dev=False, dev_folder=tmp_path / "dev")
    with pytest.raises(UnsafeConfiguration):
        open_keyring(tmp_path / "empty", dev=False, dev_folder=tmp_path / "dev")


def test_generated_dev_keys_are_refused_outside_dev(tmp_path: Path) -> None:
    dev = open_keyring(None, dev=True, dev_folder=tmp_path / "keys")
    assert dev.signing.kid.startswith("dev-")

    with pytest.raises(UnsafeConfiguration, match="development signing keys"):
        open_keyring(tmp_path / "keys", dev=False, dev_folder=tmp_path / "other")


def test_a_rotation_signs_with_the_new_key_and_still_verifies_the_old(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    write_key(folder, "20260101T000000Z-aaaaaa")
    keyring = Keyring(folder, dev=False)
    tokens = issuer(keyring)
    user = uuid4()
    before = tokens.issue(user, "student", None)
    old_kid = jwt.get_unverified_header(before)["kid"]

    new = "20261201T000000Z-bbbbbb"  # kids carry their UTC time stamp: the newest signs
    write_key(folder, new)
    keyring.reload()
    after = tokens.issue(user, "student", None)

    assert jwt.get_unverified_header(after)["kid"] == new != old_kid
    assert tokens.verify(before).user_id == tokens.verify(after).user_id == user
    assert {k["kid"] for k in keyring.jwks()["keys"]} == {old_kid, new}


def test_tampered_foreign_and_expired_tokens_are_refused(tmp_path: Path) -> None:
    keyring = open_keyring(None, dev=True, dev_folder=tmp_path / "keys")
    tokens = issuer(keyring)
    good = tokens.issue(uuid4(), "student", None)
    head, body, signature = good.split(".")
    forged_hs256 = jwt.encode({"sub": str(uuid4()), "role": "admin", "exp": time.time() + 60},
                              "local-development-only-change-me", algorithm="HS256")
    other = issuer(open_keyring(None, dev=True, dev_folder=tmp_path / "elsewhere"))
    expired = issuer(keyring, ttl=-1).issue(uuid4(), "student", None)

    for bad in (f"{head}.{body}x.{signature}", forged_hs256,
                other.issue(uuid4(), "admin", None), expired, "not-a-jwt"):
        with pytest.raises(Unauthorized):
            tokens.verify(bad)
