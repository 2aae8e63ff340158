"""The provider chain: each provider in the order settings give, with a first-piece timeout,
a total timeout, retries and a circuit breaker; on failure before the first piece, the next
provider answers. Which provider answered and why others were skipped is reported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from assistant.providers.base import ChatPrompt, Provider, ProviderError, Usage
from assistant.providers.breaker import CircuitBreaker


@dataclass(frozen=True)
class Limits:
    first_piece_timeout: float = 10.0
    total_timeout: float = 60.0
    attempts: int = 2  # per provider, before falling back
    retry_delay: float = 0.05


@dataclass
class Attempt:
    provider: str
    outcome: str  # ok | skipped:open | failed:<reason>


@dataclass
class Generation:
    """What the chain did for one prompt, filled while the stream runs."""

    provider: str = ""
    usage: Usage = field(default_factory=Usage)
    attempts: list[Attempt] = field(default_factory=list)


class AllProvidersFailed(ProviderError):
    pass


class ProviderChain:
    def __init__(self, providers: Sequence[Provider], limits: Limits | None = None,
                 breakers: dict[str, CircuitBreaker] | None = None) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.providers = list(providers)
        self.limits = limits or Limits()
        self.breakers = breakers or {p.name: CircuitBreaker() for p in self.providers}

    def breaker(self, name: str) -> CircuitBreaker:
        return self.breakers.setdefault(name, CircuitBreaker())

    async def stream(self, prompt: ChatPrompt, generation: Generation) -> AsyncIterator[str]:
        for provider in self.providers:
            breaker = self.breaker(provider.name)
            for attempt in range(self.limits.attempts):
                if not breaker.allow():
                    generation.attempts.append(Attempt(provider.name, "skipped:open"))
                    break
                usage = Usage()
                pieces = provider.stream(prompt, usage)
                started = time.monotonic()
                try:
                    async with asyncio.timeout(self.limits.first_piece_timeout):
                        first = await anext(pieces, None)
                except (ProviderError, TimeoutError, OSError) as error:
                    breaker.failed()
                    reason = "timeout" if isinstance(error, TimeoutError) else str(error)
                    generation.attempts.append(Attempt(provider.name, f"failed:{reason}"))
                    await pieces.aclose()
                    if attempt + 1 < self.limits.attempts:
                        await asyncio.sleep(self.limits.retry_delay * (attempt + 1))
                    continue
                breaker.succeeded()
                generation.provider, generation.usage = provider.name, usage
                generation.attempts.append(Attempt(provider.name, "ok"))
                if first is None:
                    return
                yield first
                deadline = started + self.limits.total_timeout
                async for piece in pieces:  # past the first piece there is no taking back
                    if time.monotonic() > deadline:
                        await pieces.aclose()
                        raise ProviderError(f"{provider.name} exceeded the total timeout")
                    yield piece
                return
        raise AllProvidersFailed("no provider could answer: " + "; ".join(
            f"{a.provider} {a.outcome}" for a in generation.attempts))
