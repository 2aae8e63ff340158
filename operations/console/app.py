"""The operator's console: a FastAPI process of its own (`smartcourse console`), pages
rendered on the server with Jinja2, admins only (operations/console/auth.py).

Its own process, not the query API's: replaying a dead letter and retrying a workflow read
the event store, which the query API never does, and an operator page must stay up when the
read side is what is broken (docs/adr/0035)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import httpx
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from psycopg_pool import AsyncConnectionPool

from commands.domain.errors import Forbidden
from identity.actor import Actor
from identity.http import errors as envelope
from identity.http import hygiene
from operations.console import actions, auth, charts, sources
from smartcourse.bootstrap import identity_for_reads, open_keyring
from smartcourse.observability import api as observed
from smartcourse.observability.health import DegradedModes, Readiness, check_async
from smartcourse.settings import Settings
from streams import dead_letters
from streams.redrive import NothingToReplay

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
CSP = (b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       b"frame-ancestors 'none'; base-uri 'none'")
PAGES = [("services", "Health"), ("projections", "Projections"), ("throughput", "Throughput"),
         ("dlq", "Dead letters"), ("workflows", "Workflows"), ("errors", "Errors"),
         ("analytics", "Analytics")]


class Session:
    """The signed-in admin of a request: actor, access token, the forms' CSRF token."""

    def __init__(self, actor: Actor, token: str) -> None:
        self.actor, self.token, self.csrf = actor, token, auth.csrf_token(token)


async def session(request: Request) -> Session:
    try:
        actor, token = await auth.admin_of(request)
    except Forbidden as error:  # a deactivated account
        raise auth.AdminsOnly() from error
    return Session(actor, token)


