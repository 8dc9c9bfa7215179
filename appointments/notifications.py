"""Delivering outbox messages: rendering, choosing SMS or e-mail, marking sent once."""

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from registration import sms

from .models import Booking, Notification

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class DeliveryFailed(Exception):
    """Sending failed; the notification stays pending for a retry."""


def _render(notification: Notification) -> tuple[str, str]:
    booking = notification.booking
    context = {"booking": booking, "office": booking.office, "slot": booking.slot}
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(f"notifications/{notification.event}.txt", context).strip()
        subject = render_to_string("notifications/subject.txt", context).strip()
    return subject, text


def _deliver(notification: Notification) -> None:
    booking: Booking = notification.booking
    user = booking.resident.user
    phone = (user.phone if user else "") or booking.resident.phone
    subject, text = _render(notification)
    if phone:
        sms.send_sms(phone, text)
    elif user and user.email:
        send_mail(subject, text, None, [user.email])
    else:
        raise DeliveryFailed("no phone or e-mail on record")


def notification_send(*, notification_id: int, now: datetime.datetime | None = None) -> bool:
    """Send one pending notification; return True if this call sent it.

    The row is locked (SKIP LOCKED) and must still be pending, so a message is not
    sent twice however many workers or retries reach it.
    """
    now = now or timezone.now()
    error = None
    with transaction.atomic():
        notification = (
            # Lock only the notification: PostgreSQL refuses FOR UPDATE on the nullable
            # side of the outer joins to the resident's user and the booking's slot.
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("booking__resident__user", "booking__office", "booking__slot")
            .filter(pk=notification_id, status=Notification.Status.PENDING)
            .first()
        )
        if notification is None:
            return False
        notification.attempts += 1
        try:
            _deliver(notification)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            error = _error_text(exc)
            notification.last_error = error
            notification.next_attempt_at = now + backoff(notification.attempts)
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = Notification.Status.FAILED
            notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = now
            notification.last_error = ""
            notification.save(update_fields=["attempts", "last_error", "status", "sent_at"])
    if error is not None:
        logger.warning("notification %s not sent: %s", notification_id, error)
        raise DeliveryFailed(error)
    return True


def _error_text(exc: Exception) -> str:
    """What is kept and logged of a failure: our SMS errors say what went wrong without
    personal data; other messages (an SMTP refusal, say) may quote the address, so only
    their kind is kept."""
    if isinstance(exc, sms.SmsError):
        return f"SmsError: {exc}"[:200]
    return exc.__class__.__name__


def backoff(attempts: int) -> datetime.timedelta:
    """Wait 10 s, 20 s, 40 s … (at most 30 minutes) after the n-th failed attempt."""
    return datetime.timedelta(seconds=min(1800, 10 * 2 ** (attempts - 1)))


def pending_ids(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Pending notifications due now, oldest first."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(status=Notification.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_drain(*, now: datetime.datetime | None = None) -> int:
    """Send every notification that is due; return how many were sent. Safe to run at once."""
    sent = 0
    for pk in pending_ids(now=now):
        try:
            sent += notification_send(notification_id=pk, now=now)
        except DeliveryFailed:
            continue  # recorded on the row, retried after its back-off
        except Exception:  # one broken row must not stop the others being sent
            logger.exception("outbox drain: notification %s raised", pk)
    return sent


def reminders_queue(*, now: datetime.datetime | None = None) -> int:
    """Record a reminder for every booking of tomorrow; safe to run any number of times."""
    from .services import notification_queue

    now = now or timezone.now()
    tomorrow = timezone.localdate(now) + datetime.timedelta(days=1)
    queued = 0
    for booking in Booking.objects.filter(date=tomorrow, status=Booking.Status.BOOKED):
        with transaction.atomic():
            if notification_queue(
                booking=booking,
                event=Notification.Event.REMINDER,
                key=f"reminder:{booking.pk}",
                now=now,
            ):
                queued += 1
    return queued
