"""The operator's console in headless Chromium (Debian `chromium`, driven by Playwright with
`executable_path`: Playwright's own browser download cannot work here), against the platform
running as `smartcourse app up` runs it: an admin signs in with a real account, every page
loads and shows live data, a dead letter is replayed from its page, a non-admin is refused.
Screenshots go to the test's tmp dir; each page's load time is printed (never asserted)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from commands.adapters.avro_contracts import topic_name
from infra.system_packages import ensure_installed
from smartcourse.settings import Settings
from tests.integration.test_dlq import produce_garbage
from tests.integration.test_worker import query, wait_until
from tests.support.command_client import CommandClient

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
PAGES = ("services", "projections", "throughput", "dlq", "workflows", "errors", "analytics")


@pytest.fixture(scope="module")
def browser() -> Any:
    ensure_installed(CHROMIUM, "chromium")  # as a clean CI machine gets it: apt, Debian's
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])  # root in CI
        yield launched
        launched.close()


def urls(settings: Settings) -> tuple[str, str]:
    return (f"http://{settings.host}:{settings.command_api_port}",
            f"http://{settings.host}:{settings.console_port}")


def sign_in(page: Any, console: str, email: str, password: str) -> None:
    page.goto(f"{console}/services")
    assert "/login" in page.url  # no session: to the login form
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def load(page: Any, url: str, shots: Path, name: str, timings: dict[str, float]) -> Any:
    reply = page.goto(url)
    assert reply is not None and reply.status == 200, (url, reply and reply.status)
    timings[name] = page.evaluate(
        "performance.getEntriesByType('navigation')[0].duration")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    return reply


def test_an_admin_watches_the_platform_and_replays_a_dead_letter(
        app_processes: Settings, browser: Any, tmp_path: Path) -> None:
    settings = app_processes
    writes, console = urls(settings)
    admin = CommandClient(writes, role="admin")
    instructor = CommandClient(writes, role="instructor")
    student = CommandClient(writes)
    course_id, _ = instructor.published_course()
    enrolled = student.post(f"/courses/{course_id}/enroll")
    assert enrolled.status_code == 202, enrolled.text
    refused = admin.post("/courses", {"title": ""})  # a 4xx: a warning with its trace id
    assert refused.status_code == 422
    # A poison message on the course's key parks the course in the live projections.
    produce_garbage(settings, topic_name("course", settings.worker_topic_prefix),
                    UUID(course_id))

    def waiting() -> list[tuple[Any, ...]]:
        return query(settings, "SELECT id, projection FROM read_models.dead_letters WHERE "
                     "aggregate_id = %s AND replayed_at IS NULL ORDER BY id", [course_id])

    wait_until(lambda: bool(waiting()), "the poison message's dead letter", 120, 0.5)
    letter_id, projection = waiting()[0]

    context = browser.new_context()
    page = context.new_page()
    timings: dict[str, float] = {}
    sign_in(page, console, admin.login.email, admin.login.password)
    page.wait_for_url(f"{console}/services")
    session = next(c for c in context.cookies() if c["name"] == "smartcourse_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    for name in PAGES:
        load(page, f"{console}/{name}", tmp_path, name, timings)

    # Live data on each page.
    load(page, f"{console}/services", tmp_path, "services", timings)
    for process in ("command-api", "query-api", "relay", "worker", "console"):
        row = page.locator("#processes tr", has_text=process).first
        assert "ready" in row.inner_text()
    assert "postgres" in page.locator("#services").inner_text()
    load(page, f"{console}/projections", tmp_path, "projections", timings)
    head = int(page.inner_text("#head"))
    assert head >= int(query(settings, "SELECT max(position) FROM event_store.events "
                                       "WHERE aggregate_id = %s", [course_id])[0][0])
    assert "course_catalog" in page.inner_text("#projections")
    assert settings.worker_app_id in page.inner_text("#consumer-lag")
    load(page, f"{console}/throughput", tmp_path, "throughput", timings)
    assert "course.published" in page.inner_text("#by-type")
    assert page.locator("#events-chart svg rect").count() > 0
    load(page, f"{console}/workflows?kind=publishing", tmp_path, "workflows", timings)
    assert course_id in page.inner_text("#workflows")
    load(page, f"{console}/errors?process=command-api", tmp_path, "errors", timings)
    traces = page.locator("#errors a.trace")
    assert traces.count() > 0
    assert traces.first.get_attribute("href").startswith(f"{settings.zipkin_url}/zipkin/traces/")

    def enrollment_in_analytics() -> bool:
        page.goto(f"{console}/analytics")
        return course_id in page.inner_text("#anomalies")

    wait_until(enrollment_in_analytics, "the enrollment in the analytics page", 120, 2)
    load(page, f"{console}/analytics", tmp_path, "analytics", timings)
    assert page.locator("#trend-chart svg rect").count() > 0

    # The dead letter: listed, inspected, replayed from its page.
    load(page, f"{console}/dlq", tmp_path, "dlq", timings)
    page.click(f"#letters a[href='/dlq/{letter_id}']")
    page.wait_for_url(f"{console}/dlq/{letter_id}")
    assert projection in page.inner_text("#letter")
    assert "undecodable" in page.inner_text("#event")  # the garbage cannot be read
    page.screenshot(path=str(tmp_path / "letter.png"), full_page=True)
    page.click("#replay")
    page.wait_for_url(f"{console}/dlq/{letter_id}?*")
    assert "replayed letters" in page.inner_text("#message"), page.content()
    assert "ok" in page.inner_text("#message")
    page.screenshot(path=str(tmp_path / "replayed.png"), full_page=True)
    replayed = query(settings, "SELECT replayed_at FROM read_models.dead_letters "
                               "WHERE id = %s", [letter_id])
    assert replayed[0][0] is not None
    assert "Replayed at" in page.inner_text("#state")
    context.close()

    print("\nconsole page load times in headless Chromium (navigation duration, ms):")
    for name, ms in timings.items():
        print(f"  {name:12s} {ms:8.1f}")
    print(f"screenshots: {tmp_path}")
    assert all((tmp_path / f"{name}.png").stat().st_size > 0 for name in PAGES)


def test_a_non_admin_is_refused_and_forms_need_the_csrf_token(
        app_processes: Settings, browser: Any, tmp_path: Path) -> None:
    writes, console = urls(app_processes)
    student = CommandClient(writes)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, console, student.login.email, student.login.password)
    page.wait_for_load_state()
    assert "admins" in page.inner_text("#reason")
    page.screenshot(path=str(tmp_path / "refused.png"))
    assert not [c for c in context.cookies() if c["name"] == "smartcourse_console"]
    reply = page.goto(f"{console}/dlq")
    assert "/login" in page.url and reply is not None and reply.status == 200
    context.close()

    # A wrong password is refused on the form, and nothing is set.
    with httpx.Client(base_url=console, timeout=30) as http:
        form = http.get("/login")
        nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
        wrong = http.post("/login", data={"username": student.login.email,
                                          "password": "not-it", "nonce": nonce})
        assert wrong.status_code == 401 and "smartcourse_console" not in wrong.cookies
        # An admin's session without the form's CSRF token acts on nothing.
        admin = CommandClient(writes, role="admin")
        http.cookies.set("smartcourse_console", admin.login.access_token)
        assert http.get("/dlq").status_code == 200
        forged = http.post("/dlq/1/replay", data={"csrf": "forged"})
        assert forged.status_code == 403 and "CSRF" in forged.text


def test_retry_redelivers_the_stored_event_and_refuses_a_run_that_is_not_stuck(
        app_processes: Settings) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from confluent_kafka import Consumer, TopicPartition
    from psycopg import AsyncConnection

    from operations.console import actions

    settings = app_processes
    writes, _ = urls(settings)
    instructor = CommandClient(writes, role="instructor")
    course_id, _ = instructor.published_course()
    topic = topic_name("course", settings.worker_topic_prefix)
    (workflow_id,), = query(settings, "SELECT (payload->>'workflow_id')::uuid FROM "
                                      "event_store.events WHERE aggregate_id = %s AND "
                                      "event_type = 'course.published'", [course_id])
    (position, encoded, event_id), = query(
        settings, "SELECT position, encoded, event_id::text FROM event_store.events WHERE "
                  "aggregate_id = %s ORDER BY version LIMIT 1", [course_id])
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"console-test-{course_id}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = [TopicPartition(topic, p, consumer.get_watermark_offsets(
        TopicPartition(topic, p), timeout=10)[1]) for p in partitions]

    async def act() -> Any:
        async with await AsyncConnection.connect(settings.pg_dsn, autocommit=True) as conn:
            with pytest.raises(actions.ActionRefused) as refused:
                await actions.retry_publishing(conn, settings, workflow_id)
            assert refused.value.code == "workflow.not_stuck"  # just started: nothing sent
            with pytest.raises(actions.ActionRefused):
                await actions.retry_enrollment(conn, settings, UUID(course_id))
            return await actions.redeliver(conn, settings, position)

    with ThreadPoolExecutor(1) as own_loop:  # the browser fixture keeps a loop running here
        done = own_loop.submit(asyncio.run, act()).result()
    assert done.topic == topic and done.position == position
    consumer.assign(ends)
    found = None
    deadline = time.monotonic() + 60
    while found is None and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is not None and not message.error() and message.key() == course_id.encode():
            found = message
    consumer.close()
    assert found is not None, "the redelivered event did not reach its topic"
    assert found.value() == bytes(encoded)  # as the relay sent it: the stored Avro bytes
    assert dict(found.headers())["event_id"] == event_id.encode()
