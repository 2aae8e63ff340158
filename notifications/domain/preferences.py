"""NotificationPreferences: which categories of message a user receives, and in what locale.

A user unsubscribes from a category (one click from a message's link) or from everything,
and may subscribe again. Consent (the privacy area's events) is the other gate: the hook
`notifications.consent.consent_allows` is asked beside these preferences before a request.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from commands.domain.base import AggregateRoot

ALL = "all"
CATEGORIES = ("welcome", "reminder", "certificate", ALL)


class NotificationPreferences(AggregateRoot):
    type_name = "notification_preferences"

    @event("Created")
    def __init__(self, id: UUID, user_id: UUID) -> None:  # noqa: A002
        self.user_id = user_id
        self.unsubscribed: frozenset[str] = frozenset()
        self.locale = "en"

    def allows(self, category: str) -> bool:
        return ALL not in self.unsubscribed and category not in self.unsubscribed

    def unsubscribe(self, category: str, via: str) -> None:
        if category not in self.unsubscribed:
            self._unsubscribed(category=category, via=via)

    @event("Unsubscribed")
    def _unsubscribed(self, category: str, via: str) -> None:
        self.unsubscribed = self.unsubscribed | {category}

    def resubscribe(self, category: str) -> None:
        if category in self.unsubscribed:
            self._resubscribed(category=category)

    @event("Resubscribed")
    def _resubscribed(self, category: str) -> None:
        self.unsubscribed = self.unsubscribed - {category}

    def choose_locale(self, locale: str) -> None:
        if locale != self.locale:
            self._locale_chosen(locale=locale)

    @event("LocaleChosen")
    def _locale_chosen(self, locale: str) -> None:
        self.locale = locale
