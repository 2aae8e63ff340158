"""One-click unsubscribe links: the user and category, signed with HMAC-SHA256 under a key
derived from the platform's signing secret (so no extra secret to leak or to forget)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"smartcourse:unsubscribe-links", hashlib.sha256).digest()


def unsubscribe_token(secret: str, user_id: UUID, category: str) -> str:
    body = f"{user_id}:{category}".encode()
    signature = hmac.new(_key(secret), body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + b"." + signature).decode().rstrip("=")


def read_unsubscribe_token(secret: str, token: str) -> tuple[UUID, str] | None:
    """The (user, category) a genuine token names; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body, dot, signature = raw[:-17], raw[-17:-16], raw[-16:]  # the signature is binary
        if dot != b".":
            return None
        expected = hmac.new(_key(secret), body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(signature, expected):
            return None
        user, category = body.decode().split(":", 1)
        return UUID(user), category
    except (ValueError, UnicodeDecodeError):
        return None


def webhook_secret(secret: str, webhook_id: UUID) -> str:
    """The signing secret of one webhook, derived (so never stored)."""
    return hmac.new(secret.encode(), f"smartcourse:webhook:{webhook_id}".encode(),
                    hashlib.sha256).hexdigest()
