"""A local stand-in for LLM servers: speaks the OpenAI chat-completions stream and
Anthropic's messages stream (server-sent events), so the HTTP providers are tested over a
real socket. It answers with the first sentence of passage [1] of the prompt, cited (or,
asked for study material, with JSON lines made from that sentence).

`mode` switches it: "ok", "fail" (HTTP 500), "garbage" (malformed events).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from smartcourse.local_servers import free_port


@dataclass
class StandIn:
    base_url: str = ""
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)


def _study(text: str) -> list[str]:
    """What an instruct model writes for the study-material prompt (docs/adr/0042): JSON
    lines in a code fence, from passage [1], cut into small pieces as a stream would be."""
    passage = re.search(r"^\[1\] (.+)$", text, re.M)
    first = re.split(r"(?<=[.!?])\s+", passage.group(1) if passage else "")[0]
    terms = [t.strip() for t in text.rsplit("Course terms:", 1)[-1].split(",") if t.strip()]
    words = [w.strip(".,;:()") for w in first.split()]
    answer = max(words, key=len) if words else ""
    wrong = [t for t in terms if t.lower() not in first.lower()][:3]
    lines = [{"type": "summary", "text": first, "passages": [1]},
             {"type": "objective", "text": f"Explain {answer}", "passages": [1]},
             {"type": "question", "prompt": f"Which word completes: {first.replace(answer, '___')}",
              "options": [*wrong, answer], "correct": len(wrong),
              "explanation": f"Passage 1 says: {first}", "passage": 1, "quote": first}]
    body = "```json\n" + "\n".join(json.dumps(line) for line in lines) + "\n```"
    return [body[i:i + 7] for i in range(0, len(body), 7)]


def _reply(messages: list[dict[str, Any]]) -> list[str]:
    text = messages[-1]["content"] if messages else ""
    if "Passages:\n[1] " in text:
        return _study(text)
    found = re.search(r"\[1\] \([^)]*\) (.+?[.!?])(?:\s|$)", text, re.S)
    sentence = found.group(1) if found else "The course does not cover this."
    words = (sentence[:-1] + " [1]" + sentence[-1]).split(" ")
    return [("" if i == 0 else " ") + w for i, w in enumerate(words)]


def _sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    body = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {body}\n\n"


def create_app(state: StandIn) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def openai(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"api": "openai", "body": body})
        if state.mode == "fail":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        pieces = _reply(body["messages"])

        def stream() -> Iterator[str]:
            if state.mode == "garbage":
                yield "data: {not json\n\n"
                return
            for piece in pieces:
                yield _sse({"choices": [{"index": 0, "delta": {"content": piece}}]})
            yield _sse({"choices": [], "usage": {"prompt_tokens": 321,
                                                 "completion_tokens": len(pieces)}})
            yield _sse("[DONE]")

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.post("/v1/messages")
    async def anthropic(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"api": "anthropic", "body": body,
                               "key": request.headers.get("x-api-key")})
        if state.mode == "fail":
            return JSONResponse({"type": "error", "error": {"type": "overloaded_error"}},
                                status_code=529)
        pieces = _reply(body["messages"])

        def stream() -> Iterator[str]:
            yield _sse({"type": "message_start", "message": {
                "id": "msg_1", "usage": {"input_tokens": 123, "output_tokens": 1}}},
                "message_start")
            yield _sse({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}}, "content_block_start")
            for piece in pieces:
                yield _sse({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": piece}},
                           "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            yield _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                        "usage": {"output_tokens": len(pieces)}}, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


@contextmanager
def running() -> Iterator[StandIn]:
    state = StandIn()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the stand-in LLM server did not start")
        time.sleep(0.02)  # bounded wait for the server thread to bind
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
