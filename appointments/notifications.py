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


def notification_is_current(notification: Notification, *, now: datetime.datetime) -> bool:
    """Return whether the message is still true, for its booking as it is now.

    A cancellation is true once the booking is cancelled. A reminder says "tomorrow":
    true only for a booking still booked on the date it was queued for, on the day
    before (a move to another window of that day keeps it). A confirmation or a move
    notice names the slot the booking had when it was queued: true while the booking is
    active in that slot (so a later move or a cancel supersedes it).
    """
    booking = notification.booking
    Event = Notification.Event
    if notification.event == Event.CANCELLATION:
        return booking.status == Booking.Status.CANCELLED
    if notification.slot is None:  # queued before messages recorded their slot
        return booking.is_active
    if notification.event == Event.REMINDER:
        day = notification.slot.date
        return (
            booking.status == Booking.Status.BOOKED
            and booking.date == day
            and timezone.localdate(now) == day - datetime.timedelta(days=1)
        )
    return booking.is_active and booking.slot_id == notification.slot_id


def notifications_supersede(*, booking: Booking, now: datetime.datetime | None = None) -> int:
    """Mark the booking's pending messages that are no longer true as superseded.

    Call in the transaction that cancels or moves the booking, after the change, so
    the record says at once that they will not be sent. A row a drain holds right now
    is skipped: the drain decided on the booking as it was before this change, and if
    its attempt fails, the next attempt checks again (notification_send).
    """
    now = now or timezone.now()
    pending = (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("slot")
        .filter(booking=booking, status=Notification.Status.PENDING)
    )
    stale = []
    for notification in pending:
        notification.booking = booking
        if not notification_is_current(notification, now=now):
            stale.append(notification.pk)
    if not stale:
        return 0
    return Notification.objects.filter(pk__in=stale).update(status=Notification.Status.SUPERSEDED)


def _render(notification: Notification) -> tuple[str, str]:
    # The booking as it is now: notification_send has checked that it is still what the
    # message is about (the slot it was booked or moved into, or the reminder's day).
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
    sent twice however many workers or retries reach it. A message that is no longer
    true (notification_is_current) is marked superseded instead of being sent.
    """
    now = now or timezone.now()
    error = None
    with transaction.atomic():
        notification = (
            # Lock only the notification: PostgreSQL refuses FOR UPDATE on the nullable
            # side of the outer joins to the resident's user and the booking's slot.
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("booking__resident__user", "booking__office", "booking__slot", "slot")
            .filter(pk=notification_id, status=Notification.Status.PENDING)
            .first()
        )
        if notification is None:
            return False
        if not notification_is_current(notification, now=now):
            notification.status = Notification.Status.SUPERSEDED
            notification.save(update_fields=["status"])
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
    """Record a reminder for every booking of tomorrow; safe to run any number of times.

    The key names the booking and the date, so a booking moved to another day gets a
    reminder for its new date, and never two for one date.
    """
    from .services import notification_queue

    now = now or timezone.now()
    tomorrow = timezone.localdate(now) + datetime.timedelta(days=1)
    queued = 0
    for booking in Booking.objects.filter(date=tomorrow, status=Booking.Status.BOOKED):
        with transaction.atomic():
            if notification_queue(
                booking=booking,
                event=Notification.Event.REMINDER,
                key=f"reminder:{booking.pk}:{tomorrow.isoformat()}",
                now=now,
            ):
                queued += 1
    return queued
