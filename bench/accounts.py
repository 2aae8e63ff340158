"""Accounts for load generation: registered in bulk through the command bus as the operator
(no passwords: these benchmarks measure commands and reads, `bench/login.py` measures
logins), with access tokens signed by the local keys exactly as the token endpoint signs
them. The APIs check each token's user against the registry like any other."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from commands.messages import RegisterUser
from identity.operators import OPERATOR
from identity.tokens import TokenIssuer
from smartcourse.bootstrap import open_keyring, open_write_side
from smartcourse.settings import Settings

BENCH_TOKEN_SECONDS = 4 * 3600  # a long benchmark must not see its tokens expire


def issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer(open_keyring(settings), settings.jwt_issuer, settings.jwt_audience,
                       BENCH_TOKEN_SECONDS)


async def register(settings: Settings, count: int, role: str,
                   emails: list[str] | None = None) -> list[tuple[UUID, str]]:
    """`count` new accounts with `role` (and the given emails, if any): (user id, access
    token) each."""
    side = await open_write_side(settings)
    sign = issuer(settings)
    try:
        ids = [uuid4() for _ in range(count)]
        addresses = emails or [f"bench-{user_id.hex}@example.com" for user_id in ids]
        people = list(zip(ids, addresses, strict=True))
        for start in range(0, count, 500):
            await asyncio.gather(*(
                side.bus.execute(RegisterUser(user_id, "Bench user", email, role), OPERATOR)
                for user_id, email in people[start:start + 500]))
        return [(user_id, sign.issue(user_id, role, None)) for user_id in ids]
    finally:
        await side.close()


def tokens(settings: Settings, count: int, role: str = "student") -> list[tuple[UUID, str]]:
    return asyncio.run(register(settings, count, role))
