"""HTTP hygiene both APIs share: a request body limit (413 before anything parses the
body), security headers on every answer, and CORS for the configured origins only."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from identity.http.errors import error_body

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    # The API answers JSON; /docs needs the Swagger UI's scripts and styles from its CDN.
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
DOCS_PATHS = ("/docs", "/redoc")


class BodyLimit:
    """Refuses bodies over `limit` bytes with 413: by Content-Length before reading, and by
    counting while the body streams in (chunked uploads declare no length)."""

    def __init__(self, app: ASGIApp, limit: int,
                 overrides: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.limit = limit
        # (path regex, limit): routes that take larger bodies (file uploads check their own).
        self.overrides = [(re.compile(pattern), size) for pattern, size in overrides]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((size for pattern, size in self.overrides if pattern.fullmatch(path)),
                     self.limit)
        if limit != self.limit:
            await BodyLimit(self.app, limit)(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            # Past the limit the 413 goes out at once and the app is told the client left,
            # so nothing parses the rest (FastAPI would turn an exception into a 400).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not started:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 was the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise  # the app's own failure; after a 413 only the disconnect's echo

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body("request.too_large",
                                     f"the request body exceeds {self.limit} bytes")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(DOCS_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present
                            and not (docs and n == b"content-security-policy")]
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security",
                                    b"max-age=63072000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, cors_origins: list[str], max_body_bytes: int | None = None,
            body_limit_overrides: Sequence[tuple[str, int]] = ()) -> None:
    """Outermost first: the body limit, then security headers, then CORS."""
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                                          "X-Correlation-ID", "X-Consistency-Token"],
                           expose_headers=["X-Correlation-ID", "X-Consistency-Token",
                                           "X-Read-Position", "Retry-After"])
    app.add_middleware(SecurityHeaders)
    if max_body_bytes is not None:
        app.add_middleware(BodyLimit, limit=max_body_bytes, overrides=body_limit_overrides)
