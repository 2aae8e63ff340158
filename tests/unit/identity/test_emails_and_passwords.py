"""Email normalisation and password rules/hashing: pure logic, no services."""

from __future__ import annotations

import pytest

from commands.domain.errors import RuleViolated
from identity.emails import normalise_email
from identity.passwords import HashParameters, Passwords, check_password_rules

CHEAP = HashParameters(time_cost=1, memory_kib=8, parallelism=1)  # fast, same algorithm


@pytest.mark.parametrize("given", ["Ada@Example.ORG", "  ada@example.org ", "ADA@EXAMPLE.org"])
def test_spellings_of_one_mailbox_normalise_to_one_address(given: str) -> None:
    assert normalise_email(given) == "ada@example.org"


@pytest.mark.parametrize("given", ["no-at-sign", "a@b", "two@@example.org", "a b@example.org"])
def test_malformed_addresses_are_refused_with_a_code(given: str) -> None:
    with pytest.raises(RuleViolated) as refused:
        normalise_email(given)
    assert refused.value.code == "user.invalid_email"


@pytest.mark.parametrize(("password", "code"), [
    ("short-pw", "user.password_too_short"),
    ("a" * 300, "user.password_too_long"),
    ("abababababababab", "user.password_too_simple"),
    ("grace.hopper-2026!", "user.password_contains_email"),
])
def test_weak_passwords_are_refused(password: str, code: str) -> None:
    with pytest.raises(RuleViolated) as refused:
        check_password_rules(password, "grace.hopper@example.org")
    assert refused.value.code == code


def test_a_long_varied_password_passes() -> None:
    check_password_rules("correct horse battery staple", "grace@example.org")


def test_argon2id_hashes_verify_only_their_password() -> None:
    passwords = Passwords(CHEAP)
    stored = passwords.hash("correct horse battery staple")

    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.verify(None, "correct horse battery staple")  # unknown account
    assert not passwords.verify("not a hash", "x")


def test_hashes_made_with_weaker_parameters_are_flagged_for_rehash() -> None:
    old = Passwords(CHEAP).hash("correct horse battery staple")
    stronger = Passwords(HashParameters(time_cost=2, memory_kib=16, parallelism=1))

    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(stronger.hash("correct horse battery staple"))
