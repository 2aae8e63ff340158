"""Email addresses as identity knows them: checked for form, then normalised so that two
spellings of one mailbox are one account (case-insensitive, Unicode NFC, IDNA domain)."""

from __future__ import annotations

import email_validator
from email_validator import EmailNotValidError

from commands.domain.errors import RuleViolated


def normalise_email(address: str) -> str:
    """The canonical form of an address: what uniqueness and login compare.

    email-validator checks the syntax and normalises the domain (IDNA, lower case) and the
    local part's Unicode; the local part is then lower-cased too, because users do not expect
    `Ada@…` and `ada@…` to be two accounts, even though RFC 5321 would allow it."""
    try:
        checked = email_validator.validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise RuleViolated(f"not a valid email address: {error}", "user.invalid_email") from None
    return checked.normalized.lower()
