"""Providers by name, from settings: the chain the assistant answers with."""

from __future__ import annotations

from assistant.providers.base import Provider
from assistant.providers.breaker import CircuitBreaker
from assistant.providers.chain import Limits, ProviderChain
from assistant.providers.extractive import ExtractiveProvider
from assistant.providers.http import AnthropicProvider, OpenAICompatibleProvider
from smartcourse.settings import Settings

NAMES = ("extractive", "local", "openai", "anthropic")


def provider_names(settings: Settings) -> list[str]:
    names = [n.strip() for n in settings.assistant_providers.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise ValueError(f"SMARTCOURSE_ASSISTANT_PROVIDERS: unknown {unknown or 'empty'}; "
                         f"choose from {', '.join(NAMES)}")
    return names


def build_provider(name: str, settings: Settings) -> Provider:
    if name == "extractive":
        return ExtractiveProvider()
    if name == "local":
        from assistant.providers.local import LocalProvider

        return LocalProvider.load(settings.assistant_local_model,
                                  threads=settings.assistant_local_threads)
    if name == "openai":
        return OpenAICompatibleProvider(settings.assistant_openai_url,
                                        settings.assistant_openai_model,
                                        settings.assistant_openai_api_key,
                                        timeout=settings.assistant_total_timeout)
    return AnthropicProvider(settings.assistant_anthropic_url,
                             settings.assistant_anthropic_model,
                             settings.assistant_anthropic_api_key,
                             timeout=settings.assistant_total_timeout)


def build_chain(settings: Settings, names: list[str] | None = None) -> ProviderChain:
    providers = [build_provider(n, settings) for n in (names or provider_names(settings))]
    limits = Limits(first_piece_timeout=settings.assistant_first_token_timeout,
                    total_timeout=settings.assistant_total_timeout,
                    attempts=settings.assistant_attempts)
    breakers = {p.name: CircuitBreaker(settings.assistant_breaker_failures,
                                       settings.assistant_breaker_reset_seconds)
                for p in providers}
    return ProviderChain(providers, limits, breakers)