Admin = Annotated[Session, Depends(session)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = open_keyring(settings)
    secure_cookies = not settings.is_dev  # dev serves plain http on loopback

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(settings.pg_dsn, min_size=1, max_size=4, open=False,
                                   kwargs={"autocommit": True})
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await dead_letters.ensure_dead_letters(conn)
        app.state.pool = pool
        app.state.identity = identity_for_reads(settings, keyring, pool)
        app.state.http = httpx.AsyncClient()
        try:
            yield
        finally:
            await app.state.http.aclose()
            await pool.close()

    app = FastAPI(title="SmartCourse operator's console", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings

    @app.middleware("http")
    async def console_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("content-security-policy", CSP.decode())
        response.headers.setdefault("cache-control", "no-store")
        return response

    envelope.install(app)
    hygiene.install(app, [], settings.max_request_bytes)

    def page(request: Request, name: str, admin: Session | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, f"{name}.html", {
            "pages": PAGES, "current": name, "admin": admin, "settings": settings,
            "message": request.query_params.get("message"),
            "problem": request.query_params.get("problem"), **context}, status_code=status)

    @app.exception_handler(auth.LoginRequired)
    async def to_login(request: Request, _: Exception) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(auth.AdminsOnly)
    async def admins_only(request: Request, _: Exception) -> HTMLResponse:
        return page(request, "refused", None, 403,
                    reason="The console is for admins; this account is not one.")

    @app.exception_handler(auth.CsrfRefused)
    async def csrf_refused(request: Request, _: Exception) -> HTMLResponse:
        return page(request, "refused", None, 403,
                    reason="The form did not carry this session's CSRF token.")

    # -- login --------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
        nonce = auth.login_nonce()
        response = page(request, "login", None, nonce=nonce, next=_local(next))
        response.set_cookie(auth.LOGIN_COOKIE, nonce, **auth.cookie_options(secure_cookies, 600))
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request, username: Annotated[str, Form(max_length=320)],
                    password: Annotated[str, Form(max_length=1024)],
                    nonce: Annotated[str, Form()], next: Annotated[str, Form()] = "/",  # noqa: A002
                    ) -> Response:
        if not auth.same(nonce, request.cookies.get(auth.LOGIN_COOKIE)):
            raise auth.CsrfRefused()
        reply = await request.app.state.http.post(
            f"{settings.public_command_url}/auth/token", timeout=15,
            data={"grant_type": "password", "username": username, "password": password})
        if reply.status_code != 200:
            fresh = auth.login_nonce()
            response = page(request, "login", None, 401 if reply.status_code < 500 else 502,
                            nonce=fresh, next=_local(next),
                            failure=_reason(reply, "the login was refused"))
            response.set_cookie(auth.LOGIN_COOKIE, fresh,
                                **auth.cookie_options(secure_cookies, 600))
            return response
        body = reply.json()
        actor = await request.app.state.identity.actor(body["access_token"])
        if not actor.is_admin:
            raise auth.AdminsOnly()
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(auth.SESSION_COOKIE, body["access_token"],
                            **auth.cookie_options(secure_cookies, int(body["expires_in"])))
        response.delete_cookie(auth.LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request, admin: Admin, csrf: Annotated[str, Form()]) -> Response:
        auth.check_csrf(admin.token, csrf)
        await request.app.state.http.post(f"{settings.public_command_url}/auth/logout",
                                          headers={"Authorization": f"Bearer {admin.token}"},
                                          timeout=10)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @app.get("/console.css")
    async def stylesheet() -> Response:
        return Response((HERE / "console.css").read_text(), media_type="text/css",
                        headers={"cache-control": "max-age=300"})

    # -- pages --------------------------------------------------------------------------
    @app.get("/")
    async def home(admin: Admin) -> Response:
        return RedirectResponse("/services", status_code=303)

    @app.get("/services", response_class=HTMLResponse)
    async def services(request: Request, admin: Admin) -> HTMLResponse:
        processes = await sources.process_health(settings, request.app.state.http)
        stack = await sources.service_health(settings)
        return page(request, "services", admin, processes=processes, stack=stack)

    @app.get("/projections", response_class=HTMLResponse)
    async def projections(request: Request, admin: Admin) -> HTMLResponse:
        return page(request, "projections", admin, p=await sources.positions(settings))

    @app.get("/throughput", response_class=HTMLResponse)
    async def throughput(request: Request, admin: Admin,
                         minutes: Annotated[int, Query(ge=5, le=1440)] = 60) -> HTMLResponse:
        async with request.app.state.pool.connection() as conn:
            t = await sources.throughput(conn, settings, request.app.state.http, minutes)
        chart = charts.bars([m.strftime("%H:%M") for m, _ in t.minutes],
                            [charts.Series("events", [n for _, n in t.minutes], "#1f77b4")],
                            f"Events appended per minute, last {minutes} minutes")
        return page(request, "throughput", admin, t=t, chart=chart, minutes=minutes)

    @app.get("/dlq", response_class=HTMLResponse)
    async def dlq(request: Request, admin: Admin, projection: str | None = None,
                  all: bool = False) -> HTMLResponse:  # noqa: A002
        where, params = dead_letters.waiting_filter(projection or None, all)
        async with request.app.state.pool.connection() as conn:
            letters = await dead_letters.fetch(conn, where, params, 200)
        return page(request, "dlq", admin, letters=letters, projection=projection or "",
                    include_replayed=all)

    @app.get("/dlq/{letter_id}", response_class=HTMLResponse)
    async def letter(request: Request, admin: Admin, letter_id: int) -> HTMLResponse:
        async with request.app.state.pool.connection() as conn:
            found = await dead_letters.fetch(conn, "id = %s", [letter_id])
        if not found:
            return page(request, "refused", admin, 404, reason=f"No dead letter {letter_id}.")
        import asyncio

        event = await asyncio.to_thread(dead_letters.decoded, found[0], settings.registry_url)
        return page(request, "letter", admin, letter=found[0], event=event)

    @app.post("/dlq/{letter_id}/replay")
    async def replay(request: Request, admin: Admin, letter_id: int,
                     csrf: Annotated[str, Form()]) -> Response:
        auth.check_csrf(admin.token, csrf)
        try:
            async with request.app.state.pool.connection() as conn:
                done = await actions.replay(conn, settings, letter_id)
        except NothingToReplay as error:
            return _back(f"/dlq/{letter_id}", problem=str(error))
        ids = ", ".join(str(letter.id) for letter in done.letters)
        text = (f"replayed letters {ids}: applied {done.applied}, duplicates "
                f"{done.duplicates}, " + ("ok" if done.ok else
                                          f"failed again: {len(done.failed)} new letters"))
        return _back(f"/dlq/{letter_id}", **({"message": text} if done.ok
                                             else {"problem": text}))

    @app.get("/workflows", response_class=HTMLResponse)
    async def workflows(request: Request, admin: Admin,
                        kind: Annotated[str | None, Query(pattern="^(|publishing|enrollment)$")]
                        = None, state: Annotated[str | None, Query(max_length=64)] = None,
                        stuck: bool = False) -> HTMLResponse:
        async with request.app.state.pool.connection() as conn:
            rows = await sources.workflows(conn, settings, kind or None, state or None, stuck)
        return page(request, "workflows", admin, rows=rows, kind=kind or "",
                    state=state or "", stuck=stuck)

    @app.post("/workflows/{kind}/{workflow_id}/retry")
    async def retry(request: Request, admin: Admin, kind: str, workflow_id: UUID,
                    csrf: Annotated[str, Form()]) -> Response:
        auth.check_csrf(admin.token, csrf)
        retrying = {"publishing": actions.retry_publishing,
                    "enrollment": actions.retry_enrollment}.get(kind)
        if retrying is None:
            return _back("/workflows", problem=f"no workflow kind {kind!r}")
        try:
            async with request.app.state.pool.connection() as conn:
                done = await retrying(conn, settings, workflow_id)
        except actions.ActionRefused as error:
            return _back("/workflows", problem=f"{error.code}: {error.message}")
        return _back("/workflows", message=f"{kind} workflow {workflow_id}: redelivered "
                     f"{done.event_type} (position {done.position}) to {done.topic}")

    @app.post("/workflows/enrollment/{enrollment_id}/cancel")
    async def cancel(request: Request, admin: Admin, enrollment_id: UUID,
                     csrf: Annotated[str, Form()],
                     reason: Annotated[str, Form(max_length=200)] = "") -> Response:
        auth.check_csrf(admin.token, csrf)
        try:
            await actions.cancel_enrollment(request.app.state.http, settings, admin.token,
                                            enrollment_id, reason or "cancelled by an operator")
        except actions.ActionRefused as error:
            return _back("/workflows", problem=f"{error.code}: {error.message}")
        return _back("/workflows", message=f"enrollment {enrollment_id} cancelled")

    @app.post("/workflows/publishing/{workflow_id}/cancel")
    async def cancel_run(request: Request, admin: Admin, workflow_id: UUID,
                         csrf: Annotated[str, Form()],
                         reason: Annotated[str, Form(max_length=200)] = "") -> Response:
        auth.check_csrf(admin.token, csrf)
        try:
            await actions.cancel_publishing(request.app.state.http, settings, admin.token,
                                            workflow_id, reason or "stuck")
        except actions.ActionRefused as error:
            return _back("/workflows", problem=f"{error.code}: {error.message}")
        return _back("/workflows", message=f"publishing run {workflow_id} cancelled; its "
                     "course is a draft again")

    @app.get("/errors", response_class=HTMLResponse)
    async def errors(request: Request, admin: Admin,
                     process: Annotated[str | None, Query(max_length=64)] = None,
                     level: Annotated[str | None, Query(pattern="^(|error|warning)$")] = None
                     ) -> HTMLResponse:
        import asyncio

        from infra.stack import APP_CLASSES

        names = [process] if process in APP_CLASSES else list(APP_CLASSES)
        levels = ("error", "critical") if level == "error" else sources.ERROR_LEVELS
        found = await asyncio.to_thread(sources.recent_errors, settings.data_dir / "logs",
                                        names, 100, levels)
        return page(request, "errors", admin, entries=found, processes=list(APP_CLASSES),
                    process=process or "", level=level or "",
                    zipkin=f"{settings.zipkin_url}/zipkin/traces/")

    @app.get("/analytics", response_class=HTMLResponse)
    async def analytics(request: Request, admin: Admin,
                        day: date | None = None) -> HTMLResponse:
        import asyncio

        judged = day or date.today()
        try:
            a = await asyncio.to_thread(sources.analytics, settings, judged)
        except Exception as error:  # noqa: BLE001 - ClickHouse down: said on the page
            return page(request, "analytics", admin, 503, a=None, day=judged,
                        failure=f"ClickHouse: {type(error).__name__}: {error}"[:400])
        chart = charts.bars([d.strftime("%m-%d") for d, _, _ in a.days], [
            charts.Series("enrollments", [e for _, e, _ in a.days], "#1f77b4"),
            charts.Series("completions", [c for _, _, c in a.days], "#2ca02c")],
            "Enrollments and completions per day, whole platform")
        bands = [charts.band(x.enrollments, x.lower, x.upper,
                             f"{x.enrollments} against {x.lower:.1f}–{x.upper:.1f}",
                             x.is_anomaly)
                 for x in a.anomalies]
        return page(request, "analytics", admin, a=a, chart=chart, day=judged,
                    rows=list(zip(a.anomalies, bands, strict=True)))

    modes = DegradedModes()

    async def readiness(request: Request) -> Readiness:
        async def postgres() -> None:
            async with request.app.state.pool.connection() as conn:
                await conn.execute("SELECT 1")

        return await check_async({"postgres": postgres}, modes)

    observed.install(app, "console", readiness, settings)
    app.state.asdict = dataclasses.asdict
    return app


def _local(target: str) -> str:
    """Only a path of this console (never another site) to go to after the login."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _back(path: str, **query: str) -> RedirectResponse:
    params = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    return RedirectResponse(f"{path}?{params}" if params else path, status_code=303)


def _reason(reply: httpx.Response, fallback: str) -> str:
    try:
        body = reply.json()
    except ValueError:
        return fallback
    if isinstance(body, dict):
        if "error_description" in body:
            return str(body["error_description"])
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("message", fallback))
    return fallback
