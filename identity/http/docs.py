"""/docs "Authorize" on an API that does not issue tokens itself (the query API, the
assistant API): the OAuth2 password flow's tokenUrl made absolute, at the command API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from identity.http.deps import TOKEN_URL


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL (what a browser sends as `Origin`)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def token_url(public_command_url: str) -> str:
    return public_command_url.rstrip("/") + TOKEN_URL


def point_authorize_at(app: FastAPI, public_command_url: str) -> None:
    """Every OAuth2 password flow in the app's OpenAPI gets the command API's token URL."""
    build = app.openapi
    absolute = token_url(public_command_url)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.get("components", {}).get("securitySchemes", {})
            for scheme in schemes.values():
                password = scheme.get("flows", {}).get("password")
                if password is not None:
                    password["tokenUrl"] = absolute
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
