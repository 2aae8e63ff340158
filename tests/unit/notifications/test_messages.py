"""Templates, signed unsubscribe links, the email a channel builds, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
from uuid import uuid4

from notifications.channels import EmailChannel, Outgoing, webhook_signature
from notifications.links import read_unsubscribe_token, unsubscribe_token
from notifications.rendering import render
from notifications.sender import Links

VARIABLES = {"course_title": "Event <sourcing>", "student_name": "Ada", "course_id": "c1",
             "course_url": "http://q/courses/c1", "unsubscribe_url": "http://c/unsubscribe?t=x"}


def test_a_template_renders_text_and_escaped_html_per_locale_with_an_english_fallback() -> None:
    english = render("welcome", "en", VARIABLES)
    german = render("welcome", "de", VARIABLES)
    french = render("welcome", "fr", VARIABLES)

    assert english.subject == "Welcome to Event <sourcing>"
    assert "Event <sourcing>" in english.text and "Event &lt;sourcing&gt;" in english.html
    assert "http://q/courses/c1" in english.text
    assert german.subject.startswith("Willkommen") and german.locale == "de"
    assert (french.locale, french.subject) == ("en", english.subject)


def test_an_unsubscribe_token_names_its_user_and_category_and_resists_tampering() -> None:
    user = uuid4()
    token = unsubscribe_token("secret", user, "reminder")

    assert read_unsubscribe_token("secret", token) == (user, "reminder")
    assert read_unsubscribe_token("other secret", token) is None
    assert read_unsubscribe_token("secret", token[:-2] + "AA") is None
    assert read_unsubscribe_token("secret", "not a token") is None


def test_links_carry_the_course_and_a_genuine_unsubscribe_url() -> None:
    user = uuid4()
    links = Links("secret", "http://q", "http://c")

    variables = links.variables(user, "welcome", {"course_id": "c1"})

    assert variables["course_url"] == "http://q/courses/c1"
    token = variables["unsubscribe_url"].split("token=")[1]
    assert read_unsubscribe_token("secret", token) == (user, "welcome")


def test_the_email_has_both_bodies_a_stable_message_id_and_one_click_unsubscribe() -> None:
    channel = EmailChannel("127.0.0.1", 1025, "SmartCourse <no-reply@x.example>")
    message = render("welcome", "en", VARIABLES)
    nid = str(uuid4())

    mail = channel.build(Outgoing(nid, "ada@example.org", message, "http://c/u?t=1", {}))

    assert mail["To"] == "ada@example.org" and mail["Subject"] == message.subject
    assert nid in mail["Message-ID"]
    assert mail["List-Unsubscribe"] == "<http://c/u?t=1>"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_a_webhook_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a": 1}'

    signature = webhook_signature("s3cret", 1700000000, body)

    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"t=1700000000,v1={expected}"
