"""Outgoing webhooks: where a URL may point (SSRF) and each endpoint's circuit breaker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest

from notifications import breaker
from notifications.breaker import BreakerPolicy, Endpoint
from notifications.channels import DeliveryFailed, Outgoing, Undeliverable, WebhookChannel
from notifications.rendering import Message
from notifications.webhook_urls import (
    UnsafeWebhookUrl,
    check_url,
    host_header,
    pinned_url,
    resolve_checked,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failures_to_open=3, cooldown=timedelta(seconds=30),
                       max_cooldown=timedelta(minutes=5), disable_after=timedelta(hours=24))


def code_of(url: str, dev: bool = False) -> str:
    with pytest.raises(UnsafeWebhookUrl) as refused:
        check_url(url, dev=dev)
    return refused.value.code


@pytest.mark.parametrize(("url", "code"), [
    ("http://hooks.example.com/in", "webhook.https_required"),
    ("https://user:secret@hooks.example.com/in", "webhook.credentials_in_url"),
    ("https://token@hooks.example.com/in", "webhook.credentials_in_url"),
    ("https://127.0.0.1/in", "webhook.forbidden_address"),
    ("https://10.1.2.3/in", "webhook.forbidden_address"),
    ("https://192.168.0.10:8443/in", "webhook.forbidden_address"),
    ("https://169.254.169.254/latest/meta-data", "webhook.forbidden_address"),
    ("https://100.100.100.200/", "webhook.forbidden_address"),  # shared space (metadata)
    ("https://[::1]/in", "webhook.forbidden_address"),
    ("https://[fd00:ec2::254]/", "webhook.forbidden_address"),
    ("https://[::ffff:127.0.0.1]/in", "webhook.forbidden_address"),
    ("https://0.0.0.0/in", "webhook.forbidden_address"),
    ("https://localhost/in", "webhook.forbidden_address"),
    ("https://metadata.google.internal/", "webhook.forbidden_address"),
    ("ftp://hooks.example.com/in", "webhook.invalid_url"),
    ("https:///in", "webhook.invalid_url"),
    ("https://hooks.example.com:99999/in", "webhook.invalid_url"),
])
def test_refused_urls_outside_dev(url: str, code: str) -> None:
    assert code_of(url) == code


def test_dev_allows_http_and_local_receivers_but_never_credentials() -> None:
    assert check_url("http://127.0.0.1:9/in", dev=True).port == 9
    assert check_url("http://localhost/in", dev=True).host == "localhost"
    assert code_of("http://a:b@127.0.0.1/in", dev=True) == "webhook.credentials_in_url"


def test_a_public_https_url_passes() -> None:
    target = check_url("https://hooks.example.com/in?x=1", dev=False)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)


def resolver(*answers: str):
    async def resolve(host: str, port: int) -> list[str]:
        if not answers:
            raise OSError("Name or service not known")
        return list(answers)
    return resolve


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    target = check_url("https://rebind.example.com/in", dev=False)
    with pytest.raises(UnsafeWebhookUrl) as refused:
        asyncio.run(resolve_checked(target, dev=False,
                                    resolver=resolver("93.184.216.34", "10.0.0.5")))
    assert refused.value.code == "webhook.forbidden_address"
    with pytest.raises(UnsafeWebhookUrl) as unknown:
        asyncio.run(resolve_checked(target, dev=False, resolver=resolver()))
    assert unknown.value.code == "webhook.unresolvable"
    found = asyncio.run(resolve_checked(target, dev=False, resolver=resolver("93.184.216.34")))
    assert found == [ip_address("93.184.216.34")]


def test_the_request_goes_to_the_checked_address_with_the_host_kept() -> None:
    target = check_url("https://hooks.example.com:8443/in?x=1", dev=False)
    assert pinned_url(target, ip_address("93.184.216.34")) == "https://93.184.216.34:8443/in?x=1"
    assert pinned_url(target, ip_address("2606:2800::1")) == "https://[2606:2800::1]:8443/in?x=1"
    assert host_header(target) == "hooks.example.com:8443"
    assert host_header(check_url("https://hooks.example.com/in", dev=False)) == \
        "hooks.example.com"


def outgoing(url: str) -> Outgoing:
    return Outgoing("n-1", url, Message("en", "subject", "text", "<p>html</p>"), "",
                    {"X-SmartCourse-Webhook": "00000000-0000-0000-0000-000000000001"})


def test_delivery_checks_the_address_it_connects_to_dns_rebinding() -> None:
    """Registered while the name pointed to a public address; now it answers 127.0.0.1:
    the delivery is refused before any connection (no retry helps)."""
    channel = WebhookChannel(lambda hook: "secret", dev=False,
                             resolver=resolver("127.0.0.1"))
    with pytest.raises(Undeliverable, match="webhook.forbidden_address"):
        asyncio.run(channel.send(outgoing("https://rebind.example.com/in")))
    gone = WebhookChannel(lambda hook: "secret", dev=False, resolver=resolver())
    with pytest.raises(DeliveryFailed, match="does not resolve"):
        asyncio.run(gone.send(outgoing("https://gone.example.com/in")))
    with pytest.raises(Undeliverable, match="webhook.https_required"):
        asyncio.run(gone.send(outgoing("http://hooks.example.com/in")))


# -- the circuit breaker ---------------------------------------------------------------------
def fail(endpoint: Endpoint, at: datetime, times: int = 1) -> Endpoint:
    for _ in range(times):
        endpoint = breaker.failed(endpoint, "ConnectError: refused", at, POLICY)
    return endpoint


def test_consecutive_failures_open_the_circuit_and_deliveries_wait() -> None:
    closed = fail(Endpoint(), T0, 2)
    assert (closed.state, closed.failures, breaker.admits(closed, T0)) == ("CLOSED", 2, "try")
    opened = fail(closed, T0)
    assert opened.state == "OPEN" and opened.retry_at == T0 + timedelta(seconds=30)
    assert breaker.admits(opened, T0 + timedelta(seconds=29)) == "wait"
    assert breaker.admits(opened, T0 + timedelta(seconds=30)) == "probe"


def test_a_success_in_between_resets_the_count() -> None:
    endpoint = breaker.succeeded(fail(Endpoint(), T0, 2), T0)
    assert fail(endpoint, T0, 2).state == "CLOSED"


def test_the_probe_closes_on_success_and_reopens_longer_on_failure() -> None:
    opened = fail(Endpoint(), T0, 3)
    probe_at = T0 + timedelta(seconds=30)
    probing = breaker.probing(opened, probe_at, timedelta(seconds=30))
    assert probing.state == "HALF_OPEN"
    assert breaker.admits(probing, probe_at) == "wait"  # one probe at a time
    again = fail(probing, probe_at)
    assert again.state == "OPEN" and again.retry_at == probe_at + timedelta(seconds=60)
    closed = breaker.succeeded(breaker.probing(again, probe_at, timedelta(seconds=30)), probe_at)
    assert (closed.state, closed.failures, closed.failing_since) == ("CLOSED", 0, None)
    assert closed.last_error == "ConnectError: refused"  # still shown


def test_the_cooldown_doubles_up_to_its_cap() -> None:
    assert [POLICY.cooldown_after(n).total_seconds() for n in (1, 2, 3, 4, 5, 9)] == [
        30, 60, 120, 240, 300, 300]


def test_an_endpoint_failing_for_long_is_disabled_and_stays_off_until_enabled() -> None:
    endpoint = fail(Endpoint(), T0, 3)
    later = T0 + timedelta(hours=23)
    endpoint = fail(breaker.probing(endpoint, later, timedelta(seconds=30)), later)
    assert endpoint.state == "OPEN"  # failing, but not yet for a day
    day = T0 + timedelta(hours=24)
    disabled = fail(breaker.probing(endpoint, day, timedelta(seconds=30)), day)
    assert disabled.state == "DISABLED" and breaker.admits(disabled, day + timedelta(days=9)) \
        == "disabled"
    assert breaker.succeeded(disabled, day).state == "DISABLED"  # a late reply changes nothing
    back = breaker.enabled(disabled)
    assert (back.state, back.failures, breaker.admits(back, day)) == ("CLOSED", 0, "try")


def test_a_disabled_webhook_gets_no_new_notifications_until_enabled() -> None:
    from uuid import uuid4

    from notifications.domain.webhooks import Webhooks

    hooks, bad, good = Webhooks(id=uuid4()), uuid4(), uuid4()
    hooks.register(bad, "https://bad.example.com/in", ["welcome"])
    hooks.register(good, "https://good.example.com/in", ["welcome"])
    hooks.disable(bad, "failed for a day")
    hooks.disable(bad, "again")  # once
    assert [h for h, _ in hooks.subscribed("welcome")] == [good]
    hooks.enable(bad)
    assert {h for h, _ in hooks.subscribed("welcome")} == {bad, good}
    kinds = [type(e).__name__ for e in hooks.collect_events()]
    assert kinds.count("Disabled") == 1 and kinds.count("Enabled") == 1
