"""Webhooks: the outgoing webhook URLs admins registered, and which templates each gets.

One registry aggregate for the platform (registrations are rare, and a notification request
reads the registry in the same transaction that records its notifications). Each webhook's
signing secret is derived from the platform's secret and the webhook id
(`notifications.links.webhook_secret`) and shown once at registration: no secret is stored.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot
from commands.domain.errors import NotFound
from commands.domain.ids import NAMESPACE

REGISTRY_ID = uuid5(NAMESPACE, "webhooks")


class Webhooks(AggregateRoot):
    type_name = "webhooks"

    @event("Created")
    def __init__(self, id: UUID) -> None:  # noqa: A002
        self.hooks: dict[UUID, tuple[str, tuple[str, ...]]] = {}
        self.disabled: dict[UUID, str] = {}  # webhook id -> why

    def register(self, webhook_id: UUID, url: str, templates: list[str]) -> None:
        if self.hooks.get(webhook_id) == (url, tuple(templates)):
            return
        self._registered(webhook_id=webhook_id, url=url, templates=templates)

    @event("Registered")
    def _registered(self, webhook_id: UUID, url: str, templates: list[str]) -> None:
        self.hooks = {**self.hooks, webhook_id: (url, tuple(templates))}

    def remove(self, webhook_id: UUID) -> None:
        if webhook_id not in self.hooks:
            raise NotFound("no such webhook", "webhook.not_found")
        self._removed(webhook_id=webhook_id)

    @event("Removed")
    def _removed(self, webhook_id: UUID) -> None:
        self.hooks = {k: v for k, v in self.hooks.items() if k != webhook_id}
        self.disabled = {k: v for k, v in getattr(self, "disabled", {}).items()
                         if k != webhook_id}

    def disable(self, webhook_id: UUID, reason: str) -> None:
        """No notification names it until it is enabled again (a no-op if off already)."""
        if webhook_id not in self.hooks:
            raise NotFound("no such webhook", "webhook.not_found")
        if webhook_id not in self.disabled:
            self._disabled(webhook_id=webhook_id, reason=reason)

    @event("Disabled")
    def _disabled(self, webhook_id: UUID, reason: str) -> None:
        self.disabled = {**getattr(self, "disabled", {}), webhook_id: reason}

    def enable(self, webhook_id: UUID) -> None:
        if webhook_id not in self.hooks:
            raise NotFound("no such webhook", "webhook.not_found")
        if webhook_id in getattr(self, "disabled", {}):
            self._enabled(webhook_id=webhook_id)

    @event("Enabled")
    def _enabled(self, webhook_id: UUID) -> None:
        self.disabled = {k: v for k, v in self.disabled.items() if k != webhook_id}

    def subscribed(self, template: str) -> list[tuple[UUID, str]]:
        off = getattr(self, "disabled", {})
        return [(hid, url) for hid, (url, templates) in sorted(self.hooks.items())
                if template in templates and hid not in off]
