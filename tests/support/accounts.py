"""Real accounts for tests: the operator's admin (created the way `smartcourse users
create-admin` creates it), registrations and password logins through the command API."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx

_lock = threading.Lock()
_admins: dict[str, Login] = {}


@dataclass(frozen=True)
class Login:
    user_id: UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_email(role: str = "user") -> str:
    return f"{role}-{uuid4().hex[:16]}@example.com"


def new_password() -> str:
    return f"pw-{uuid4().hex}"


def login(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post("/auth/token", data={"grant_type": "password", "username": email,
                                          "password": password})


def logged_in(http: httpx.Client, user_id: UUID, email: str, password: str) -> Login:
    reply = login(http, email, password)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return Login(user_id, email, password, body["access_token"], body["refresh_token"])


def register(http: httpx.Client, email: str, password: str, display_name: str = "Test user",
             headers: dict[str, str] | None = None, **extra: object) -> httpx.Response:
    return http.post("/users", json={"display_name": display_name, "email": email,
                                     "password": password, **extra}, headers=headers or {})


def operator_admin(base_url: str) -> Login:
    """One admin per command API for this test process, created as the operator does."""
    with _lock:
        if base_url not in _admins:
            from identity.operators import create_account
            from smartcourse.settings import Settings

            email, password = new_email("admin"), new_password()

            def create() -> UUID:
                import asyncio
                return asyncio.run(create_account(Settings(), email, password,
                                                  "Test admin")).user_id

            with ThreadPoolExecutor(1) as own_loop:  # callers may run inside an event loop
                user_id = own_loop.submit(create).result()
            with httpx.Client(base_url=base_url, timeout=30) as http:
                _admins[base_url] = logged_in(http, user_id, email, password)
        return _admins[base_url]


def account(http: httpx.Client, base_url: str, role: str = "student",
            user_id: UUID | None = None, display_name: str = "Test user",
            email: str | None = None) -> Login:
    """A registered, logged-in account with `role` (staff roles granted by the admin)."""
    email, password = email or new_email(role), new_password()
    admin = operator_admin(base_url) if role != "student" or user_id else None
    extra = {"user_id": str(user_id)} if user_id else {}
    reply = register(http, email, password, display_name,
                     headers=admin.headers if admin else None,
                     role=role if admin else "student", **extra)
    assert reply.status_code == 201, reply.text
    return logged_in(http, UUID(reply.json()["user_id"]), email, password)
