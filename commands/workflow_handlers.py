"""Handlers of the commands only the platform's workflows send: the enrollment workflow's
steps, durable reminders, certificates and notification receipts. Users reach the
preference commands (unsubscribe, locale) here too: they are the notifications' write side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid5

from commands import messages as m
from commands.domain.certificate import Certificate
from commands.domain.course import Course
from commands.domain.enrollment import COMPLETED, COURSE_START, Enrollment
from commands.domain.errors import Conflict, Forbidden
from commands.domain.ids import certificate_id, preferences_id
from commands.domain.user import User
from commands.unit_of_work import CommandResult, UnitOfWork
from notifications.consent import consent_allows
from notifications.domain.notification import Notification
from notifications.domain.preferences import NotificationPreferences
from notifications.domain.webhooks import REGISTRY_ID as WEBHOOKS
from notifications.domain.webhooks import Webhooks


def _system(actor: m.Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only the platform's workflows send this", "auth.role_required")


async def initialise_progress(cmd: m.InitialiseProgress, actor: m.Actor,
                              uow: UnitOfWork) -> CommandResult:
    _system(actor)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    course = await uow.get(Course, enrollment.course_id)
    enrollment.initialise_progress(course.lesson_ids)
    return await uow.commit(enrollment)


async def schedule_reminder(cmd: m.ScheduleReminder, actor: m.Actor,
                            uow: UnitOfWork) -> CommandResult:
    _system(actor)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    enrollment.schedule_reminder(cmd.reminder_id, cmd.kind, cmd.due_at)
    return await uow.commit(enrollment)


async def schedule_course_start_reminder(cmd: m.ScheduleCourseStartReminder, actor: m.Actor,
                                        uow: UnitOfWork) -> CommandResult:
    """A lead time before the course's current start; nothing when it has none, or when it
    starts no later than `at` (a start already past gets no "starting soon")."""
    _system(actor)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    course = await uow.get(Course, enrollment.course_id)
    starts = getattr(course, "starts_at", None)
    if starts is not None and datetime.fromisoformat(starts) > datetime.fromisoformat(cmd.at):
        due = datetime.fromisoformat(starts) - timedelta(seconds=cmd.lead_seconds)
        enrollment.schedule_reminder(cmd.reminder_id, COURSE_START, due.isoformat())
    return await uow.commit(enrollment)


async def fire_reminder(cmd: m.FireReminder, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    _system(actor)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    kind = next((k for k, (rid, _) in enrollment.reminders.items() if rid == cmd.reminder_id),
                None)
    if kind == COURSE_START:
        course = await uow.get(Course, enrollment.course_id)
        starts = getattr(course, "starts_at", None)
        if starts is None or datetime.fromisoformat(starts) <= datetime.fromisoformat(
                cmd.fired_at):
            raise Conflict("the course has no start ahead: no \"starting soon\" reminder",
                           "reminder.course_started")
    enrollment.fire_reminder(cmd.reminder_id, cmd.fired_at)
    return await uow.commit(enrollment)


async def issue_certificate(cmd: m.IssueCertificate, actor: m.Actor,
                            uow: UnitOfWork) -> CommandResult:
    _system(actor)
    cid = certificate_id(cmd.enrollment_id)
    existing = await uow.find(Certificate, cid)
    if existing is not None:
        return await uow.commit(existing)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    if enrollment.state != COMPLETED:
        raise Conflict("only a completed enrollment earns a certificate",
                       "certificate.not_completed")
    course = await uow.get(Course, enrollment.course_id)
    student = await uow.find(User, enrollment.student_id)
    name = student.display_name if student is not None else f"Student {enrollment.student_id}"
    certificate = Certificate(
        id=cid, enrollment_id=enrollment.id, course_id=course.id,
        student_id=enrollment.student_id, student_name=name, course_title=course.title,
        completed_at=enrollment.modified_on.isoformat())
    uow.add(certificate)
    return await uow.commit(certificate)


async def request_notification(cmd: m.RequestNotification, actor: m.Actor,
                               uow: UnitOfWork) -> CommandResult:
    """Idempotent by id; the request is recorded even when it cannot be sent (suppressed,
    with the reason), so every owed message leaves a receipt."""
    _system(actor)
    existing = await uow.find(Notification, cmd.notification_id)
    if existing is not None:
        return await uow.commit(existing)
    user = await uow.find(User, cmd.user_id)
    preferences = await uow.find(NotificationPreferences, preferences_id(cmd.user_id))
    locale = preferences.locale if preferences is not None else "en"
    notification = Notification(
        id=cmd.notification_id, user_id=cmd.user_id, template=cmd.template,
        channel=cmd.channel, address=user.email if user is not None else "",
        locale=locale, category=cmd.category, variables=dict(cmd.variables))
    if user is None or not user.email:
        notification.suppress("no address known for the user")
    elif preferences is not None and not preferences.allows(cmd.category):
        notification.suppress(f"the user unsubscribed from {cmd.category}")
    elif not consent_allows(cmd.user_id, cmd.category, user):
        notification.suppress("no consent")
    uow.add(notification)
    return await uow.commit(notification)


CATEGORY = {"welcome": "welcome", "reminder": "reminder", "certificate": "certificate",
            "course_starting": "reminder"}


async def notify_about_enrollment(cmd: m.NotifyAboutEnrollment, actor: m.Actor,
                                  uow: UnitOfWork) -> CommandResult:
    _system(actor)
    existing = await uow.find(Notification, cmd.notification_id)
    if existing is not None:
        return await uow.commit(existing)
    enrollment = await uow.get(Enrollment, cmd.enrollment_id)
    course = await uow.get(Course, enrollment.course_id)
    student = await uow.find(User, enrollment.student_id)
    variables = {"course_title": course.title, "course_id": str(course.id),
                 "enrollment_id": str(enrollment.id),
                 "student_name": student.display_name if student is not None else ""}
    if cmd.template == "certificate":
        variables["certificate_id"] = str(certificate_id(enrollment.id))
    if cmd.template == "course_starting" and getattr(course, "starts_at", None):
        starts = datetime.fromisoformat(course.starts_at)
        variables["starts_at"] = starts.isoformat()
        variables["starts_on"] = f"{starts:%Y-%m-%d %H:%M} UTC"
    category = CATEGORY.get(cmd.template, cmd.template)
    webhooks = await uow.find(Webhooks, WEBHOOKS)
    for webhook_id, url in webhooks.subscribed(cmd.template) if webhooks else []:
        uow.add(Notification(
            id=uuid5(cmd.notification_id, f"webhook:{webhook_id}"), user_id=enrollment.student_id,
            template=cmd.template, channel="webhook", address=url, locale="en",
            category=category, variables={**variables, "webhook_id": str(webhook_id)}))
    request = m.RequestNotification(cmd.notification_id, enrollment.student_id, cmd.template,
                                    category, variables)
    return await request_notification(request, actor, uow)


async def register_webhook(cmd: m.RegisterWebhook, actor: m.Actor,
                           uow: UnitOfWork) -> CommandResult:
    if actor.role != "admin" and actor.role != "system":
        raise Forbidden("only admins register webhooks", "auth.role_required")
    registry = await uow.find(Webhooks, WEBHOOKS)
    if registry is None:
        registry = Webhooks(id=WEBHOOKS)
        uow.add(registry)
    registry.register(cmd.webhook_id, cmd.url, list(cmd.templates))
    return await uow.commit(registry)


async def remove_webhook(cmd: m.RemoveWebhook, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    if actor.role != "admin" and actor.role != "system":
        raise Forbidden("only admins remove webhooks", "auth.role_required")
    registry = await uow.get(Webhooks, WEBHOOKS)
    registry.remove(cmd.webhook_id)
    return await uow.commit(registry)


async def disable_webhook(cmd: m.DisableWebhook, actor: m.Actor,
                          uow: UnitOfWork) -> CommandResult:
    _system(actor)
    registry = await uow.get(Webhooks, WEBHOOKS)
    registry.disable(cmd.webhook_id, cmd.reason)
    return await uow.commit(registry)


async def enable_webhook(cmd: m.EnableWebhook, actor: m.Actor,
                         uow: UnitOfWork) -> CommandResult:
    if actor.role != "admin" and actor.role != "system":
        raise Forbidden("only admins enable webhooks", "auth.role_required")
    registry = await uow.get(Webhooks, WEBHOOKS)
    registry.enable(cmd.webhook_id)
    return await uow.commit(registry)


async def record_notification_sent(cmd: m.RecordNotificationSent, actor: m.Actor,
                                   uow: UnitOfWork) -> CommandResult:
    _system(actor)
    notification = await uow.get(Notification, cmd.notification_id)
    notification.record_sent(cmd.attempts, cmd.provider_id)
    return await uow.commit(notification)


async def record_notification_failed(cmd: m.RecordNotificationFailed, actor: m.Actor,
                                     uow: UnitOfWork) -> CommandResult:
    _system(actor)
    notification = await uow.get(Notification, cmd.notification_id)
    notification.record_failed(cmd.attempts, cmd.reason)
    return await uow.commit(notification)


async def _preferences(uow: UnitOfWork, user_id: object, actor: m.Actor
                       ) -> NotificationPreferences:
    if actor.user_id != user_id and not actor.is_admin:
        raise Forbidden("these are another user's preferences", "preferences.not_owner")
    found = await uow.find(NotificationPreferences, preferences_id(user_id))  # type: ignore[arg-type]
    if found is None:
        found = NotificationPreferences(id=preferences_id(user_id), user_id=user_id)  # type: ignore[arg-type]
        uow.add(found)
    return found


async def unsubscribe(cmd: m.Unsubscribe, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    preferences = await _preferences(uow, cmd.user_id, actor)
    preferences.unsubscribe(cmd.category, cmd.via)
    return await uow.commit(preferences)


async def resubscribe(cmd: m.Resubscribe, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    preferences = await _preferences(uow, cmd.user_id, actor)
    preferences.resubscribe(cmd.category)
    return await uow.commit(preferences)


async def choose_locale(cmd: m.ChooseLocale, actor: m.Actor, uow: UnitOfWork) -> CommandResult:
    preferences = await _preferences(uow, cmd.user_id, actor)
    preferences.choose_locale(cmd.locale)
    return await uow.commit(preferences)


HANDLERS = {
    m.InitialiseProgress: initialise_progress,
    m.ScheduleReminder: schedule_reminder,
    m.FireReminder: fire_reminder,
    m.ScheduleCourseStartReminder: schedule_course_start_reminder,
    m.IssueCertificate: issue_certificate,
    m.RequestNotification: request_notification,
    m.NotifyAboutEnrollment: notify_about_enrollment,
    m.RegisterWebhook: register_webhook,
    m.RemoveWebhook: remove_webhook,
    m.DisableWebhook: disable_webhook,
    m.EnableWebhook: enable_webhook,
    m.RecordNotificationSent: record_notification_sent,
    m.RecordNotificationFailed: record_notification_failed,
    m.Unsubscribe: unsubscribe,
    m.Resubscribe: resubscribe,
    m.ChooseLocale: choose_locale,
}
