"""Passwords: the rules a new one must meet, and argon2id hashing (argon2-cffi).

Hashing and verifying cost tens of milliseconds of CPU by design; callers run them in a
thread (`asyncio.to_thread`) so an API's event loop keeps serving meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from commands.domain.errors import RuleViolated

MIN_LENGTH = 12
MAX_LENGTH = 256  # long enough for any passphrase, short enough not to be a DoS vector


@dataclass(frozen=True)
class HashParameters:
    time_cost: int
    memory_kib: int
    parallelism: int


def check_password_rules(password: str, email: str = "") -> None:
    """NIST SP 800-63B's spirit: length over composition rules, and nothing guessable from
    the account itself."""
    if len(password) < MIN_LENGTH:
        raise RuleViolated(f"a password needs at least {MIN_LENGTH} characters",
                           "user.password_too_short")
    if len(password) > MAX_LENGTH:
        raise RuleViolated(f"a password has at most {MAX_LENGTH} characters",
                           "user.password_too_long")
    if len(set(password)) < 5:
        raise RuleViolated("a password needs at least 5 different characters",
                           "user.password_too_simple")
    local = email.split("@", 1)[0].lower()
    if email and (email.lower() in password.lower() or (len(local) >= 4
                                                         and local in password.lower())):
        raise RuleViolated("a password must not contain the email address",
                           "user.password_contains_email")


class Passwords:
    """argon2id with the configured cost; `needs_rehash` tells when stored hashes were made
    with older parameters (upgraded at the next successful login)."""

    def __init__(self, params: HashParameters) -> None:
        self.hasher = PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_kib,
                                     parallelism=params.parallelism, type=Type.ID)
        # Verifying an unknown account costs as much as a real one (no timing oracle).
        self._dummy = self.hasher.hash("an account that does not exist")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
