"""Access tokens: short-lived JWTs signed with EdDSA, naming the key (`kid`) that signed them.

A token says who its user is (`sub`) and which login it belongs to (`sid`, the refresh
family); the `role` claim is informational only: every request takes the role and state from
the account registry. Verification is cached by token (clients send the same token with every
request, and a signature check is a noticeable share of a request's CPU); expiry is checked
every time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID, uuid4

import jwt

from identity.adapters.keys import Keyring
from identity.errors import Unauthorized

ALGORITHM = "EdDSA"
CACHE_SIZE = 65_536


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    session_id: UUID | None
    expires_at: float
    role: str


class TokenIssuer:
    def __init__(self, keyring: Keyring, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, user_id: UUID, role: str, session_id: UUID | None) -> str:
        now = int(time.time())
        key = self.keyring.signing
        claims = {"iss": self.issuer, "aud": self.audience, "sub": str(user_id), "role": role,
                  "iat": now, "nbf": now, "exp": now + self.ttl_seconds, "jti": str(uuid4())}
        if session_id is not None:
            claims["sid"] = str(session_id)
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            self._verified[token] = claims
            if len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        if claims.expires_at <= time.time():
            raise Unauthorized("the access token has expired", "auth.token_expired")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keyring.verifying(str(header.get("kid", "")))
            if key is None:
                raise Unauthorized("the token was signed by an unknown key",
                                   "auth.invalid_token")
            claims = jwt.decode(token, key.public, algorithms=[ALGORITHM],
                                audience=self.audience, issuer=self.issuer,
                                options={"require": ["sub", "exp", "iat", "aud", "iss"]})
            session = claims.get("sid")
            return AccessClaims(UUID(claims["sub"]), UUID(session) if session else None,
                                float(claims["exp"]), str(claims.get("role", "")))
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the access token has expired", "auth.token_expired") from None
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise Unauthorized(f"invalid bearer token: {error}", "auth.invalid_token") from None
