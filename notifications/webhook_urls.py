"""Where an outgoing webhook may point (SSRF): checked when an admin registers it, and again
on every delivery against the very address the request is sent to.

- https only, except in the `dev` environment (local receivers speak plain http);
- no credentials in the URL (`https://user:pass@host/`): they would be logged and shown;
- outside `dev`, every address the host resolves to must be a global unicast one: loopback,
  private (RFC 1918, ULA), link-local (the 169.254.169.254 metadata service), shared
  (100.64/10, where some clouds put theirs), multicast, reserved and unspecified are refused,
  also spelled as IPv4-mapped IPv6. A name with one refused address among its answers is
  refused (the client could pick that one).

At delivery the host is resolved once, every answer checked, and the connection made to the
checked address itself (the URL's host kept for the Host header, TLS SNI and certificate
check): a name whose DNS answer changes between check and connect (DNS rebinding) cannot
reach an address the check did not see. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeWebhookUrl(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (a name, or an address without brackets)
    port: int
    url: str


def check_url(url: str, *, dev: bool) -> Target:
    """The URL's own form: scheme, no credentials, a host, and a literal address allowed.
    Raises `UnsafeWebhookUrl` with a stable code."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrl("webhook.invalid_url", f"not a URL: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("webhook.invalid_url", "a webhook URL is http(s)")
    if scheme != "https" and not dev:
        raise UnsafeWebhookUrl("webhook.https_required", "a webhook URL must use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeWebhookUrl("webhook.credentials_in_url",
                               "a webhook URL must not carry credentials; the signature "
                               "(X-SmartCourse-Signature) authenticates the sender")
    host = parts.hostname
    if not host:
        raise UnsafeWebhookUrl("webhook.invalid_url", "a webhook URL names a host")
    literal = _literal(host)
    if literal is not None:
        check_address(literal, dev=dev)
    elif not dev and (host == "localhost" or host.endswith((".localhost", ".local",
                                                              ".internal"))):
        raise UnsafeWebhookUrl("webhook.forbidden_address",
                               f"{host} names a local or internal host")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), url)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def forbidden(address: Address) -> bool:
    """Not a global unicast address (see the module's list)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (not address.is_global or address.is_multicast or address.is_reserved
            or address.is_unspecified or address.is_loopback or address.is_link_local)


def check_address(address: Address, *, dev: bool) -> None:
    if not dev and forbidden(address):
        raise UnsafeWebhookUrl("webhook.forbidden_address",
                               f"{address} is not a public address (loopback, private, "
                               "link-local or metadata addresses are refused)")


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in answers))


async def resolve_checked(target: Target, *, dev: bool,
                          resolver: Resolver = system_resolver) -> list[Address]:
    """Every address the target's host resolves to, each allowed; raises
    `UnsafeWebhookUrl` (`webhook.forbidden_address`, `webhook.unresolvable`)."""
    literal = _literal(target.host)
    if literal is not None:
        check_address(literal, dev=dev)
        return [literal]
    try:
        found = await resolver(target.host, target.port)
    except (OSError, UnicodeError) as error:
        raise UnsafeWebhookUrl("webhook.unresolvable",
                               f"{target.host} does not resolve: {error}") from error
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses:
        raise UnsafeWebhookUrl("webhook.unresolvable", f"{target.host} does not resolve")
    for address in addresses:
        check_address(address, dev=dev)
    return addresses


def pinned_url(target: Target, address: Address) -> str:
    """The target's URL with its host replaced by `address` (path and query kept)."""
    parts = urlsplit(target.url)
    host = f"[{address}]" if address.version == 6 else str(address)
    return parts._replace(netloc=f"{host}:{target.port}").geturl()


def host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
