"""The enrollment workflow through the running platform: enroll, and with no other client
call the enrollment becomes ACTIVE and the welcome email reaches Mailpit (real SMTP); an
unsubscribed student gets no email (a `notification.suppressed` receipt instead); a
completed enrollment earns a certificate anyone can verify and download as a PDF."""

from __future__ import annotations

import io
import time
from uuid import uuid4

import httpx
import psycopg
import pytest
from pypdf import PdfReader

from smartcourse.settings import Settings
from tests.support.command_client import CommandClient
from tests.support.mailpit import Mailbox

pytestmark = pytest.mark.e2e


def registered_student(writes: str, name: str) -> tuple[CommandClient, str]:
    student = CommandClient(writes, display_name=name)  # registered with its own email
    return student, student.login.email


def wait_for_state(reads: str, client: CommandClient, enrollment: str, state: str,
                   timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(f"{reads}/enrollments/{enrollment}", headers=client.headers)
        if reply.status_code == 200 and reply.json()["state"] == state:
            return reply.json()
        assert time.monotonic() < deadline, f"not {state}: {reply.text}"
        time.sleep(0.3)  # polling the asynchronous workflow, bounded by the deadline


def receipts(settings: Settings, user_id: object) -> list[str]:
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT e.event_type FROM event_store.events e WHERE e.aggregate_type ="
            " 'notification' AND e.aggregate_id IN (SELECT aggregate_id FROM"
            " event_store.events WHERE event_type = 'notification.requested'"
            " AND payload->>'user_id' = %s) ORDER BY e.position", [str(user_id)]).fetchall()
    return [r[0] for r in rows]


def test_enroll_activates_and_welcomes_with_no_client_call(app_processes: Settings) -> None:
    s = app_processes
    writes = f"http://{s.host}:{s.command_api_port}"
    reads = f"http://{s.host}:{s.query_api_port}"
    instructor = CommandClient(writes, role="instructor")
    course_id, lessons = instructor.published_course(lessons=2)
    student, email = registered_student(writes, "Ada Lovelace")

    enrolled = student.post(f"/courses/{course_id}/enroll")
    assert enrolled.status_code == 202, enrolled.text
    enrollment = enrolled.json()["enrollment_id"]

    assert wait_for_state(reads, student, enrollment, "ACTIVE")["enrollment_id"] == enrollment
    (mail,) = Mailbox(s.mailpit_url).wait_for(email)
    assert mail["Subject"] == "Welcome to Course"
    assert [to["Address"] for to in mail["To"]] == [email]
    body = Mailbox(s.mailpit_url).message(mail["ID"])
    assert f"/courses/{course_id}" in body["Text"] and "unsubscribe?token=" in body["Text"]
    progress = httpx.get(f"{reads}/enrollments/{enrollment}/progress",
                         headers=student.headers).json()
    assert [lesson["status"] for lesson in progress["lessons"]] == ["NOT_STARTED"] * 2

    # Completing every lesson completes the enrollment and issues a certificate.
    for lesson in lessons:
        done = student.post(f"/enrollments/{enrollment}/lessons/{lesson}/complete")
        assert done.status_code == 200, done.text
    assert done.json()["state"] == "COMPLETED"
    (certificate_mail,) = [m for m in Mailbox(s.mailpit_url).wait_for(email, 2)
                           if m["Subject"].startswith("Your certificate")]
    text = Mailbox(s.mailpit_url).message(certificate_mail["ID"])["Text"]
    certificate_id = text.split("Your certificate ")[1].split()[0]
    verified = httpx.get(f"{reads}/certificates/{certificate_id}")  # public: no token
    assert verified.status_code == 200, verified.text
    assert (verified.json()["student_name"], verified.json()["course_id"]) == (
        "Ada Lovelace", course_id)
    pdf = httpx.get(f"{reads}/certificates/{certificate_id}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    page = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Ada Lovelace" in page and "Course" in page and certificate_id in page
    assert httpx.get(f"{reads}/certificates/{uuid4()}").status_code == 404


def test_an_unsubscribed_student_gets_no_welcome(app_processes: Settings) -> None:
    s = app_processes
    writes = f"http://{s.host}:{s.command_api_port}"
    reads = f"http://{s.host}:{s.query_api_port}"
    instructor = CommandClient(writes, role="instructor")
    first, _ = instructor.published_course(lessons=1)
    second, _ = instructor.published_course(lessons=1)
    student, email = registered_student(writes, "Grace Hopper")
    enrollment = student.post(f"/courses/{first}/enroll").json()["enrollment_id"]
    (welcome,) = Mailbox(s.mailpit_url).wait_for(email)
    link = Mailbox(s.mailpit_url).message(welcome["ID"])["Text"].split(
        "Stop receiving these messages: ")[1].split()[0]

    assert httpx.get(link).status_code == 200  # one click, no sign-in
    assert httpx.get(link.replace("token=", "token=x")).status_code == 422
    later = student.post(f"/courses/{second}/enroll").json()["enrollment_id"]

    wait_for_state(reads, student, later, "ACTIVE")
    deadline = time.monotonic() + 60
    while receipts(s, student.user_id).count("notification.suppressed") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.3)  # polling the asynchronous workflow, bounded by the deadline
    assert receipts(s, student.user_id).count("notification.sent") == 1
    assert len(Mailbox(s.mailpit_url).to(email)) == 1
    assert wait_for_state(reads, student, enrollment, "ACTIVE")
