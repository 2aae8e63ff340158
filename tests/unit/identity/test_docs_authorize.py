"""/docs "Authorize" of an API that does not issue tokens points at the command API's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from identity.http.deps import oauth2
from identity.http.docs import point_authorize_at


def test_the_password_flow_gets_the_command_apis_absolute_token_url() -> None:
    app = FastAPI()

    @app.get("/mine")
    async def mine(token: Annotated[str | None, Depends(oauth2)]) -> dict[str, str]:
        return {}

    assert app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"][
        "flows"]["password"]["tokenUrl"] == "/auth/token"  # FastAPI's own: relative
    app.openapi_schema = None
    point_authorize_at(app, "https://writes.example.com/")
    flows = app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "https://writes.example.com/auth/token"
    assert app.openapi() is app.openapi()  # built once, then cached


def test_the_origin_of_a_public_url() -> None:
    from identity.http.docs import origin_of

    assert origin_of("https://reads.example.com:8443/base/") == "https://reads.example.com:8443"
