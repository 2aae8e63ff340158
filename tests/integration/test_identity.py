"""Identity through a real command API and query API: accounts, the registry's role and
state, OAuth2 grants with refresh rotation and reuse detection, revocation, refusals of
unsafe defaults, throttling, and HTTP hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4, uuid5

import httpx
import jwt
import psycopg
import pytest

from bench.accounts import issuer
from identity.http.correlation import NAMESPACE as CORRELATION_NAMESPACE
from smartcourse.local_servers import serve
from smartcourse.settings import Settings
from tests.integration.test_query_api import ReadModels
from tests.support.accounts import login, new_email, new_password, operator_admin, register
from tests.support.command_client import CommandClient


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the defects first -------------------------------------------------------------------------
def test_nobody_mints_an_admin_token(command_api: str) -> None:
    asked = httpx.post(f"{command_api}/auth/token",
                       json={"user_id": str(uuid4()), "role": "admin"})
    stranger = httpx.post(f"{command_api}/auth/dev-token", json={"user_id": str(uuid4())})

    assert asked.status_code in (400, 422) and "access_token" not in asked.text
    assert stranger.status_code == 404  # even in dev: only registered users, with their role
    student = CommandClient(command_api)
    dev = httpx.post(f"{command_api}/auth/dev-token", json={"user_id": str(student.user_id)})
    assert dev.status_code == 200 and dev.json()["role"] == "student"
    refused = httpx.put(f"{command_api}/users/{student.user_id}/role", json={"role": "admin"},
                        headers=bearer(dev.json()["access_token"]))
    assert refused.status_code == 403


def test_a_token_signed_with_the_old_default_secret_is_refused(command_api: str) -> None:
    forged = jwt.encode({"sub": str(uuid4()), "role": "admin", "exp": 2**31},
                        "local-development-only-change-me", algorithm="HS256")

    answer = httpx.post(f"{command_api}/courses", json={"title": "Forged"},
                        headers=bearer(forged))

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "auth.invalid_token"


@pytest.mark.parametrize("command", ["command-api", "query-api"])
def test_servers_refuse_to_start_with_development_keys_outside_dev(
        command: str, stack: Settings) -> None:
    env = {**os.environ, "SMARTCOURSE_ENV": "production"}
    env.pop("SMARTCOURSE_JWT_KEYS_DIR", None)
    no_keys = subprocess.run([sys.executable, "-m", "smartcourse", command, "--port", "1"],
                             env=env, capture_output=True, text=True, timeout=60)
    dev_keys = subprocess.run(
        [sys.executable, "-m", "smartcourse", command, "--port", "1"],
        env={**env, "SMARTCOURSE_JWT_KEYS_DIR": str(stack.data_dir / "identity" / "keys")},
        capture_output=True, text=True, timeout=60)

    assert no_keys.returncode == 2, no_keys.stderr
    assert "refusing to start: no signing keys configured" in no_keys.stderr
    assert dev_keys.returncode == 2, dev_keys.stderr
    assert "development signing keys" in dev_keys.stderr


def test_an_unregistered_identity_neither_writes_nor_reads(command_api: str,
                                                           query_api: str,
                                                           stack: Settings) -> None:
    # A genuine signature (the server's own key) over a user the registry does not know.
    ghost = issuer(stack).issue(uuid4(), "admin", None)
    course = CommandClient(command_api, role="instructor").create_course()

    created = httpx.post(f"{command_api}/courses", json={"title": "Ghost"}, headers=bearer(ghost))
    enrolled = httpx.post(f"{command_api}/courses/{course}/enroll", headers=bearer(ghost))
    read = httpx.get(f"{query_api}/projections", headers=bearer(ghost))

    for answer in (created, enrolled, read):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "auth.unknown_user"


def test_the_role_comes_from_the_registry_not_from_the_token(command_api: str,
                                                             stack: Settings) -> None:
    student = CommandClient(command_api)
    claims_admin = issuer(stack).issue(student.user_id, "admin", None)

    answer = httpx.post(f"{command_api}/courses", json={"title": "Not mine to make"},
                        headers=bearer(claims_admin))

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "auth.role_required"


def test_a_duplicate_email_is_refused_even_concurrently(command_api: str) -> None:
    email = new_email()
    with httpx.Client(base_url=command_api, timeout=60) as http:
        first = register(http, email, new_password())
        again = register(http, email.upper(), new_password())
    twin = new_email()

    def attempt(_: int) -> int:
        with httpx.Client(base_url=command_api, timeout=60) as http:
            return register(http, twin, new_password()).status_code
    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(attempt, range(8)))

    assert first.status_code == 201
    assert (again.status_code, again.json()["error"]["code"]) == (409, "user.email_taken")
    assert statuses == {201: 1, 409: 7}


def test_a_correlation_id_that_is_not_a_uuid_is_accepted(command_api: str,
                                                         stack: Settings) -> None:
    instructor = CommandClient(command_api, role="instructor")

    created = instructor.post("/courses", {"title": "Traced"},
                              **{"X-Correlation-ID": "audit-trace-1"})

    assert created.status_code == 201, created.text
    assert created.headers["X-Correlation-ID"] == "audit-trace-1"
    with psycopg.connect(stack.pg_dsn) as conn:
        stored = conn.execute("SELECT correlation_id FROM event_store.events"
                              " WHERE aggregate_id = %s", [created.json()["course_id"]]).fetchone()
    assert stored[0] == uuid5(CORRELATION_NAMESPACE, "audit-trace-1")
    bad = instructor.post("/courses", {"title": "Traced"}, **{"X-Correlation-ID": "x" * 500})
    assert (bad.status_code, bad.json()["error"]["code"]) == (
        422, "request.invalid_correlation_id")


# -- accounts and the registry -----------------------------------------------------------------
def test_a_deactivated_user_is_refused_everywhere_until_reactivated(
        command_api: str, query_api: str, stack: Settings) -> None:
    ReadModels(stack).catch_up()  # the read this test makes needs the read models to exist
    admin = operator_admin(command_api)
    student = CommandClient(command_api)
    mine = f"{query_api}/students/{student.user_id}/enrollments"
    assert httpx.get(mine, headers=student.headers).status_code == 200

    off = httpx.post(f"{command_api}/users/{student.user_id}/deactivate",
                     json={"reason": "left"}, headers=admin.headers)
    write = student.post("/courses/" + str(uuid4()) + "/enroll")
    read = httpx.get(mine, headers=student.headers)
    relogin = login(student.http, student.login.email, student.login.password)
    refresh = student.http.post("/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": student.login.refresh_token})

    assert off.status_code == 200, off.text
    for answer in (write, read):
        assert (answer.status_code, answer.json()["error"]["code"]) == (
            403, "auth.account_deactivated")
    assert (relogin.status_code, relogin.json()["error"]["oauth_error"]) == (400, "invalid_grant")
    assert refresh.status_code == 400
    on = httpx.post(f"{command_api}/users/{student.user_id}/reactivate", headers=admin.headers)
    assert on.status_code == 200
    assert httpx.get(mine, headers=student.headers).status_code == 200


def test_a_role_granted_by_an_admin_applies_to_the_next_request(command_api: str) -> None:
    admin = operator_admin(command_api)
    person = CommandClient(command_api)
    assert person.post("/courses", {"title": "Too early"}).status_code == 403

    granted = httpx.put(f"{command_api}/users/{person.user_id}/role",
                        json={"role": "instructor"}, headers=admin.headers)

    assert granted.status_code == 200, granted.text
    assert person.post("/courses", {"title": "Now mine"}).status_code == 201


def test_changing_the_password_needs_the_current_one_and_ends_other_logins(
        command_api: str) -> None:
    person = CommandClient(command_api)
    new = new_password()
    wrong = person.put("/users/me/password", {"current_password": "not-the-password-1",
                                               "new_password": new})
    changed = person.put("/users/me/password", {"current_password": person.login.password,
                                                 "new_password": new})
    old_refresh = person.http.post("/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": person.login.refresh_token})

    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "auth.wrong_password")
    assert changed.status_code == 200, changed.text
    assert old_refresh.status_code == 400
    assert login(person.http, person.login.email, person.login.password).status_code == 400
    assert login(person.http, person.login.email, new).status_code == 200


def test_password_hashes_stay_beside_the_store(command_api: str, stack: Settings) -> None:
    person = CommandClient(command_api)
    with psycopg.connect(stack.pg_dsn) as conn:
        stored = conn.execute("SELECT password_hash FROM identity.credentials"
                              " WHERE user_id = %s", [person.user_id]).fetchone()
        leaked = conn.execute("SELECT count(*) FROM event_store.events WHERE payload::text"
                              " LIKE '%%argon2%%' OR payload::text LIKE %s",
                              [f"%{person.login.password}%"]).fetchone()
    assert stored[0].startswith("$argon2id$")
    assert leaked[0] == 0


# -- OAuth2 --------------------------------------------------------------------------------------
def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_login(command_api: str) -> None:
    person = CommandClient(command_api)

    def refresh(token: str) -> httpx.Response:
        return person.http.post("/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": token})
    first = person.login.refresh_token
    second = refresh(first)
    assert second.status_code == 200, second.text
    assert second.headers["Cache-Control"] == "no-store"
    newer = second.json()["refresh_token"]
    assert newer != first and second.json()["token_type"] == "bearer"

    reused = refresh(first)  # a stolen copy of the spent token
    after_theft = refresh(newer)  # the family is revoked: the legitimate client too

    assert (reused.status_code, reused.json()["error"]["oauth_error"]) == (400, "invalid_grant")
    assert after_theft.status_code == 400
    other_login = login(person.http, person.login.email, person.login.password)
    assert refresh(other_login.json()["refresh_token"]).status_code == 200  # other logins live


def test_revocation_and_logout_end_a_login(command_api: str) -> None:
    person = CommandClient(command_api)
    revoked = person.http.post("/auth/revoke", data={"token": person.login.refresh_token,
                                                     "token_type_hint": "refresh_token"})
    unknown = person.http.post("/auth/revoke", data={"token": "never-issued"})
    assert (revoked.status_code, unknown.status_code) == (200, 200)  # RFC 7009 §2.2
    assert person.http.post("/auth/token", data={
        "grant_type": "refresh_token",
        "refresh_token": person.login.refresh_token}).status_code == 400

    second = login(person.http, person.login.email, person.login.password).json()
    out = person.http.post("/auth/logout", headers=bearer(second["access_token"]))
    assert out.status_code == 204
    assert person.http.post("/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": second["refresh_token"]}).status_code == 400


def test_oauth_errors_follow_rfc_6749(command_api: str) -> None:
    unsupported = httpx.post(f"{command_api}/auth/token",
                             data={"grant_type": "client_credentials"})
    wrong = httpx.post(f"{command_api}/auth/token", data={
        "grant_type": "password", "username": new_email(), "password": "whatever-it-is"})

    # The platform's envelope keeps `error` an object; RFC 6749's error code is inside it
    # (`oauth_error`) and its `error_description` beside it (docs/adr/0008).
    assert (unsupported.status_code, unsupported.json()["error"]["oauth_error"]) == (
        400, "unsupported_grant_type")
    assert (wrong.status_code, wrong.json()["error"]["oauth_error"]) == (400, "invalid_grant")
    assert wrong.json()["error_description"]


def test_the_jwks_verifies_an_issued_token(command_api: str) -> None:
    person = CommandClient(command_api)
    keys = httpx.get(f"{command_api}/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(person.login.access_token)["kid"]
    jwk = next(k for k in keys["keys"] if k["kid"] == kid)

    claims = jwt.decode(person.login.access_token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"],
                        audience="smartcourse")

    assert (jwk["kty"], jwk["crv"], claims["sub"]) == ("OKP", "Ed25519", str(person.user_id))
    assert "d" not in jwk  # public part only


# -- throttling and hygiene on a server with tight limits ----------------------------------------
@pytest.fixture(scope="module")
def strict_api(stack: Settings, server_logs: Path):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SMARTCOURSE_LOGIN_LIMIT_PER_IP", "40/minute")
        env.setenv("SMARTCOURSE_LOGIN_LIMIT_PER_ACCOUNT", "5/minute")
        env.setenv("SMARTCOURSE_WRITE_LIMIT_PER_USER", "3/minute")
        env.setenv("SMARTCOURSE_MAX_REQUEST_BYTES", "2048")
        env.setenv("SMARTCOURSE_CORS_ORIGINS", '["https://app.example.com"]')
        with serve("command-api", stack, server_logs) as base_url:
            yield base_url


def test_brute_force_on_one_account_is_throttled_with_retry_after(strict_api: str) -> None:
    email = new_email()
    with httpx.Client(base_url=strict_api, timeout=30) as http:
        assert register(http, email, new_password()).status_code == 201
        answers = [login(http, email, f"wrong-password-{n}") for n in range(7)]

    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    assert answers[-1].json()["error"]["code"] == "auth.too_many_attempts"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_writes_are_throttled_per_user(strict_api: str) -> None:
    person = CommandClient(strict_api)  # its registration is its first write of three
    answers = [person.post(f"/courses/{uuid4()}/enroll") for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [404] * 2
    assert (answers[2].status_code, answers[2].json()["error"]["code"]) == (
        429, "rate_limited.writes")
    assert int(answers[2].headers["Retry-After"]) >= 1
    other = CommandClient(strict_api)  # the limit is per user
    assert other.post(f"/courses/{uuid4()}/enroll").status_code == 404


def test_a_body_over_the_limit_is_refused_before_parsing(strict_api: str) -> None:
    huge = httpx.post(f"{strict_api}/users", content=b"{" + b" " * 5000,
                      headers={"content-type": "application/json"})
    streamed = httpx.post(f"{strict_api}/users", content=iter([b"{", b" " * 5000]),
                          headers={"content-type": "application/json"})

    for answer in (huge, streamed):
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "request.too_large"


def test_security_headers_and_cors_for_allowed_origins_only(strict_api: str) -> None:
    allowed = httpx.options(f"{strict_api}/courses", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    other = httpx.options(f"{strict_api}/courses", headers={
        "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    plain = httpx.get(f"{strict_api}/.well-known/jwks.json")

    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in other.headers
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in plain.headers["content-security-policy"]



def test_the_query_apis_authorize_logs_in_at_the_command_api(
        command_api: str, query_api: str, settings: Settings) -> None:
    spec = httpx.get(f"{query_api}/openapi.json", timeout=30).json()
    flow = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
    assert flow["tokenUrl"] == f"{settings.public_command_url}/auth/token"
    # Swagger UI on the query API's origin posts the login form there: CORS lets it.
    origin = settings.public_query_url
    preflight = httpx.options(f"{command_api}/auth/token", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"}, timeout=30)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    elsewhere = httpx.options(f"{command_api}/auth/token", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=30)
    assert "access-control-allow-origin" not in elsewhere.headers
