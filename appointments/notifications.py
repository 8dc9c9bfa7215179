"""Delivering outbox messages: rendering, choosing SMS or e-mail, marking sent once."""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from registration import sms

from .models import Booking, Notification

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# What a drain may claim: never sent, or sent without knowing whether it arrived.
RETRIED = (Notification.Status.PENDING, Notification.Status.UNKNOWN)


class DeliveryFailed(Exception):
    """Sending failed or timed out; the notification is retried after its back-off."""


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
    the record says at once that they will not be sent. A row a drain has claimed
    ("sending") or sent without an answer ("unknown") is left alone: the drain decided
    on the booking as it was before this change, and its next attempt checks again
    (notification_send). A drain's claim made while this transaction holds a row waits
    for it, then finds the row superseded.
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
        # The key goes to the gateway as the message id: a retry after a timeout names
        # the same message, and a gateway honouring the contract delivers it once.
        sms.send_sms(phone, text, message_id=notification.key)
    elif user and user.email:
        # A Message-ID that is the same on every retry lets mail systems that drop
        # repeated ids (and readers' clients) show one message.
        message_id = f"<{notification.key.replace(':', '.')}@{DNS_NAME}>"
        EmailMessage(subject, text, None, [user.email], headers={"Message-ID": message_id}).send()
    else:
        raise DeliveryFailed("no phone or e-mail on record")


def notification_send(*, notification_id: int, now: datetime.datetime | None = None) -> bool:
    """Send one due notification; return True if this call sent it.

    The row is claimed by one conditional UPDATE (pending or unknown -> sending,
    committed at once, the healthchecks idiom), so of any number of drains reaching it
    only one calls the gateway, and no transaction or lock is held during the call.
    A message that is no longer true (notification_is_current) is marked superseded
    instead. A timeout or a dropped answer leaves it "unknown": it may have arrived,
    so it is retried with the same message id, which the gateway de-duplicates.
    """
    now = now or timezone.now()
    notification = (
        Notification.objects.select_related(
            "booking__resident__user", "booking__office", "booking__slot", "slot"
        )
        .filter(pk=notification_id, status__in=RETRIED)
        .first()
    )
    if notification is None:
        return False
    seen = Notification.objects.filter(
        pk=notification.pk, status=notification.status, attempts=notification.attempts
    )
    if not notification_is_current(notification, now=now):
        # A cancel or move that commits meanwhile has superseded it already; either way
        # it is not sent. An "unknown" row keeps its last error: it may have arrived.
        seen.update(status=Notification.Status.SUPERSEDED)
        return False
    # The claim. `attempts` in the condition stops a drain that read the row before
    # another drain's failed attempt from sending it again before its back-off.
    if (
        seen.update(status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        != 1
    ):
        return False
    was_unknown = notification.status == Notification.Status.UNKNOWN
    notification.attempts += 1
    try:
        _deliver(notification)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
        error = _error_text(exc)
        if was_unknown or isinstance(exc, sms.SmsOutcomeUnknown | TimeoutError):
            status = Notification.Status.UNKNOWN
        elif notification.attempts >= MAX_ATTEMPTS:
            status = Notification.Status.FAILED
        else:
            status = Notification.Status.PENDING
        # Only our own claim: if the lease ran out and another drain took the row over,
        # its outcome is the one to keep.
        Notification.objects.filter(
            pk=notification.pk, status=Notification.Status.SENDING, claimed_at=now
        ).update(
            status=status,
            last_error=error,
            next_attempt_at=now + backoff(notification.attempts),
        )
        logger.warning("notification %s not sent (%s): %s", notification_id, status, error)
        raise DeliveryFailed(error) from None
    # Sent is true whoever holds the claim now (the same id was used), so it is not
    # conditional on ours; it only never goes back from sent.
    Notification.objects.filter(pk=notification.pk).exclude(status=Notification.Status.SENT).update(
        status=Notification.Status.SENT, sent_at=now, last_error=""
    )
    return True


def notifications_recover(*, now: datetime.datetime | None = None) -> int:
    """Move rows left "sending" longer than the lease to "unknown"; return how many.

    Such a row was claimed by a drain that stopped (a killed worker, a lost database
    connection) between the claim and recording the outcome: the message may have
    arrived, so it is retried with the same message id. Harmless to run any number of times.
    """
    now = now or timezone.now()
    lease = datetime.timedelta(seconds=settings.NOTIFICATION_SENDING_LEASE_SECONDS)
    recovered = Notification.objects.filter(
        status=Notification.Status.SENDING, claimed_at__lt=now - lease
    ).update(
        status=Notification.Status.UNKNOWN,
        next_attempt_at=now,
        last_error="sending stopped before the outcome was recorded",
    )
    if recovered:
        logger.warning("outbox: %s notifications left sending; outcome unknown", recovered)
    return recovered


def _error_text(exc: Exception) -> str:
    """What is kept and logged of a failure: our SMS errors say what went wrong without
    personal data; other messages (an SMTP refusal, say) may quote the address, so only
    their kind is kept."""
    if isinstance(exc, sms.SmsError):
        return f"{exc.__class__.__name__}: {exc}"[:200]
    return exc.__class__.__name__


def backoff(attempts: int) -> datetime.timedelta:
    """Wait 10 s, 20 s, 40 s … (at most 30 minutes) after the n-th failed attempt."""
    return datetime.timedelta(seconds=min(1800, 10 * 2 ** (attempts - 1)))


def pending_ids(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Pending and unknown notifications due now, oldest first.

    An "unknown" row is given up (left unknown, for an admin to read) after
    MAX_ATTEMPTS, like a pending one becomes failed.
    """
    now = now or timezone.now()
    return list(
        Notification.objects.filter(status__in=RETRIED, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_drain(*, now: datetime.datetime | None = None) -> int:
    """Send every notification that is due; return how many were sent. Safe to run at once."""
    notifications_recover(now=now)
    sent = 0
    for pk in pending_ids(now=now):
        try:
            sent += notification_send(notification_id=pk, now=now)
        except DeliveryFailed:
            continue  # recorded on the row, retried after its back-off
        except Exception:  # one broken row must not stop the others being sent
            logger.exception("outbox drain: notification %s raised", pk)
    return sent


def notification_queue(
    *, booking: Booking, event: str, key: str, now: datetime.datetime, new: bool = False
) -> Notification | None:
    """Record a message in the outbox; the drain task sends it after the commit.

    Must run inside the transaction that changes the booking, so that the message
    exists if and only if the change does. A second call with the same key is a no-op;
    ``new=True`` says the key cannot exist yet (a booking created in this transaction),
    which saves a query and a savepoint.
    """
    # The message is about the booking's slot as it is now (notification_send checks
    # that it still is, and renders that slot).
    facts = {"booking": booking, "event": event, "slot_id": booking.slot_id, "created_at": now}
    if new:
        return Notification.objects.create(key=key, **facts)
    notification, created = Notification.objects.get_or_create(key=key, defaults=facts)
    return notification if created else None


def reminders_queue(*, now: datetime.datetime | None = None) -> int:
    """Record a reminder for every booking of tomorrow; safe to run any number of times.

    The key names the booking and the date, so a booking moved to another day gets a
    reminder for its new date, and never two for one date.
    """
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
