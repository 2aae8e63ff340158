"""Channels a notification goes out on. Each `send` returns the provider's id of what it
delivered, or raises `DeliveryFailed` (transient: retried) / `Undeliverable` (never retried).

Email goes over real SMTP (stdlib smtplib on a worker thread; Mailpit locally). The webhook
channel posts a JSON body to a URL an admin registered, signed with HMAC-SHA256 over the
timestamp and body (header `X-SmartCourse-Signature: t=<unix>,v1=<hex>`). SMS or push
providers add a class with the same `send`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Protocol

import httpx

from notifications.rendering import Message
from notifications.webhook_urls import (
    Resolver,
    UnsafeWebhookUrl,
    check_url,
    host_header,
    pinned_url,
    resolve_checked,
    system_resolver,
)


class DeliveryFailed(Exception):
    """Worth another try: the provider was unreachable or said "later"."""


class Undeliverable(Exception):
    """No retry helps (the address is refused, the request is malformed)."""


@dataclass(frozen=True)
class Outgoing:
    notification_id: str
    address: str
    message: Message
    unsubscribe_url: str
    headers: dict[str, str]


class Channel(Protocol):
    name: str

    async def send(self, outgoing: Outgoing) -> str: ...


@dataclass
class EmailChannel:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0
    # A REST API that can say whether a message reached the mailbox (Mailpit's, locally):
    # how an interrupted send is confirmed instead of repeated. Empty: cannot tell.
    lookup_url: str = ""
    name: str = "email"

    def message_id(self, outgoing: Outgoing) -> str:
        return f"<{outgoing.notification_id}@smartcourse.example>"

    async def confirm(self, outgoing: Outgoing) -> str | None:
        """The Message-ID if the message was delivered before, None if not (or unknown)."""
        if not self.lookup_url:
            return None
        message_id = self.message_id(outgoing)
        async with httpx.AsyncClient(base_url=self.lookup_url, timeout=self.timeout) as http:
            try:
                reply = await http.get("/api/v1/search", params={
                    "query": f"message-id:{message_id.strip('<>')}", "limit": 1})
                reply.raise_for_status()
            except httpx.HTTPError as error:
                raise DeliveryFailed(f"cannot confirm an earlier send: {error}") from error
        bare = message_id.strip("<>")  # the search matches substrings: check the very id
        found = any(m.get("MessageID") == bare for m in reply.json().get("messages", []))
        return message_id if found else None

    def build(self, outgoing: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = formataddr(("", outgoing.address))
        mail["Subject"] = outgoing.message.subject
        # A Message-ID derived from the notification: a receiver can drop a duplicate.
        mail["Message-ID"] = self.message_id(outgoing)
        mail["List-Unsubscribe"] = f"<{outgoing.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail["Content-Language"] = outgoing.message.locale
        for name, value in outgoing.headers.items():
            mail[name] = value
        mail.set_content(outgoing.message.text)
        mail.add_alternative(outgoing.message.html, subtype="html")
        return mail

    async def send(self, outgoing: Outgoing) -> str:
        mail = self.build(outgoing)
        await asyncio.to_thread(self._send, mail)
        return str(mail["Message-ID"])

    def _send(self, mail: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as refused:
            raise Undeliverable(f"recipient refused: {refused.recipients}") from refused
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


WEBHOOK_HEADER = "X-SmartCourse-Webhook"


@dataclass
class WebhookChannel:
    """Posts to the registered URL a notification names (its address); 2xx is delivered,
    5xx/429/network errors are retried, other 4xx are not. Signed with the webhook's secret
    (`secret_of(webhook id)`). The URL is checked again on every delivery and the request
    goes to the checked address itself (notifications/webhook_urls.py: a DNS answer that
    changed since the check cannot reach a private address); redirects are not followed,
    and no proxy from the environment is used."""

    secret_of: Callable[[str], str]
    timeout: float = 5.0  # a receiver that takes longer is retried later
    dev: bool = False  # http and private addresses allowed (the local stack)
    resolver: Resolver = system_resolver
    name: str = "webhook"

    async def send(self, outgoing: Outgoing) -> str:
        try:
            target = check_url(outgoing.address, dev=self.dev)
            addresses = await resolve_checked(target, dev=self.dev, resolver=self.resolver)
        except UnsafeWebhookUrl as unsafe:
            if unsafe.code == "webhook.unresolvable":
                raise DeliveryFailed(unsafe.message) from unsafe
            raise Undeliverable(f"{unsafe.code}: {unsafe.message}") from unsafe
        body = json.dumps(self.payload(outgoing), sort_keys=True).encode()
        timestamp = int(time.time())
        secret = self.secret_of(outgoing.headers[WEBHOOK_HEADER])
        headers = {"content-type": "application/json", "host": host_header(target),
                   "X-SmartCourse-Signature": webhook_signature(secret, timestamp, body),
                   "X-SmartCourse-Delivery": outgoing.notification_id}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False,
                                         follow_redirects=False) as client:
                reply = await client.post(pinned_url(target, addresses[0]), content=body,
                                          headers=headers, extensions=extensions)
        except httpx.TransportError as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        if reply.status_code >= 500 or reply.status_code == 429:
            raise DeliveryFailed(f"webhook answered {reply.status_code}")
        if reply.status_code >= 400:
            raise Undeliverable(f"webhook answered {reply.status_code}")
        if 300 <= reply.status_code < 400:
            raise Undeliverable(f"webhook answered {reply.status_code} (redirects are not "
                                "followed)")
        return outgoing.notification_id

    @staticmethod
    def payload(outgoing: Outgoing) -> dict[str, Any]:
        return {"notification_id": outgoing.notification_id,
                "subject": outgoing.message.subject, "text": outgoing.message.text}
