"""Providers over HTTP: the OpenAI-compatible chat completions stream (OpenAI, vLLM,
Ollama, llama.cpp server) and Anthropic's messages stream. Both read server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from assistant.providers.base import ChatPrompt, ProviderError, Usage


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of a server-sent event stream."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield name, "\n".join(data)


class _HttpProvider:
    name = "http"

    def __init__(self, base_url: str, model: str, api_key: str, timeout: float = 30.0,
                 client: httpx.AsyncClient | None = None) -> None:
        if not base_url:
            raise ValueError(f"the {self.name} provider needs a base URL")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.client.aclose()

    def request(self, prompt: ChatPrompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def pieces(self, name: str, data: dict[str, Any], usage: Usage) -> list[str]:
        raise NotImplementedError

    async def stream(self, prompt: ChatPrompt, usage: Usage) -> AsyncIterator[str]:
        url, headers, body = self.request(prompt)
        try:
            async with self.client.stream("POST", url, headers=headers, json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise ProviderError(f"{self.name} answered {response.status_code}: "
                                        f"{response.text[:200]}")
                async for name, data in _events(response):
                    if data == "[DONE]":
                        return
                    try:
                        parsed = json.loads(data)
                    except json.JSONDecodeError as error:
                        raise ProviderError(f"{self.name} sent malformed data") from error
                    for piece in self.pieces(name, parsed, usage):
                        yield piece
        except httpx.HTTPError as error:
            raise ProviderError(f"{self.name} unreachable: {type(error).__name__}") from error


class OpenAICompatibleProvider(_HttpProvider):
    name = "openai"

    def request(self, prompt: ChatPrompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return (f"{self.base_url}/chat/completions", headers,
                {"model": self.model, "messages": prompt.messages(), "stream": True,
                 "max_tokens": prompt.max_tokens, "temperature": 0,
                 "stream_options": {"include_usage": True}})

    def pieces(self, name: str, data: dict[str, Any], usage: Usage) -> list[str]:
        if "error" in data:
            raise ProviderError(f"openai error: {data['error']}")
        if data.get("usage"):
            usage.prompt_tokens = int(data["usage"].get("prompt_tokens", 0))
            usage.completion_tokens = int(data["usage"].get("completion_tokens", 0))
            usage.reported = True
        return [c["delta"]["content"] for c in data.get("choices", [])
                if c.get("delta", {}).get("content")]


class AnthropicProvider(_HttpProvider):
    name = "anthropic"

    def request(self, prompt: ChatPrompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        messages = prompt.messages()
        system = messages[0]["content"]
        headers = {"x-api-key": self.api_key, "anthropic-version": "2023-06-01"}
        return (f"{self.base_url}/v1/messages", headers,
                {"model": self.model, "system": system, "messages": messages[1:],
                 "max_tokens": prompt.max_tokens, "stream": True, "temperature": 0})

    def pieces(self, name: str, data: dict[str, Any], usage: Usage) -> list[str]:
        kind = data.get("type", name)
        if kind == "error":
            raise ProviderError(f"anthropic error: {data.get('error')}")
        if kind == "message_start":
            usage.prompt_tokens = int(data["message"].get("usage", {}).get("input_tokens", 0))
            usage.reported = True
        elif kind == "message_delta":
            usage.completion_tokens = int(data.get("usage", {}).get("output_tokens", 0))
        elif kind == "content_block_delta" and data["delta"].get("type") == "text_delta":
            return [data["delta"]["text"]]
        return []
