"""Every aggregate type and event type of the write model, by public name."""

from __future__ import annotations

from assistant.domain.draft import Draft
from assistant.domain.thread import Thread
from commands.domain.base import AggregateRoot
from commands.domain.certificate import Certificate
from commands.domain.course import Course
from commands.domain.email_claim import EmailClaim
from commands.domain.enrollment import Enrollment
from commands.domain.user import User
from commands.domain.workflow import Workflow
from notifications.domain.notification import Notification
from notifications.domain.preferences import NotificationPreferences
from notifications.domain.webhooks import Webhooks

AGGREGATES: dict[str, type[AggregateRoot]] = {
    cls.type_name: cls for cls in (User, Course, Enrollment, Workflow, Certificate, Notification,
                                   NotificationPreferences, Thread, EmailClaim, Webhooks,
                                   Draft)
}

EVENT_CLASSES: dict[str, type] = {
    name: event_class
    for aggregate in AGGREGATES.values()
    for name, event_class in aggregate.event_classes().items()
}

EVENT_TYPES: dict[type, str] = {cls: name for name, cls in EVENT_CLASSES.items()}
